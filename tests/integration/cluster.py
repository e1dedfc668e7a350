"""A real Castor cluster of castord processes on loopback, for the integration tests.

Nodes are started and stopped by PID (never by name). Ports are picked free by binding port 0;
data directories live under a pytest tmp_path.
"""
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("CASTOR_BUILD_DIR", ROOT / "build"))
sys.path.insert(0, str(ROOT / "chaos"))
os.environ.setdefault("CASTOR_PYTHON_PROTO", str(BUILD / "python"))

from castor_client import Client  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, tmp: pathlib.Path, nodes: int = 3, extra_args=(), env=None):
        self.tmp = tmp
        self.names = [f"n{i}" for i in range(1, nodes + 1)]
        self.client_port = {n: free_port() for n in self.names}
        self.peer_port = {n: free_port() for n in self.names}
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.procs = {}

    @property
    def endpoints(self):
        return [f"127.0.0.1:{self.client_port[n]}" for n in self.names]

    def endpoint(self, name):
        return f"127.0.0.1:{self.client_port[name]}"

    def args(self, name, cluster_id="castor"):
        members = ",".join(f"{n}=127.0.0.1:{self.peer_port[n]}" for n in self.names)
        return [str(BUILD / "tools" / "castord"), "--name", name, "--data-dir", str(self.tmp / name),
                "--listen-client", self.endpoint(name), "--listen-peer", f"127.0.0.1:{self.peer_port[name]}",
                "--initial-cluster", members, "--cluster-id", cluster_id,
                "--heartbeat-ms", "50", "--election-ms", "400"] + self.extra_args

    def start(self, name, env=None):
        log = open(self.tmp / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(self.args(name), stdout=log, stderr=subprocess.STDOUT,
                                            env=dict(self.env, **(env or {})))

    def start_all(self):
        for n in self.names:
            self.start(n)
        return self.wait_for_leader()

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.pop(name)
        p.send_signal(sig)
        p.wait(timeout=10)
        return p.returncode

    def stop_all(self):
        for name in list(self.procs):
            p = self.procs.pop(name)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def status(self, name):
        c = Client([self.endpoint(name)], timeout=1.0)
        try:
            r = c.status(self.endpoint(name))
            return r.response.status if r.ok else None
        finally:
            c.close()

    def leader(self):
        """The name of the node that all running nodes agree leads, or None."""
        seen = set()
        for n in self.procs:
            s = self.status(n)
            if s is None or not s.leader_name:
                return None
            seen.add(s.leader_name)
        return seen.pop() if len(seen) == 1 else None

    def wait_for_leader(self, timeout=10.0, not_name=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            l = self.leader()
            if l and l != not_name:
                return l
            time.sleep(0.05)
        raise AssertionError(f"no leader within {timeout} s")

    def client(self, timeout=5.0):
        return Client(self.endpoints, timeout=timeout)

    def log(self, name):
        return (self.tmp / f"{name}.log").read_text(errors="replace")

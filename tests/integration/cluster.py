"""A real Castor cluster of castord processes on loopback, for the integration tests.

Nodes are started and stopped by PID (never by name). Ports are picked free by binding port 0;
data directories live under a pytest tmp_path. Every node also serves HTTP (docs/HTTP.md) on a
port of its own; http() and raw_http() talk to it with the standard library only.
"""
import contextlib
import http.client
import os
import pathlib
import random
import re
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


@contextlib.contextmanager
def running(cluster):
    """Starts `cluster` and yields it; stops every node it started whatever happens, a start
    that failed (no leader in time) included."""
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop_all()


# Ports for test nodes come from below the kernel's ephemeral range (32768 and up here), which
# also holds none of ./tools/castor's or the etcd bench's ports: a port the kernel picked with
# bind(0) and let go is in that range, where an outgoing connection (castor-bench's, say) can
# take it before castord binds it, and then a node fails to start ("Address already in use",
# no leader in time).
_TEST_PORTS = range(10000, 20000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and this process has not handed out before."""
    for _ in range(1000):
        port = random.choice(_TEST_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_TEST_PORTS}")


class Cluster:
    def __init__(self, tmp: pathlib.Path, nodes: int = 3, extra_args=(), env=None, node_args=None, prefix=()):
        self.tmp = tmp
        self.names = [f"n{i}" for i in range(1, nodes + 1)]
        self.client_port = {n: free_port() for n in self.names}
        self.peer_port = {n: free_port() for n in self.names}
        self.http_port = {n: free_port() for n in self.names}
        self.extra_args = list(extra_args)
        self.node_args = {n: list(a) for n, a in (node_args or {}).items()}  # one node's own flags
        self.env = dict(os.environ, **(env or {}))
        # A command that runs castord, e.g. ["prlimit", "--nofile=64:128", "--"]; it must exec castord, so
        # that the pid is castord's (HostileCluster reads its /proc).
        self.prefix = list(prefix)
        self.procs = {}

    @property
    def endpoints(self):
        return [f"127.0.0.1:{self.client_port[n]}" for n in self.names]

    def endpoint(self, name):
        return f"127.0.0.1:{self.client_port[name]}"

    def http_address(self, name):
        return f"127.0.0.1:{self.http_port[name]}"

    def http_url(self, name):
        return f"http://{self.http_address(name)}"

    def args(self, name, cluster_id="castor"):
        members = ",".join(f"{n}=127.0.0.1:{self.peer_port[n]}" for n in self.names)
        return self.prefix + [str(BUILD / "tools" / "castord"), "--name", name, "--data-dir", str(self.tmp / name),
                "--listen-client", self.endpoint(name), "--listen-peer", f"127.0.0.1:{self.peer_port[name]}",
                "--listen-http", self.http_address(name),
                "--initial-cluster", members, "--cluster-id", cluster_id,
                "--heartbeat-ms", "50", "--election-ms", "400"] + self.extra_args + self.node_args.get(name, [])

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

    def wait_applied(self, name, index, timeout_s=15.0):
        """Waits until node `name` has applied `index`; returns its last status (None if it
        never answered)."""
        deadline = time.monotonic() + timeout_s
        s = None
        while time.monotonic() < deadline:
            s = self.status(name)
            if s and s.applied >= index:
                break
            time.sleep(0.05)
        return s

    def make_leader(self, name):
        """Makes `name` the leader (castorctl leader transfer) and returns once all agree."""
        if self.wait_for_leader() != name:
            subprocess.run([str(BUILD / "tools" / "castorctl"), "--endpoints", ",".join(self.endpoints),
                            "leader", "transfer", name], check=True, capture_output=True, timeout=20)
        deadline = time.monotonic() + 10
        while self.leader() != name:
            assert time.monotonic() < deadline, f"{name} did not take the lead"
            time.sleep(0.05)

    def miss_a_compaction(self, puts=200, victim_env=None):
        """Leaves a follower (returned) needing InstallSnapshot to catch up: it is down while
        `puts` writes commit and the others compact their logs (run with a small
        --snapshot-entries); then the leader restarts too, so that no append queued for the
        follower while it was down survives to bring it the entries instead; then the follower
        restarts (with `victim_env`)."""
        c = self.client()
        victim = next(n for n in self.names if n != self.wait_for_leader())
        self.kill(victim)
        for i in range(puts):
            assert c.put(f"s{i}".encode(), f"{i}".encode()).ok
        c.close()
        leader = self.wait_for_leader()
        assert self.status(leader).snapshot_index > 0, "the leader never compacted its log"
        self.kill(leader)
        self.start(leader)
        self.wait_for_leader()
        self.start(victim, env=victim_env)
        return victim

    def assert_caught_up_by_snapshot(self, victim, puts=200):
        """The node miss_a_compaction() left behind has applied the `puts` writes by installing
        the leader's snapshot, and serves them."""
        s = self.wait_applied(victim, puts)
        assert s and s.applied >= puts and s.snapshot_index > 0, f"{victim} did not catch up: {s}"
        assert "installed the leader's snapshot" in self.log(victim)
        local = self.client()
        local.endpoints = [local._parse(self.endpoint(victim))]
        assert local.get(b"s7", serializable=True).response.get.kv.value == b"7"
        local.close()

    def status(self, name):
        c = Client([self.endpoint(name)], timeout_s=1.0)
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

    def wait_for_leader(self, timeout_s=10.0, not_name=None):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            l = self.leader()
            if l and l != not_name:
                return l
            time.sleep(0.05)
        raise AssertionError(f"no leader within {timeout_s} s")

    def client(self, timeout_s=5.0):
        return Client(self.endpoints, timeout_s=timeout_s)

    def log(self, name):
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def http(self, name, method, path, body=None, headers=None, timeout_s=10.0):
        """One HTTP request to node `name`; see http_request."""
        return http_request(self.http_address(name), method, path, body, headers, timeout_s)


def http_request(address, method, path, body=None, headers=None, timeout_s=10.0):
    """Sends one request to "host:port" and returns (status, headers, body bytes).

    Redirects are not followed and 4xx/5xx are returned, not raised. `method` may be any token,
    `path` is sent as given (already percent-encoded, query included), `body` may be str or
    bytes. Header names in the result are lower-cased; a repeated header's values are joined
    with ", ".
    """
    host, port = address.rsplit(":", 1)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        got = {}
        for k, v in resp.getheaders():
            k = k.lower()
            got[k] = f"{got[k]}, {v}" if k in got else v
        return resp.status, got, data
    finally:
        conn.close()


def raw_http(address, data: bytes, timeout_s=5.0) -> bytes:
    """Writes `data` as is to "host:port" and returns every byte the server sends back until it
    closes the connection (or until `timeout_s` passes with nothing more to read)."""
    host, port = address.rsplit(":", 1)
    out = b""
    with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            out += chunk
    return out


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def parse_metrics(text):
    """Prometheus text format (0.0.4) as a list of (name, {label: value}, float); comments and
    blank lines skipped. A line that does not parse raises ValueError."""
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"not a Prometheus sample line: {line!r}")
        name, labels_text, value = m.groups()
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = _LABEL.match(labels_text, pos)
                if not lm:
                    raise ValueError(f"bad labels in {line!r}")
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                pos = lm.end()
        samples.append((name, labels, float(value)))
    return samples

"""Real hosts made of Linux network namespaces, sealed off from the machine's own network.

Layout for run ``R`` with nodes n1..nN::

    castor-R-n1  eth0 10.77.0.11 --veth-- v-n1 ┐
    castor-R-n2  eth0 10.77.0.12 --veth-- v-n2 ├─ br0 in castor-R-br
    ...                                        │
    castor-R-client eth0 10.77.0.100 --veth-- v-client ┘

Why this shape: each node gets its own network stack and its own iptables, so a partition is
a rule inside the node that is cut off, exactly as on separate machines. The bridge lives in a
namespace of its own so that nothing, not even one end of a veth, is created in the host
namespace; no namespace has a default route, so no packet has anywhere to go but the bridge and
loopback. The /24 exists only inside these namespaces, so runs never collide with each other's
addresses or with the machine's.

Processes run through ``ip netns exec NS cmd``, which enters the namespace and then execs the
command: the Popen's pid is the command's own pid (for the first moments it is still `ip`,
outside the namespace, so a check that it is inside must wait briefly). They are signalled only by that pid (never by name), and teardown kills only
processes inside this run's namespaces. Must run as root.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

BRIDGE = "br0"
CLIENT = "client"
_COMMAND_TIMEOUT_S = 10
_KILL_WAIT_S = 5


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=_COMMAND_TIMEOUT_S)


def namespaces_available() -> str | None:
    """None if this process can build topologies; otherwise the reason it cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "iptables-restore"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        listing = _ip("netns", "list", check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`ip netns` is unavailable: {e}"
    if listing.returncode != 0:
        return f"`ip netns` is unavailable: {listing.stderr.strip()}"
    return None


def list_namespaces(prefix: str = "") -> list[str]:
    """Named namespaces whose name starts with ``prefix`` (`ip netns list` adds ids; drop them)."""
    names = [line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def cleanup(prefix: str) -> list[str]:
    """Remove every namespace named ``prefix``*, killing (by pid) whatever still runs in it.

    This is how a run clears what an earlier, crashed run with the same name left behind; it
    touches nothing outside namespaces carrying the prefix. Returns the namespaces removed.
    """
    removed = list_namespaces(prefix)
    for ns in removed:
        pids = _ip("netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            _kill_pid(int(pid))
    for ns in removed:
        _ip("netns", "delete", ns, check=False)
    return removed


class Topology:
    """Namespaces for ``nodes`` nodes and one client host, joined by a bridge.

    Use as a context manager: entering builds it (after clearing leftovers of the same run
    name), leaving tears it down even when the body raised. ``setup`` and ``teardown`` are both
    safe to call twice. Not thread-safe: one thread builds and tears down; other threads may
    run commands.
    """

    def __init__(self, run: str, nodes: int = 3, subnet: str = "10.77.0"):
        if not re.fullmatch(r"[a-z0-9]{1,24}", run):
            raise ValueError("run names are 1-24 lowercase letters or digits")
        if not 1 <= nodes <= 9:
            raise ValueError("a topology has 1 to 9 nodes")
        self.run = run
        self.prefix = f"castor-{run}-"
        self.subnet = subnet
        self.nodes = [f"n{i}" for i in range(1, nodes + 1)]
        self.hosts = [*self.nodes, CLIENT]
        self.bridge_namespace = f"{self.prefix}br"
        self._processes: list[subprocess.Popen] = []

    def namespace(self, host: str) -> str:
        if host not in self.hosts:
            raise KeyError(f"no host {host!r} in this topology")
        return f"{self.prefix}{host}"

    def address(self, host: str) -> str:
        """Node nK is .1K, the client .100, all in the run's private /24."""
        if host == CLIENT:
            return f"{self.subnet}.100"
        return f"{self.subnet}.{10 + self.nodes.index(host) + 1}"

    def __enter__(self) -> "Topology":
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def setup(self) -> None:
        """Build the namespaces, bridge and veths. Starts from a clean slate every time."""
        self.teardown()
        br = self.bridge_namespace
        _ip("netns", "add", br)
        _ip("-n", br, "link", "set", "lo", "up")
        _ip("-n", br, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", br, "link", "set", BRIDGE, "up")
        for host in self.hosts:
            ns, port = self.namespace(host), f"v-{host}"
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            # Both ends are created where they belong: nothing passes through the host namespace.
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", br)
            _ip("-n", br, "link", "set", port, "master", BRIDGE, "up")
            _ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def teardown(self) -> None:
        """Kill this run's processes (by pid), then delete its namespaces, veths with them."""
        for proc in self._processes:
            if proc.poll() is None:
                _kill_pid(proc.pid)
            try:
                proc.wait(timeout=_KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        self._processes.clear()
        cleanup(self.prefix)

    def exec(self, host: str, argv: list[str], timeout_s: float = _COMMAND_TIMEOUT_S,
             check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        """Run a short command inside ``host`` and wait for it (bounded by ``timeout_s``)."""
        return subprocess.run(["ip", "netns", "exec", self.namespace(host), *argv], input=input,
                              capture_output=True, text=True, check=check, timeout=timeout_s)

    def spawn(self, host: str, argv: list[str], log_path: Path | None = None) -> subprocess.Popen:
        """Start a long-running command inside ``host``; teardown kills it by its pid.

        Its output is appended to ``log_path`` (so a restarted node keeps one log), or dropped.
        It gets a session of its own, so a signal meant for the harness never reaches it.
        """
        argv = ["ip", "netns", "exec", self.namespace(host), *argv]
        if log_path is None:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        else:
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._processes.append(proc)
        return proc

    def default_routes(self) -> dict[str, list[str]]:
        """Every default route (IPv4 or IPv6) in this run's namespaces; empty when sealed."""
        found = {}
        for ns in list_namespaces(self.prefix):
            routes = [line for family in ("-4", "-6")
                      for line in _ip("-n", ns, family, "route", "show", "default").stdout.splitlines()
                      if line.strip()]
            if routes:
                found[ns] = routes
        return found


class NodeProcess:
    """One restartable command on one host: what a nemesis kills, pauses and restarts.

    It remembers how to start the command, and controls it only through the pid of the
    process it started. Not thread-safe: the nemesis thread owns it during a run.
    """

    def __init__(self, topology: Topology, host: str, argv: list[str],
                 log_path: Path | None = None):
        self.topology = topology
        self.host = host
        self.argv = list(argv)
        self.log_path = log_path
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            raise RuntimeError(f"{self.host} is already running as pid {self.pid}")
        self._proc = self.topology.spawn(self.host, self.argv, log_path=self.log_path)

    def signal(self, sig: int) -> None:
        if self.running():
            os.kill(self._proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL, then reap it so the pid is not left as a zombie."""
        if self._proc is None:
            return
        self.signal(signal.SIGKILL)
        self._proc.wait(timeout=_KILL_WAIT_S)

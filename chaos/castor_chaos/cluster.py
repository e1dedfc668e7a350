"""A real castord cluster on a Topology: one node per namespace, controlled by pid.

Each node listens on its own namespace address (client port 2379, peer port 2380; every
namespace has its own stack, so the ports repeat without clashing). Data directories and logs
live in the run folder, so a failed run can be examined afterwards; a restarted node appends to
the same log. Processes are ``topology.NodeProcess`` objects, which is what the nemesis kills,
pauses and restarts.

A powered cluster (``powered=True``, the ``power`` nemesis) keeps each node's data directory
on a castor-powerfs mount of its own (``power_disk``), which forgets what was not fsynced when
its power is cut. It mounts them when made; unmount_disks() once no node runs.

Status requests (and every other client request) must be made from a thread inside the client
namespace (see ``netns``): the host namespace cannot reach the topology.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .power_disk import PowerDisk, SharedRoot
from .topology import NodeProcess, Topology

CLIENT_PORT = 2379
PEER_PORT = 2380
ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    return Path(os.environ.get("CASTOR_BUILD_DIR", ROOT / "build"))


def castord_path() -> Path:
    return build_dir() / "tools" / "castord"


def powerfs_path() -> Path:
    return build_dir() / "tests" / "powerfs" / "castor-powerfs"


def use_build_protos() -> None:
    """Point castor_client at the build's generated protobuf modules before it is imported."""
    os.environ.setdefault("CASTOR_PYTHON_PROTO", str(build_dir() / "python"))


use_build_protos()
from castor_client import Client  # noqa: E402  (needs the proto path set first)


class Cluster:
    """castord processes for every node of ``topology``; see the module docstring.

    Not thread-safe for starting and stopping (the nemesis thread owns that); ``status`` and
    ``leader`` may be called from any thread in the client namespace.
    """

    def __init__(self, topology: Topology, folder: Path, castord: Path | None = None,
                 heartbeat_ms: int = 50, election_ms: int = 500, snapshot_entries: int = 10000,
                 request_timeout_ms: int = 2000, extra_args: tuple[str, ...] = (),
                 powered: bool = False):
        self.topology = topology
        self.nodes = list(topology.nodes)
        self.folder = folder
        self.castord = Path(castord or castord_path())
        self.options = ["--heartbeat-ms", str(heartbeat_ms), "--election-ms", str(election_ms),
                        "--snapshot-entries", str(snapshot_entries),
                        "--request-timeout-ms", str(request_timeout_ms),
                        # The log's map is sparse, but keep it small: runs are short.
                        "--log-map-bytes-max", str(1 << 30), *extra_args]
        folder.mkdir(parents=True, exist_ok=True)
        self.power_root = SharedRoot(folder / "power") if powered else None
        self.disks = {n: PowerDisk(folder / "power" / n, powerfs_path(), seed=i + 1)
                      for i, n in enumerate(self.nodes)} if powered else {}
        try:
            if self.power_root is not None:
                self.power_root.mount()
            for disk in self.disks.values():
                disk.mount()
        except BaseException:
            self.unmount_disks()
            raise
        self.processes = {n: NodeProcess(topology, n, self.argv(n), folder / f"{n}.log")
                          for n in self.nodes}

    def endpoint(self, node: str) -> str:
        return f"{self.topology.address(node)}:{CLIENT_PORT}"

    @property
    def endpoints(self) -> list[str]:
        return [self.endpoint(n) for n in self.nodes]

    def data_dir(self, node: str) -> Path:
        if not self.disks:
            return self.folder / node
        if self.disks[node].mnt is None:
            raise RuntimeError(f"{node}'s disk is not mounted: it cannot start")
        return self.disks[node].mnt

    def unmount_disks(self) -> None:
        """Unmounts every disk; call once no node runs (a busy mount is detached lazily)."""
        for disk in self.disks.values():
            disk.unmount()
        if self.power_root is not None:
            self.power_root.unmount()

    def power_cut(self, node: str, torn: bool) -> dict:
        """The node's power goes: its disk drops what was not fsynced (keeping a torn prefix of
        the last unsynced write when ``torn``), and right after the process is killed (a write
        in between fails with EIO). Returns what the cut dropped (power_disk's counters)."""
        disk = self.disks[node]
        disk.cut(torn)
        self.processes[node].kill()
        return {name: disk.fired(name) for name in ("power-cut", "lost-files", "lost-names", "torn")}

    def power_on(self, node: str) -> int:
        """Mounts the node's disk again over what survived, and starts the node on it. Returns
        the size its log had then, so that only what this start wrote is read for its fate."""
        self.disks[node].power_on()
        log = self.processes[node].log_path
        offset = log.stat().st_size if log is not None and log.exists() else 0
        self.start(node)
        return offset

    def argv(self, node: str, failpoint: str | None = None) -> list[str]:
        """The node's command line; with ``failpoint``, it SIGKILLs itself on reaching it.

        The failpoint goes through `env`, which execs castord, so the pid stays the one the
        harness started (ip netns exec -> env -> castord are the same process).
        """
        members = ",".join(f"{n}={self.topology.address(n)}:{PEER_PORT}" for n in self.nodes)
        argv = [str(self.castord), "--name", node, "--data-dir", str(self.data_dir(node)),
                "--listen-client", self.endpoint(node),
                "--listen-peer", f"{self.topology.address(node)}:{PEER_PORT}",
                "--initial-cluster", members, *self.options]
        if failpoint:
            argv = ["env", f"CASTOR_FAILPOINTS={failpoint}=crash", *argv]
        return argv

    def start(self, node: str, failpoint: str | None = None) -> None:
        """Start ``node`` (armed with ``failpoint`` if given; the next start is clean again)."""
        proc = self.processes[node]
        proc.argv = self.argv(node, failpoint)
        proc.start()
        proc.argv = self.argv(node)

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)

    def running(self) -> list[str]:
        return [n for n in self.nodes if self.processes[n].running()]

    def status(self, node: str, timeout_s: float = 0.5):
        """The node's StatusResponse, or None if it did not answer in time."""
        client = Client([self.endpoint(node)], timeout_s=timeout_s)
        try:
            r = client.status(self.endpoint(node))
            return r.response.status if r.ok else None
        finally:
            client.close()

    def statuses(self, timeout_s: float = 0.5) -> dict:
        return {n: self.status(n, timeout_s) for n in self.running()}

    def leader(self, timeout_s: float = 0.5) -> str | None:
        """The running node that says it leads, in the highest term any running node reports.

        A deposed leader that is cut off may still call itself leader in an old term; the
        highest term wins, and a term whose leader is unknown means there is none right now.
        """
        statuses = [s for s in self.statuses(timeout_s).values() if s is not None]
        if not statuses:
            return None
        term = max(s.term for s in statuses)
        leaders = {s.name for s in statuses if s.term == term and s.role == "leader"}
        return leaders.pop() if len(leaders) == 1 else None

    def wait_for_leader(self, timeout_s: float = 15.0) -> str | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None:
                return leader
            time.sleep(0.1)
        return None

    def client(self, timeout_s: float, nodes: list[str] | None = None) -> Client:
        """A client for ``nodes`` (default: all); it follows the leader among them."""
        return Client([self.endpoint(n) for n in (nodes or self.nodes)], timeout_s=timeout_s)

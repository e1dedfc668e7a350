"""Faults on a topology, and the shapes of a schedule (plans are made in ``faults.py``).

Partitions are "grudges", as in Jepsen: a map from each node to the nodes it refuses to hear
from. A grudge is enforced by DROP rules on INPUT inside the receiving node's namespace, so a
one-way fault is simply a grudge held by one side only. Only node-to-node traffic is cut: the
client host keeps reaching every node, as clients of a real cluster usually do.

Process faults (kill -9, restart, SIGSTOP/SIGCONT) go through a process table the harness
gives: node name -> an object with ``pid``, ``running()``, ``start()``, ``kill()`` and
``signal(sig)`` (``topology.NodeProcess``). Nothing here finds processes by name.

``faults.plan`` makes a schedule as a pure function of its seed, so a run replays from the seed
it prints, and ``faults.run_plan`` carries it out.
"""

from __future__ import annotations

import dataclasses
import random
import signal
from typing import Mapping

from .topology import Topology

Grudge = dict[str, tuple[str, ...]]


# --------------------------------------------------------------------------------------------
# Grudges (pure)


def complete_grudge(components: list[list[str]]) -> Grudge:
    """Each node hears only from nodes in its own component: a clean, symmetric partition."""
    everyone = [n for c in components for n in c]
    return {n: tuple(m for m in everyone if m not in c) for c in components for n in c}


def halves(nodes: list[str], rng: random.Random) -> Grudge:
    """A random split into a minority and a majority (sizes n//2 and n - n//2)."""
    shuffled = rng.sample(nodes, len(nodes))
    cut = len(nodes) // 2
    return complete_grudge([shuffled[:cut], shuffled[cut:]])


def isolate(nodes: list[str], node: str) -> Grudge:
    """One node alone; the others stay together."""
    return complete_grudge([[node], [n for n in nodes if n != node]])


def majorities_ring(nodes: list[str], rng: random.Random) -> Grudge:
    """Every node hears from a majority (itself included), and no two hear the same majority.

    Nodes go round a random ring; each hears from the window of majority size centred on it
    (for an even window, the extra node is the next one). With 5 nodes each hears its two
    neighbours, symmetric; with 3 the windows are {self, next}, so the cuts are one-way. Any
    would-be leader needs a quorum that others do not share, which is where buggy elections
    and stale leaders show.
    """
    ring = rng.sample(nodes, len(nodes))
    n, size = len(ring), len(ring) // 2 + 1
    grudge = {}
    for i, node in enumerate(ring):
        window = {ring[(i - (size - 1) // 2 + j) % n] for j in range(size)}
        grudge[node] = tuple(m for m in ring if m not in window)
    return grudge


def one_way(sources: list[str], destinations: list[str]) -> Grudge:
    """Traffic from ``sources`` to ``destinations`` is dropped; the reverse still flows."""
    return {d: tuple(sources) for d in destinations}


# --------------------------------------------------------------------------------------------
# Applying faults


class Nemesis:
    """Applies faults to a topology and a process table; ends them again.

    Not thread-safe: one thread (the schedule runner) drives it.
    """

    def __init__(self, topology: Topology, processes: Mapping | None = None):
        self.topology = topology
        self.processes = processes or {}

    def partition(self, grudge: Grudge) -> None:
        """Replace any partition with ``grudge``: node -> the nodes whose packets it drops.

        Each node's rules are loaded in one ``iptables-restore``, which swaps the whole filter
        table at once, so there is no moment with half a partition on one node.
        """
        for node in self.topology.nodes:
            rules = [f"-A INPUT -s {self.topology.address(src)}/32 -j DROP"
                     for src in grudge.get(node, ())]
            self._load_filter(node, rules)

    def heal(self) -> None:
        for node in self.topology.nodes:
            self._load_filter(node, [])

    def _load_filter(self, node: str, rules: list[str]) -> None:
        table = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                           ":OUTPUT ACCEPT [0:0]", *rules, "COMMIT", ""])
        self.topology.exec(node, ["iptables-restore"], input=table)

    def kill(self, nodes: list[str]) -> None:
        """kill -9, then reap: the node loses whatever it had not made durable."""
        for node in nodes:
            self.processes[node].kill()

    def restart(self, nodes: list[str]) -> None:
        for node in nodes:
            if not self.processes[node].running():
                self.processes[node].start()

    def pause(self, nodes: list[str]) -> None:
        for node in nodes:
            self.processes[node].signal(signal.SIGSTOP)

    def resume(self, nodes: list[str]) -> None:
        for node in nodes:
            self.processes[node].signal(signal.SIGCONT)


# --------------------------------------------------------------------------------------------
# Schedules


@dataclasses.dataclass(frozen=True)
class Fault:
    """One planned fault: ``kind`` on ``targets`` from ``start_s`` to ``end_s`` of the run.

    ``grudge`` is set for partitions (node -> nodes it drops), None for process faults.
    """

    kind: str
    start_s: float
    end_s: float
    targets: tuple[str, ...]
    grudge: Grudge | None = None

    def describe(self) -> str:
        if self.grudge is None:
            return f"{self.kind} {','.join(self.targets)}"
        cuts = "; ".join(f"{n}<-x-{','.join(srcs)}" for n, srcs in sorted(self.grudge.items()) if srcs)
        return f"{self.kind} ({cuts})"


@dataclasses.dataclass(frozen=True)
class Schedule:
    seed: int
    duration_s: float
    faults: tuple[Fault, ...]

    def describe(self) -> str:
        lines = [f"nemesis schedule: seed {self.seed}, {self.duration_s:g} s, "
                 f"{len(self.faults)} faults"]
        lines += [f"  {f.start_s:7.2f}-{f.end_s:7.2f} s  {f.describe()}" for f in self.faults]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class FaultInterval:
    """A fault as it really happened, on the history's clock (monotonic ns), for the report."""

    kind: str
    targets: tuple[str, ...]
    description: str
    start_ns: int
    end_ns: int

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "targets": list(self.targets)}

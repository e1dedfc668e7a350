"""Faults on a topology, and seeded schedules that combine them.

Partitions are "grudges", as in Jepsen: a map from each node to the nodes it refuses to hear
from. A grudge is enforced by DROP rules on INPUT inside the receiving node's namespace, so a
one-way fault is simply a grudge held by one side only. Only node-to-node traffic is cut: the
client host keeps reaching every node, as clients of a real cluster usually do.

Process faults (kill -9, restart, SIGSTOP/SIGCONT) go through a process table the harness
gives: node name -> an object with ``pid``, ``running()``, ``start()``, ``kill()`` and
``signal(sig)`` (``topology.NodeProcess``). Nothing here finds processes by name.

A schedule is a pure function of its seed, so a run replays from the seed it prints.
"""

from __future__ import annotations

import dataclasses
import random
import signal
import threading
import time
from typing import Callable, Mapping

from .topology import Topology

Grudge = dict[str, tuple[str, ...]]

PARTITION_KINDS = ("partition-halves", "partition-isolate", "partition-ring", "partition-one-way")
PROCESS_KINDS = ("kill", "pause")
ALL_KINDS = PARTITION_KINDS + PROCESS_KINDS


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

    def begin(self, fault: "Fault") -> None:
        if fault.grudge is not None:
            self.partition(fault.grudge)
        elif fault.kind == "kill":
            self.kill(list(fault.targets))
        elif fault.kind == "pause":
            self.pause(list(fault.targets))
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def end(self, fault: "Fault") -> None:
        if fault.grudge is not None:
            self.heal()
        elif fault.kind == "kill":
            self.restart(list(fault.targets))
        elif fault.kind == "pause":
            self.resume(list(fault.targets))


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


def _make_fault(kind: str, nodes: list[str], rng: random.Random, start_s: float,
                end_s: float) -> Fault:
    if kind == "partition-halves":
        grudge = halves(nodes, rng)
    elif kind == "partition-isolate":
        grudge = isolate(nodes, rng.choice(nodes))
    elif kind == "partition-ring":
        grudge = majorities_ring(nodes, rng)
    elif kind == "partition-one-way":
        # One node can still hear everyone but nobody hears it: the classic stale-leader trap.
        mute = rng.choice(nodes)
        grudge = one_way([mute], [n for n in nodes if n != mute])
    elif kind == "kill":
        how_many = rng.choice((1, len(nodes) // 2 + 1, len(nodes)))
        return Fault(kind, start_s, end_s, tuple(sorted(rng.sample(nodes, how_many))))
    elif kind == "pause":
        return Fault(kind, start_s, end_s, (rng.choice(nodes),))
    else:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(ALL_KINDS)}")
    targets = tuple(sorted(n for n, srcs in grudge.items() if srcs))
    return Fault(kind, start_s, end_s, targets, grudge)


def make_schedule(seed: int, nodes: list[str], duration_s: float,
                  kinds: tuple[str, ...] = ALL_KINDS, fault_s: tuple[float, float] = (2.0, 6.0),
                  calm_s: tuple[float, float] = (1.0, 4.0)) -> Schedule:
    """Faults one after another: calm, a random kind of fault, calm, ... until ``duration_s``.

    One fault at a time keeps every interval attributable in the report; variety comes from
    mixing kinds and targets. Lengths are drawn from ``fault_s`` and gaps from ``calm_s``.
    Faults never reach past ``duration_s``, so the run always ends healed.
    """
    for kind in kinds:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(ALL_KINDS)}")
    rng = random.Random(seed)
    faults = []
    t = rng.uniform(*calm_s)
    while t < duration_s:
        end = min(t + rng.uniform(*fault_s), duration_s)
        faults.append(_make_fault(rng.choice(kinds), list(nodes), rng, round(t, 3), round(end, 3)))
        t = end + rng.uniform(*calm_s)
    return Schedule(seed, duration_s, tuple(faults))


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


def run_schedule(nemesis: Nemesis, schedule: Schedule, stop: threading.Event | None = None,
                 clock: Callable[[], int] = time.monotonic_ns,
                 log: Callable[[str], None] = print) -> list[FaultInterval]:
    """Carry out ``schedule`` in real time; return what was done, when.

    Prints the seed first, so any run can be replayed. Setting ``stop`` ends the run early;
    the fault in progress is always ended (heal, restart, resume), even on an exception, so a
    run never leaves the cluster broken for the final reads.
    """
    stop = stop or threading.Event()
    log(schedule.describe())
    started = clock()
    intervals: list[FaultInterval] = []

    def wait_until(offset_s: float) -> bool:
        remaining = offset_s - (clock() - started) / 1e9
        return not stop.wait(remaining) if remaining > 0 else not stop.is_set()

    for fault in schedule.faults:
        if not wait_until(fault.start_s):
            break
        begin_ns = clock()
        log(f"nemesis: begin {fault.describe()}")
        try:
            nemesis.begin(fault)
            wait_until(fault.end_s)
        finally:
            nemesis.end(fault)
            end_ns = clock()
            log(f"nemesis: end {fault.kind}")
            intervals.append(FaultInterval(fault.kind, fault.targets, fault.describe(),
                                           begin_ns, end_ns))
    return intervals

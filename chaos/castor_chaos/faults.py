"""The faults of a run against a live cluster, and seeded plans that combine them.

``nemesis.py`` knows how to cut links and signal pids; this module knows the cluster, so it
can aim at the leader (found by status requests when the fault begins), hold a partition until
the cut-off node can only catch up by InstallSnapshot, crash a node at an exact failpoint, and
lose the leader's replies to clients. Families, as named on the command line:

  partition     random halves; isolate a random node; isolate the leader; majorities ring;
                one-way (nobody hears the leader, it hears everyone)
  kill          kill -9 one node, the leader, a majority, or all nodes; restart at the end
  pause         SIGSTOP the leader or a random node; SIGCONT at the end
  snapshot      isolate a node until the leader's log is compacted past it, heal, and check
                from its status that its snapshot index moved (InstallSnapshot)
  failpoint     kill a node and restart it with CASTOR_FAILPOINTS=<point>=crash, so it dies at
                that exact point; restart it clean at the end
  lost-replies  drop the leader's replies to clients until a write commits, then reset the
                client connections: the client retries with the same seq, which the session
                table must answer without applying the write again
  power         cut the power of one node, the leader, a majority, or all nodes: each node's
                disk (a castor-powerfs mount, see power_disk) drops what was not fsynced, half
                the time keeping a torn prefix of the last unsynced write, and right after the
                process is killed; at the end the disk is mounted again over what survived and
                the node restarts on it. Only a powered cluster (Cluster(powered=True)) has it.

The plan (which fault, when, on which named node) is a pure function of the seed; "the
leader" is resolved when the fault begins, so a replay repeats the plan, and the run
repeats as far as timing allows.

Must be used from a thread in the client namespace (status requests, `ss`), see ``netns``.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Callable

from .cluster import CLIENT_PORT, Cluster
from .nemesis import (Fault, FaultInterval, Nemesis, Schedule, halves, isolate,
                      majorities_ring, one_way)
from .topology import CLIENT

LEADER = "leader"
FAILPOINTS = ("before-log-fsync", "after-log-fsync", "before-apply", "after-apply",
              "before-send-append-response", "during-snapshot-install")
FAMILIES = {
    "partition": ("partition-halves", "partition-isolate", "partition-isolate-leader",
                  "partition-ring", "partition-one-way-leader"),
    "kill": ("kill-one", "kill-leader", "kill-majority", "kill-all"),
    "pause": ("pause-leader", "pause-random"),
    "snapshot": ("snapshot-isolate",),
    "failpoint": tuple(f"failpoint-{p}" for p in FAILPOINTS),
    "lost-replies": ("lost-replies",),
    "power": ("power-cut-one", "power-cut-leader", "power-cut-majority", "power-cut-all"),
}
KINDS = tuple(k for kinds in FAMILIES.values() for k in kinds)

# Bounds on waiting for the cluster, so a fault never hangs a run.
LEADER_WAIT_S = 5.0
SNAPSHOT_HOLD_MAX_S = 30.0
SNAPSHOT_CATCH_UP_S = 20.0
# A failpoint fault holds past its planned end, up to this long, until its node has crashed: the
# point may come late (after a snapshot install, or when writes were slow), and a fault whose
# point was never reached fails the run (runner.shortfalls).
FAILPOINT_WAIT_S = 5.0
# lost-replies drops replies for at least LOST_REPLIES_S (long enough for every busy worker to
# have a write in flight) and at most COMMIT_WAIT_S, well inside the clients' own timeout.
LOST_REPLIES_S = 0.5
COMMIT_WAIT_S = 1.2
# A node powered on again must answer a status request within this (it opens its log, checks
# it against the state machine and replays it).
POWER_ON_WAIT_S = 10.0


def families_of(names: list[str]) -> list[str]:
    """The named families, checked ("all" for every family)."""
    if names == ["all"]:
        return list(FAMILIES)
    unknown = [f for f in names if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown nemesis {', '.join(unknown)}; known: all, {', '.join(FAMILIES)}")
    return list(dict.fromkeys(names))


def family_of(kind: str) -> str:
    """The family a fault kind belongs to (``failpoint-before-apply`` -> ``failpoint``)."""
    for family, kinds in FAMILIES.items():
        if kind in kinds:
            return family
    raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")


def _plan_fault(kind: str, nodes: list[str], rng: random.Random, start_s: float,
                end_s: float) -> Fault:
    """One fault with its targets: named nodes, or LEADER to be resolved when it begins."""
    if kind == "partition-halves":
        grudge = halves(nodes, rng)
    elif kind == "partition-isolate":
        grudge = isolate(nodes, rng.choice(nodes))
    elif kind == "partition-ring":
        grudge = majorities_ring(nodes, rng)
    elif kind in ("partition-isolate-leader", "partition-one-way-leader", "kill-leader",
                  "pause-leader", "lost-replies", "power-cut-leader"):
        return Fault(kind, start_s, end_s, (LEADER,))
    elif kind in ("kill-one", "pause-random", "snapshot-isolate", "power-cut-one") \
            or kind.startswith("failpoint-"):
        return Fault(kind, start_s, end_s, (rng.choice(nodes),))
    elif kind in ("kill-majority", "power-cut-majority"):
        return Fault(kind, start_s, end_s, tuple(sorted(rng.sample(nodes, len(nodes) // 2 + 1))))
    elif kind in ("kill-all", "power-cut-all"):
        return Fault(kind, start_s, end_s, tuple(nodes))
    else:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    return Fault(kind, start_s, end_s, tuple(sorted(n for n, s in grudge.items() if s)), grudge)


def plan(seed: int, nodes: list[str], duration_s: float, families: list[str],
         fault_s: tuple[float, float] = (2.0, 5.0),
         calm_s: tuple[float, float] = (1.0, 3.0)) -> Schedule:
    """Calm, a fault, calm, ... until ``duration_s``; the same seed gives the same plan.

    Families are dealt from a shuffled deck, so each family named appears once before any
    appears twice (a short run still sees every family it asked for); the kind within a family
    is drawn at random. One fault at a time, so each interval in the report has one cause.
    Planned faults end by ``duration_s``; one that must hold longer (snapshot) may run past it.
    """
    families = families_of(families)
    rng = random.Random(seed)
    faults, deck, t = [], [], rng.uniform(*calm_s)
    while families and t < duration_s - 1.0:
        if not deck:
            deck = rng.sample(families, len(families))
        kind = rng.choice(FAMILIES[deck.pop()])
        end = min(t + rng.uniform(*fault_s), duration_s)
        faults.append(_plan_fault(kind, list(nodes), rng, round(t, 3), round(end, 3)))
        t = end + rng.uniform(*calm_s)
    return Schedule(seed, duration_s, tuple(faults))


@dataclasses.dataclass
class Active:
    """A fault in progress: what it resolved to, and what ending it must undo."""

    fault: Fault
    targets: tuple[str, ...]
    description: str
    grudge: dict | None = None
    notes: dict = dataclasses.field(default_factory=dict)


class FaultRunner:
    """Begins and ends planned faults on a live cluster. Owned by one thread."""

    def __init__(self, cluster: Cluster, seed: int, log: Callable[[str], None] = print):
        self.cluster = cluster
        self.nemesis = Nemesis(cluster.topology, cluster.processes)
        self.rng = random.Random(seed ^ 0x5EED)
        self.log = log
        # One record per fault with a purpose: did it reach its goal ("achieved"; a fault that
        # did not fired in name only, and fails the run), and, where the cluster's answer can be
        # verified, did the cluster pass ("passed": None when there was nothing to verify). See
        # outcome().
        self.outcomes: list[dict] = []

    # --- helpers ------------------------------------------------------------------------------
    def leader(self) -> str:
        """The leader now; if there is none within a bound, a random running node (logged)."""
        found = self.cluster.wait_for_leader(LEADER_WAIT_S)
        if found is not None:
            return found
        fallback = self.rng.choice(self.cluster.running() or self.cluster.nodes)
        self.log(f"nemesis: no leader within {LEADER_WAIT_S:g} s; aiming at {fallback} instead")
        return fallback

    def _status_field(self, node: str, name: str) -> int | None:
        s = self.cluster.status(node)
        return None if s is None else getattr(s, name)

    def _wait(self, timeout_s: float, ready: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(0.1)
        return False

    def _leader_field(self, name: str, timeout_s: float,
                      until: Callable[[int], bool] = lambda value: True) -> int | None:
        """The current leader's status field ``name`` once read and ``until`` holds; None if not
        within ``timeout_s``."""
        box = {}

        def ready() -> bool:
            leader = self.cluster.leader()
            box["value"] = None if leader is None else self._status_field(leader, name)
            return box["value"] is not None and until(box["value"])

        return box["value"] if self._wait(timeout_s, ready) else None

    def _leader_snapshot_beyond(self, index: int, timeout_s: float) -> int | None:
        """Wait until the leader's snapshot index passes ``index``; return it, or None."""
        return self._leader_field("snapshot_index", timeout_s, until=lambda snap: snap > index)

    def _client_filter(self, rules: list[str]) -> None:
        table = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                           ":OUTPUT ACCEPT [0:0]", *rules, "COMMIT", ""])
        self.cluster.topology.exec(CLIENT, ["iptables-restore"], input=table)

    # --- begin / hold / end -------------------------------------------------------------------
    def begin(self, fault: Fault) -> Active:
        nodes = self.cluster.nodes
        targets = tuple(self.leader() if t == LEADER else t for t in fault.targets)
        kind = fault.kind
        active = Active(fault, targets, f"{kind} {','.join(targets)}")
        if kind.startswith("partition-"):
            if kind == "partition-isolate-leader":
                active.grudge = isolate(nodes, targets[0])
            elif kind == "partition-one-way-leader":
                active.grudge = one_way([targets[0]], [n for n in nodes if n != targets[0]])
            else:
                active.grudge = fault.grudge
            active.description = Fault(kind, 0, 0, targets, active.grudge).describe()
            self.nemesis.partition(active.grudge)
        elif kind.startswith("kill-"):
            self.nemesis.kill(list(targets))
        elif kind.startswith("pause-"):
            self.nemesis.pause(list(targets))
        elif kind == "snapshot-isolate":
            self._begin_snapshot(active)
        elif kind.startswith("failpoint-"):
            self._begin_failpoint(active, kind[len("failpoint-"):])
        elif kind == "lost-replies":
            self._begin_lost_replies(active)
        elif kind.startswith("power-cut-"):
            self._begin_power_cut(active)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        return active

    def hold(self, active: Active, planned_end: Callable[[], object]) -> None:
        """Keep the fault going: until ``planned_end()`` returns, or as its goal says.

        snapshot-isolate holds past the planned end until the leader has compacted past the
        cut-off node; a failpoint, until its node has crashed (FAILPOINT_WAIT_S). lost-replies
        ignores the plan: it ends once LOST_REPLIES_S have passed
        and a write has committed meanwhile (its reply dropped), because the clients must still
        be waiting, inside their own timeout, when their connections are reset, or they would
        give up (UNKNOWN) instead of retrying.
        """
        if active.fault.kind != "lost-replies":
            planned_end()
        if active.fault.kind == "snapshot-isolate":
            node = active.targets[0]
            last = active.notes["last_index"] = self._status_field(node, "last_index") or 0
            snap = self._leader_snapshot_beyond(last, SNAPSHOT_HOLD_MAX_S)
            active.notes["leader_snapshot_index"] = snap
        elif active.fault.kind.startswith("failpoint-"):
            process = self.cluster.processes[active.targets[0]]
            self._wait(FAILPOINT_WAIT_S, lambda: not process.running())
        elif active.fault.kind == "lost-replies":
            follower = active.notes["observer"]
            commit0 = active.notes["commit_before"]
            time.sleep(LOST_REPLIES_S)
            active.notes["committed_meanwhile"] = self._wait(
                COMMIT_WAIT_S - LOST_REPLIES_S,
                lambda: (self._status_field(follower, "commit") or 0) > commit0)

    def end(self, active: Active) -> None:
        kind = active.fault.kind
        if active.grudge is not None:
            self.nemesis.heal()
        elif kind.startswith("kill-"):
            self.nemesis.restart(list(active.targets))
        elif kind.startswith("pause-"):
            self.nemesis.resume(list(active.targets))
        elif kind.startswith("failpoint-"):
            node = active.targets[0]
            crashed = not self.cluster.processes[node].running()
            # For during-snapshot-install: the node's and the leader's last index before the
            # restart, and the leader's snapshot index that was to exceed both.
            facts = {k: active.notes[k] for k in ("last_index", "leader_last_index", "leader_snapshot_index")
                     if k in active.notes}
            self.outcome(active, crashed, None, ("the node crashed at the failpoint" if crashed
                                                 else "the node never reached the failpoint")
                         + (f" ({facts})" if facts and not crashed else ""), **facts)
            self.nemesis.kill([node])
            self.cluster.start(node)
        elif kind == "lost-replies":
            # Reset first, then stop dropping: a reply retransmitted in between would reach
            # the client and spare it the retry this fault is for.
            leader = self.cluster.topology.address(active.targets[0])
            self.cluster.topology.exec(CLIENT, ["ss", "-K", "dst", leader, "dport", "=",
                                                str(CLIENT_PORT)], check=False)
            self._client_filter([])
            committed = active.notes["committed_meanwhile"]
            self.outcome(active, committed, None, "a write committed while replies were dropped"
                         if committed else "no write committed while replies were dropped")
        elif kind.startswith("power-cut-"):
            self._end_power_cut(active)
        if kind == "snapshot-isolate":
            self._check_snapshot(active)

    # --- the faults with a purpose ------------------------------------------------------------
    def outcome(self, active: Active, achieved: bool, passed: bool | None, detail: str,
                **facts) -> None:
        record = {"fault": active.description, "kind": active.fault.kind,
                  "node": active.targets[0], "achieved": achieved, "passed": passed,
                  "detail": detail, **facts}
        self.log(f"nemesis: {active.description}: {detail}")
        self.outcomes.append(record)

    def _begin_snapshot(self, active: Active) -> None:
        node = active.targets[0]
        active.notes["snapshot_before"] = self._status_field(node, "snapshot_index")
        active.grudge = isolate(self.cluster.nodes, node)
        active.description = f"snapshot-isolate {node} (held until the leader compacts past it)"
        self.nemesis.partition(active.grudge)

    def _check_snapshot(self, active: Active) -> None:
        """After healing: did the node take a snapshot it could not have made itself?

        Needed when the leader's snapshot index passed the node's last log index while it was
        cut off: the leader no longer has the entries the node lacks. Then the node's own
        snapshot index must reach at least that point, or the node never caught up.
        """
        node, notes = active.targets[0], active.notes
        target = notes.get("leader_snapshot_index")
        facts = {"last_index": notes.get("last_index"), "leader_snapshot_index": target,
                 "snapshot_before": notes.get("snapshot_before")}
        if target is None:
            self.outcome(active, False, None, "the leader did not compact past the node in "
                         "time; nothing to verify", **facts)
            return
        installed = self._wait(SNAPSHOT_CATCH_UP_S, lambda: (
            self._status_field(node, "snapshot_index") or 0) >= target)
        after = self._status_field(node, "snapshot_index")
        self.outcome(active, True, installed,
                     f"snapshot index {facts['snapshot_before']} -> {after}, the leader's was "
                     f"{target} > the node's last index {facts['last_index']}: "
                     + ("installed" if installed else f"NOT installed within "
                        f"{SNAPSHOT_CATCH_UP_S:g} s"), snapshot_after=after, **facts)

    def _begin_failpoint(self, active: Active, point: str) -> None:
        node = active.targets[0]
        active.description = f"failpoint {point}=crash on {node}"
        last = self._status_field(node, "last_index") or 0
        self.nemesis.kill([node])
        # Start it armed only once another node leads. Restarted at once, with the freshest
        # log, a killed leader often wins again, and a leader never reaches
        # before-send-append-response: the fault would fire in name only.
        self.cluster.wait_for_leader(LEADER_WAIT_S)
        if point == "during-snapshot-install":
            # Reached only by a node that must install a snapshot: let the others compact past
            # its log first. Its log may have grown after ``last`` was read (a node that has
            # just rejoined appends fast): the leader's log bounds it too, as it holds every
            # entry the node can have been sent.
            # Both reads may miss on a loaded machine (a status call times out): the leader's is
            # retried, since without it the bound could fall back to a stale ``last`` (CI saw
            # the node then catch up by appends and never reach the failpoint).
            leader_last = self._leader_field("last_index", LEADER_WAIT_S)
            active.notes.update(last_index=last, leader_last_index=leader_last)
            active.notes["leader_snapshot_index"] = None if leader_last is None else (
                self._leader_snapshot_beyond(max(last, leader_last), SNAPSHOT_HOLD_MAX_S))
        self.cluster.start(node, failpoint=point)

    def _begin_lost_replies(self, active: Active) -> None:
        leader = active.targets[0]
        observer = next((n for n in self.cluster.running() if n != leader), leader)
        active.notes["observer"] = observer
        active.notes["commit_before"] = self._status_field(observer, "commit") or 0
        address = self.cluster.topology.address(leader)
        self._client_filter([f"-A INPUT -s {address}/32 -p tcp --sport {CLIENT_PORT} -j DROP"])

    def _begin_power_cut(self, active: Active) -> None:
        torn = self.rng.random() < 0.5
        active.description = f"{active.fault.kind} {','.join(active.targets)}" + (
            " (torn)" if torn else "")
        dropped = active.notes["dropped"] = {}
        try:
            for node in active.targets:
                dropped[node] = self.cluster.power_cut(node, torn)
        except BaseException:
            for node in dropped:  # run_plan ends only faults that began: undo this one here
                self.cluster.power_on(node)
            raise

    def _end_power_cut(self, active: Active) -> None:
        """Powers every target on again. Achieved when every disk took the cut; passed when
        every node serves again on what its disk kept: one that cannot start (its log lost
        what it had acknowledged, say) broke the promise the fsync was for."""
        started = {}  # node -> the size of its log when it started, or why it did not
        for node in active.targets:  # every one, even when one fails
            try:
                started[node] = self.cluster.power_on(node)
            except Exception as e:  # noqa: BLE001  (reported below as the node's fate)
                started[node] = f"its disk did not mount: {e}"
        dropped = active.notes["dropped"]
        cut = all(d["power-cut"] == 1 for d in dropped.values())
        files = sum(d["lost-files"] for d in dropped.values())
        names = sum(d["lost-names"] for d in dropped.values())
        down = {node: s if isinstance(s, str) else self._why_down(node, s)
                for node, s in started.items()}
        down = {node: why for node, why in down.items() if why is not None}
        detail = (f"unsynced data of {files} files and {names} directory entries dropped"
                  if cut else f"a disk did not take the cut: {dropped}")
        if down:
            detail += "; not serving after power-on: " + "; ".join(
                f"{node}: {why}" for node, why in down.items())
        self.outcome(active, cut, not down, detail, dropped=dropped)

    def _why_down(self, node: str, log_offset: int) -> str | None:
        """None once ``node`` answers a status request (within POWER_ON_WAIT_S); else why not:
        the last critical line it logged (past ``log_offset``, where this start began) if it
        exited."""
        process = self.cluster.processes[node]
        if self._wait(POWER_ON_WAIT_S, lambda: not process.running()
                      or self.cluster.status(node) is not None) and process.running():
            return None
        if process.running():
            return f"no answer within {POWER_ON_WAIT_S:g} s"
        with open(process.log_path, "rb") as f:
            f.seek(log_offset)
            lines = f.read().decode(errors="replace").splitlines()
        critical = [line for line in lines if " critical " in line]
        return f"exited: {critical[-1] if critical else 'no critical line in its log'}"

    def heal_all(self) -> None:
        """Undo everything, whatever state a fault left: links, client filter, pauses, deaths."""
        self.nemesis.heal()
        self._client_filter([])
        self.nemesis.resume([n for n in self.cluster.nodes if self.cluster.processes[n].running()])
        # Through the cluster, which knows each node's data directory now (a powered node's
        # disk may have moved to a new mount point, or failed to mount: then it raises).
        for node in self.cluster.nodes:
            if not self.cluster.processes[node].running():
                self.cluster.start(node)


def run_plan(runner: FaultRunner, schedule: Schedule, stop: threading.Event,
             clock: Callable[[], int] = time.monotonic_ns,
             log: Callable[[str], None] = print) -> list[FaultInterval]:
    """Carry out ``schedule`` in real time; return the faults as they happened.

    Prints the plan (with its seed) first. Every fault begun is ended, even on an exception,
    so the cluster is whole again for the final reads.
    """
    log(schedule.describe())
    started = clock()
    intervals = []

    def wait_until(offset_s: float) -> bool:
        remaining = offset_s - (clock() - started) / 1e9
        return not stop.wait(remaining) if remaining > 0 else not stop.is_set()

    for fault in schedule.faults:
        if not wait_until(fault.start_s):
            break
        begin_ns = clock()
        active = None
        try:
            active = runner.begin(fault)
            log(f"nemesis: {(begin_ns - started) / 1e9:7.2f} s begin {active.description}")
            runner.hold(active, lambda: wait_until(fault.end_s))
        finally:
            if active is not None:
                runner.end(active)
                end_ns = clock()
                notes = f" {active.notes}" if active.notes else ""
                log(f"nemesis: {(end_ns - started) / 1e9:7.2f} s end {fault.kind}{notes}")
                intervals.append(FaultInterval(fault.kind, active.targets, active.description,
                                               begin_ns, end_ns))
    return intervals

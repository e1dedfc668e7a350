"""One chaos run from start to verdict, the suites, and the command line (``chaos/run``).

A run: build the topology, start castord on every node, then, from a thread inside the client
namespace, run the workload's workers while the fault plan plays out; stop the workers, heal
everything, wait for a leader, make the final reads, check the history, and write the run
folder. Teardown (every process, every namespace) happens even when any of it fails.

Exit status: 0 when every run passed; 1 otherwise: an anomaly (or a failed nemesis check: a
node that should have installed a snapshot did not), a run that did too little to certify
anything ("no-work": see ``Work`` and ``shortfalls``), an "unknown" (the checker could not
decide), or a harness error. ``judge`` gives the order.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import dataclasses
import os
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from . import netns, report
from .checker import UNKNOWN
from .cluster import Cluster, castord_path
from .faults import FAMILIES, FaultRunner, families_of, family_of, plan, run_plan
from .history import FAIL, INFO, OK, Recorder, operations
from .nemesis import Schedule
from .topology import CLIENT, Topology, namespaces_available
from .workers import OP_TIMEOUT_S, run_workers
from .workloads import WORKLOADS, CounterWorkload

LEADER_AT_START_S = 20.0
LEADER_AFTER_HEAL_S = 30.0
# All workers finish their operations in progress within this (an increment retries a while).
WORKER_JOIN_S = 3 * OP_TIMEOUT_S + CounterWorkload.INCREMENT_BUDGET_S

# The least a run must do for its verdict to certify anything (docs/CHAOS.md, Reading a
# verdict). Far below what a healthy run does, so that only a run that barely ran falls short:
# the shortest real runs, 10 s of counter in the planted-bug tests, acknowledge 850-2,100
# writes; the CI suite's runs 2,000-15,000.
MIN_ACKNOWLEDGED_WRITES = 100
MIN_FINAL_READS = 1
MIN_FAULTS_PER_FAMILY = 1


@dataclasses.dataclass
class RunSpec:
    """Everything that defines a run; ``replay`` prints the command that repeats it."""

    workload: str
    nemesis: list[str]
    seconds: float
    seed: int
    nodes: int = 3
    unsafe: tuple[str, ...] = ()
    snapshot_entries: int = 200
    schedule: Schedule | None = None  # an explicit plan (the planted-bug tests); else from seed
    # Keyword arguments of the workload's constructor (a planted-bug test's shape of load); the
    # command line has none, so replay() does not show them.
    workload_options: dict = dataclasses.field(default_factory=dict)

    def replay(self) -> str:
        flags = "".join(f" {u}" for u in self.unsafe)
        nodes = f" --nodes {self.nodes}" if self.nodes != 3 else ""
        return (f"chaos/run --workload {self.workload} --nemesis {','.join(self.nemesis)} "
                f"--seconds {self.seconds:g} --seed {self.seed}{nodes}{flags}")

    def make_schedule(self, nodes: list[str]) -> Schedule:
        return self.schedule or plan(self.seed, nodes, self.seconds, self.nemesis)


@dataclasses.dataclass
class RunResult:
    spec: RunSpec
    folder: Path
    verdict: dict
    events: list
    status: str  # "pass", "anomaly", "no-work", "unknown", "error"
    reason: str = ""
    wall_s: float = 0.0
    intervals: list = dataclasses.field(default_factory=list)  # the faults as they happened

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def line(self) -> str:
        """One line for the run; a second, ``STATUS: why``, when it did not pass."""
        ops = operations(self.events)
        counts = {t: sum(1 for op in ops if op.type == t) for t in (OK, FAIL, INFO)}
        why = f"\n{self.status.upper()}: {self.reason}" if self.reason else ""
        return (f"{self.status.upper():7} {self.spec.workload:9} {','.join(self.spec.nemesis):28} "
                f"seed {self.spec.seed:<10} {len(ops)} ops (ok {counts[OK]} fail {counts[FAIL]} "
                f"info {counts[INFO]}) {self.wall_s:5.1f} s  {self.folder}{why}")


# Operations that change nothing: neither acknowledged writes nor a sign of recovery.
READ_ONLY = ("read", "watch")


@dataclasses.dataclass
class Work:
    """What a run did that its verdict rests on; verdict.json keeps it as ``work``."""

    acknowledged_writes: int  # ok operations other than reads
    final_reads: int  # keys read ok after healing
    final_unread: list  # keys the final reads tried and never read
    fired: dict  # family asked for -> faults of it that fired (did what they are for)
    unfired: list  # faults that fired in name only, each with why

    def describe(self) -> str:
        fired = ", ".join(f"{family} {n}" for family, n in self.fired.items()) or "none asked for"
        return (f"{self.acknowledged_writes} acknowledged writes, final reads of "
                f"{self.final_reads} of {self.final_reads + len(self.final_unread)} keys, "
                f"faults fired: {fired}")


def work_done(events, final_from: int, families: list[str], intervals,
              outcomes: list[dict]) -> Work:
    """Count ``Work`` from a run's history (``events[final_from:]`` are the final reads), its
    fault intervals and the outcomes of its faults with a purpose (faults.FaultRunner)."""
    final = operations(events[final_from:])
    read = {op.key for op in final if op.type == OK}
    fired = collections.Counter(family_of(i.kind) for i in intervals)
    fired.subtract(family_of(o["kind"]) for o in outcomes if not o["achieved"])
    return Work(
        acknowledged_writes=sum(1 for op in operations(events) if op.type == OK and op.f not in READ_ONLY),
        final_reads=len(read),
        final_unread=sorted({op.key for op in final} - read, key=str),
        fired={family: fired[family] for family in families},
        unfired=[f"{o['fault']} did not fire ({o['detail']})" for o in outcomes
                 if not o["achieved"]])


def shortfalls(work: Work) -> list[str]:
    """Each minimum the run did not meet, in words; empty when it did enough."""
    short = []
    if work.acknowledged_writes < MIN_ACKNOWLEDGED_WRITES:
        short.append(f"{work.acknowledged_writes} acknowledged writes "
                     f"(at least {MIN_ACKNOWLEDGED_WRITES} required)")
    if work.final_reads < MIN_FINAL_READS:
        short.append(f"{work.final_reads} final reads (at least {MIN_FINAL_READS} required)")
    elif work.final_unread:
        unread = work.final_unread
        short.append(f"final reads missed {len(unread)} of {work.final_reads + len(unread)} keys "
                     f"(every key required): " + ", ".join(map(str, unread[:5]))
                     + (", ..." if len(unread) > 5 else ""))
    short += [f"{n} {family} faults fired (at least {MIN_FAULTS_PER_FAMILY} required)"
              for family, n in work.fired.items() if n < MIN_FAULTS_PER_FAMILY]
    return short + work.unfired


class HarnessError(RuntimeError):
    """The harness could not carry out the run (no leader at start, a worker crashed)."""


def say(line: str) -> None:
    """Progress for a person watching (flushed: the output is often piped through tee)."""
    print(line, flush=True)


def run(spec: RunSpec, runs_dir: Path = report.RUNS_DIR, log: Callable[[str], None] = say,
        keep_history: bool = True) -> RunResult:
    """One run; see the module docstring. A cluster or harness failure is a status, not an
    exception. ``keep_history=False`` deletes the history of a passing run (long suites)."""
    started = time.monotonic()
    spec.nemesis = families_of(spec.nemesis)
    if spec.workload not in WORKLOADS:
        raise ValueError(f"unknown workload {spec.workload!r}; known: {', '.join(WORKLOADS)}")
    folder = report.run_dir(spec.seed, runs_dir)
    log(f"run {spec.workload} / {','.join(spec.nemesis)} / seed {spec.seed}: {folder}")
    log(f"replay: {spec.replay()}")
    state: dict = {"events": [], "intervals": [], "outcomes": [], "recovered": None,
                   "final_from": None}
    error, cluster = None, None
    try:
        with Topology(f"chaos{os.getpid()}", nodes=spec.nodes) as topology:
            cluster = Cluster(topology, folder / "nodes", snapshot_entries=spec.snapshot_entries,
                              extra_args=spec.unsafe, powered="power" in spec.nemesis)
            cluster.start_all()
            netns.call_in(topology.namespace(CLIENT), _drive, spec, cluster, state, log)
    except Exception as e:  # the run folder still gets everything recorded so far
        error = e
    finally:
        if cluster is not None:  # the topology's teardown has stopped every node
            cluster.unmount_disks()
    events = state["events"]
    workload = state.get("workload")
    verdict = workload.check(events) if workload is not None and error is None else {
        "checker": "none", "valid": UNKNOWN, "reason": f"harness error: {error!r}"}
    final_from = len(events) if state["final_from"] is None else state["final_from"]
    work = work_done(events, final_from, spec.nemesis, state["intervals"], state["outcomes"])
    status, reason = judge(verdict, state["outcomes"], work, state["recovered"], error)
    verdict.update(status=status, status_reason=reason, replay=spec.replay(),
                   work=dataclasses.asdict(work), nemesis=state["outcomes"],
                   recovered_after_heal=state["recovered"],
                   recovery_s=recovery(events, state["intervals"]))
    report.write_run(events, verdict, state["intervals"], spec.seed,
                     title=f"{spec.workload} / {','.join(spec.nemesis)}", path=folder)
    with open(folder / "summary.txt", "a") as summary:
        summary.write(f"status:   {status}{f' ({reason})' if reason else ''}\n")
        summary.write(f"work:     {work.describe()}\n")
        summary.write("recovery: first ok write after each fault ended: " + ", ".join(
            "none" if r is None else f"{r:.2f} s" for r in verdict["recovery_s"]) + "\n")
        for o in state["outcomes"]:
            summary.write(f"nemesis: {o['fault']}: {o['detail']}\n")
        summary.write(f"replay:   {spec.replay()}\n")
    if status == "pass":
        # Node logs stay; the data directories are only worth their space when something broke,
        # and so, in the long suite, is the history.
        for node in (folder / "nodes").iterdir() if (folder / "nodes").exists() else ():
            if node.is_dir():
                shutil.rmtree(node, ignore_errors=True)
        if not keep_history:
            (folder / "history.jsonl").unlink()
    result = RunResult(spec, folder, verdict, events, status, reason, time.monotonic() - started,
                       state["intervals"])
    log(result.line())
    return result


def recovery(events, intervals) -> list[float | None]:
    """Seconds from the end of each fault to the first write acknowledged after it.

    Not a verdict (a slow recovery is not an anomaly), but the number to watch against the
    promise of availability within an election timeout plus a few round trips.
    """
    acked = sorted(op.complete_ns for op in operations(events) if op.type == OK and op.f not in READ_ONLY)
    found = []
    for interval in intervals:
        i = bisect.bisect_right(acked, interval.end_ns)
        found.append(round((acked[i] - interval.end_ns) / 1e9, 3) if i < len(acked) else None)
    return found


def judge(verdict: dict, outcomes: list[dict], work: Work, recovered: bool | None,
          error: Exception | None) -> tuple[str, str]:
    """The run's status and why; the first that applies wins:

    error    the harness could not carry out the run;
    anomaly  the checker found one, or the cluster failed a fault's check (a snapshot not
             installed): evidence, however little else the run did;
    no-work  the run fell short of a minimum (``shortfalls``), so a pass would certify nothing;
    unknown  the checker could not decide, or there was no leader after healing;
    pass     none of these.
    """
    if error is not None:
        return "error", f"harness error: {error}"
    failed = [o for o in outcomes if o["passed"] is False]
    if verdict.get("valid") is False:
        anomaly = verdict.get("anomaly") or {}
        return "anomaly", anomaly.get("message", "see verdict.json")[:300]
    if failed:
        return "anomaly", f"{failed[0]['fault']}: {failed[0]['detail']}"
    short = shortfalls(work)
    if short:
        return "no-work", "; ".join(short)
    if verdict.get("valid") != True:  # noqa: E712  (True, not merely truthy)
        return "unknown", verdict.get("reason") or "the checker could not decide"
    if not recovered:
        return "unknown", f"no leader within {LEADER_AFTER_HEAL_S:g} s after healing"
    return "pass", ""


def _drive(spec: RunSpec, cluster: Cluster, state: dict, log: Callable[[str], None]) -> None:
    """The part of a run inside the client namespace: workers, faults, healing, final reads."""
    if cluster.wait_for_leader(LEADER_AT_START_S) is None:
        raise HarnessError(f"no leader within {LEADER_AT_START_S:g} s of starting the cluster")
    workload = WORKLOADS[spec.workload](cluster, spec.seed, **spec.workload_options)
    # One slot more than the workers: the final reads have their own process.
    recorder = Recorder(workload.concurrency + 1)
    state["workload"] = workload
    schedule = spec.make_schedule(cluster.nodes)
    faults = FaultRunner(cluster, spec.seed, log)
    stop = threading.Event()
    threads = run_workers(workload, recorder, stop)
    started = time.monotonic()
    try:
        state["intervals"] = run_plan(faults, schedule, stop, log=log)
        stop.wait(max(0.0, spec.seconds - (time.monotonic() - started)))
    finally:
        stop.set()
        joined_by = time.monotonic() + WORKER_JOIN_S
        for thread in threads:
            thread.join(max(0.0, joined_by - time.monotonic()))
        faults.heal_all()
        state["outcomes"] = faults.outcomes
        state["events"] = recorder.events()
    errors = [t.error for t in threads if t.error is not None]
    stuck = [t.name for t in threads if t.is_alive()]
    if errors or stuck:
        raise HarnessError(f"workers failed: {errors[:3]!r}; still running: {stuck}")
    if any(o["passed"] is False for o in faults.outcomes):
        # The run is an anomaly already (judge); a cluster that failed a fault's check (nodes
        # that cannot start after a power cut) would only make the final reads time out.
        log("a fault's check failed: no final reads")
        return
    state["recovered"] = cluster.wait_for_leader(LEADER_AFTER_HEAL_S) is not None
    state["final_from"] = len(recorder.events())
    final = workload.final_context(recorder, worker=workload.concurrency)
    try:
        workload.final(final)
    finally:
        final.close()
        state["events"] = recorder.events()


# --------------------------------------------------------------------------------------------
# Suites

# The CI suite: every workload, every fault family at least once across the five runs, about
# three and a half minutes of wall time on two cores (each run adds ~10 s of start, final
# reads, checking and plotting to its seconds).
CI_SUITE = (
    ("register", ["partition", "pause", "lost-replies"], 40),
    ("set", ["kill", "failpoint", "partition"], 35),
    ("counter", ["lost-replies", "kill", "partition", "pause"], 35),
    ("promotion", ["partition", "kill", "snapshot", "failpoint"], 40),
    ("set", ["power"], 25),
    ("watch", ["kill", "partition", "pause", "power", "snapshot"], 40),
)
LONG_SECONDS = 300
LONG_NEMESES = (["all"], ["partition"], ["kill", "failpoint"], ["pause", "lost-replies"],
                ["snapshot", "partition"], ["power", "partition"])


def ci_specs(seed: int) -> list[RunSpec]:
    return [RunSpec(w, n, s, seed + i) for i, (w, n, s) in enumerate(CI_SUITE)]


def long_specs(seed: int):
    """Endless: every workload against every nemesis mix, five minutes each, fresh seeds."""
    i = 0
    while True:
        for nemesis in LONG_NEMESES:
            for workload in WORKLOADS:
                yield RunSpec(workload, nemesis, LONG_SECONDS, seed + i)
                i += 1


def run_suite(name: str, specs, runs_dir: Path, hours: float | None = None,
              log: Callable[[str], None] = say) -> list[RunResult]:
    """Run ``specs`` one after another (never two clusters at once); with ``hours``, start no
    run after that long, and keep only the histories of runs that did not pass."""
    started = time.monotonic()
    results = []
    for spec in specs:
        if hours is not None and time.monotonic() - started > hours * 3600:
            break
        results.append(run(spec, runs_dir, log, keep_history=hours is None))
    failed = [r for r in results if not r.passed]
    log(f"{name} suite: {len(results)} runs, {len(results) - len(failed)} passed, "
        f"{len(failed)} failed, {time.monotonic() - started:.0f} s")
    for r in failed:
        log(f"  failed: {r.spec.replay()}  ({r.status}: {r.reason})")
    return results


# --------------------------------------------------------------------------------------------
# Command line

# castord's test-only switches that plant a bug (docs/CHAOS.md, The planted bugs).
UNSAFE_SWITCHES = ("--unsafe-local-reads", "--unsafe-skip-dedup", "--unsafe-revision-per-entry",
                   "--unsafe-skip-fsync")


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="chaos/run", description="Jepsen-style runs of a real Castor cluster in network "
        "namespaces (needs root). See docs/CHAOS.md.")
    p.add_argument("--suite", choices=("ci", "long"), help="a suite instead of one run")
    p.add_argument("--workload", choices=sorted(WORKLOADS), help="the workload of one run")
    p.add_argument("--nemesis", default="all",
                   help=f"comma-separated fault families: all, {', '.join(FAMILIES)}")
    p.add_argument("--seconds", type=float, default=60.0, help="workload duration of one run")
    p.add_argument("--seed", type=int,
                   help="replay this seed (a suite's runs use seed, seed+1, ...)")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--hours", type=float, default=4.0, help="how long the long suite runs")
    for flag in UNSAFE_SWITCHES:
        p.add_argument(flag, action="store_true",
                       help="start castord with this planted bug (the run should then fail)")
    p.add_argument("--runs-dir", type=Path, default=report.RUNS_DIR)
    args = p.parse_args(argv)
    # `kill` or a closed terminal must still tear the topology down: turn them into an exit
    # that unwinds through the Topology context manager, like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    problem = namespaces_available()
    if problem is not None:
        p.error(f"cannot build the topology: {problem}")
    if not castord_path().exists():
        p.error(f"{castord_path()} not found; build it (cmake --build build --target castord "
                f"castor_python_proto) or set CASTOR_BUILD_DIR")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    say(f"seed {seed}")
    if args.suite == "ci":
        results = run_suite("ci", ci_specs(seed), args.runs_dir)
    elif args.suite == "long":
        results = run_suite("long", long_specs(seed), args.runs_dir, hours=args.hours)
    else:
        if args.workload is None:
            p.error("give --workload (or --suite)")
        unsafe = tuple(flag for flag in UNSAFE_SWITCHES
                       if getattr(args, flag[2:].replace("-", "_")))
        spec = RunSpec(args.workload, args.nemesis.split(","), args.seconds, seed, args.nodes,
                       unsafe)
        results = [run(spec, args.runs_dir)]
        say(f"{'passed' if results[0].passed else 'FAILED'}: {spec.replay()}")
    return 0 if results and all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

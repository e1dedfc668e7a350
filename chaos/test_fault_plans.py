"""Fault plans are a pure function of their seed, and they cover what they are asked to; a plan
is carried out in order and every fault begun is ended, even when the run stops early or a
fault fails.

Replaying a run depends on the first; a short CI run exercising every family it names depends
on the second; the final reads of a run depend on the third. No namespaces, no cluster: the
runner is a stand-in that records what it was asked to do.
"""

import threading
import time

import pytest

from castor_chaos.faults import FAMILIES, LEADER, Active, families_of, family_of, plan, run_plan
from castor_chaos.nemesis import Fault, Schedule
from castor_chaos.runner import CI_SUITE

NODES = ["n1", "n2", "n3"]


def test_same_seed_same_plan_and_different_seeds_differ():
    assert plan(42, NODES, 60, ["all"]) == plan(42, NODES, 60, ["all"])
    assert plan(42, NODES, 60, ["all"]) != plan(43, NODES, 60, ["all"])


@pytest.mark.parametrize("seed", range(20))
def test_every_family_named_appears_before_any_repeats(seed):
    families = ["partition", "kill", "snapshot", "failpoint"]
    faults = plan(seed, NODES, 40, families).faults
    first = [next(f for f, kinds in FAMILIES.items() if fault.kind in kinds)
             for fault in faults[:len(families)]]
    assert sorted(first) == sorted(families)


@pytest.mark.parametrize("seed", range(100))
def test_ci_runs_are_long_enough_to_deal_every_family_they_name(seed):
    # A run whose plan leaves out a family it names is NO-WORK (runner.shortfalls). Eight
    # seconds a family always suffice: calm lasts at most 3 s and a fault 5, so the k-th fault
    # starts by 3 + 8 (k - 1) s, and plan() deals faults until 1 s before the end.
    for workload, families, seconds in CI_SUITE:
        assert seconds >= 8 * len(families), workload
        dealt = {family_of(f.kind) for f in plan(seed, NODES, seconds, families).faults}
        assert dealt == set(families), (workload, seed)


@pytest.mark.parametrize("seed", range(20))
def test_faults_are_sequential_within_the_run_and_aimed_at_nodes_or_the_leader(seed):
    schedule = plan(seed, NODES, 30, ["all"])
    previous_end = 0.0
    for fault in schedule.faults:
        assert previous_end < fault.start_s < fault.end_s <= 30
        previous_end = fault.end_s
        assert fault.targets == (LEADER,) or set(fault.targets) <= set(NODES)
        if fault.kind in ("kill-leader", "pause-leader", "lost-replies",
                          "partition-isolate-leader", "partition-one-way-leader"):
            assert fault.targets == (LEADER,)


def test_unknown_families_are_refused_and_all_means_every_family():
    assert families_of(["all"]) == list(FAMILIES)
    with pytest.raises(ValueError, match="unknown nemesis"):
        families_of(["partition", "meteor"])


class RecordingRunner:
    """FaultRunner's begin/hold/end, recorded; `fail_hold` makes hold() raise."""

    def __init__(self, fail_hold=False):
        self.calls, self.fail_hold = [], fail_hold

    def begin(self, fault):
        self.calls.append(("begin", fault.kind))
        return Active(fault, fault.targets, fault.describe())

    def hold(self, active, planned_end):
        if self.fail_hold:
            raise RuntimeError("the fault went wrong")
        planned_end()

    def end(self, active):
        self.calls.append(("end", active.fault.kind))


def test_a_plan_runs_in_order_and_ends_every_fault_it_began():
    schedule = plan(5, NODES, 2.5, ["partition", "kill"], fault_s=(0.2, 0.4), calm_s=(0.1, 0.2))
    assert schedule.faults, "a plan with no faults would test nothing"
    runner, lines = RecordingRunner(), []
    intervals = run_plan(runner, schedule, threading.Event(), log=lines.append)
    assert lines[0].startswith("nemesis schedule: seed 5")
    assert runner.calls == [(step, f.kind) for f in schedule.faults for step in ("begin", "end")]
    assert [i.kind for i in intervals] == [f.kind for f in schedule.faults]
    assert all(i.start_ns < i.end_ns for i in intervals)


def test_stopping_early_ends_the_fault_in_progress_at_once():
    fault = Fault("partition-isolate", 0.0, 30.0, ("n1",))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    runner = RecordingRunner()
    intervals = run_plan(runner, Schedule(1, 30.0, (fault,)), stop, log=lambda _: None)
    assert time.monotonic() - started < 5
    assert runner.calls == [("begin", "partition-isolate"), ("end", "partition-isolate")]
    assert len(intervals) == 1


def test_a_fault_that_fails_is_still_ended():
    fault = Fault("kill-one", 0.0, 0.1, ("n2",))
    runner = RecordingRunner(fail_hold=True)
    with pytest.raises(RuntimeError):
        run_plan(runner, Schedule(1, 1.0, (fault,)), threading.Event(), log=lambda _: None)
    assert runner.calls == [("begin", "kill-one"), ("end", "kill-one")]

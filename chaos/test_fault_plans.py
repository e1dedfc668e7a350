"""Fault plans are a pure function of their seed, and they cover what they are asked to.

Replaying a run depends on the first; a short CI run exercising every family it names depends
on the second. Pure: no namespaces, no cluster.
"""

import pytest

from castor_chaos.faults import FAMILIES, LEADER, families_of, family_of, plan
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

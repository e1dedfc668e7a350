"""Grudges: pure functions of their inputs and seed (no namespaces needed). Fault plans are
tested in test_fault_plans.py."""

import random

import pytest

from castor_chaos.nemesis import complete_grudge, halves, isolate, majorities_ring, one_way

NODES3 = ["n1", "n2", "n3"]
NODES5 = ["n1", "n2", "n3", "n4", "n5"]


def hears(grudge, node, nodes):
    """The nodes whose packets ``node`` accepts, itself included."""
    return frozenset(m for m in nodes if m not in grudge.get(node, ()))


def test_complete_grudge_and_isolate_are_symmetric_cuts():
    grudge = isolate(NODES5, "n3")
    assert grudge["n3"] == ("n1", "n2", "n4", "n5")
    assert all(grudge[n] == ("n3",) for n in NODES5 if n != "n3")
    assert complete_grudge([NODES3]) == {n: () for n in NODES3}


@pytest.mark.parametrize("nodes", [NODES3, NODES5, NODES5 + ["n6", "n7"]])
def test_halves_split_into_a_minority_and_a_majority(nodes):
    grudge = halves(nodes, random.Random(3))
    sides = {hears(grudge, n, nodes) for n in nodes}
    assert sorted(len(s) for s in sides) == [len(nodes) // 2, len(nodes) - len(nodes) // 2]


@pytest.mark.parametrize("nodes", [NODES3, NODES5, NODES5 + ["n6", "n7"]])
@pytest.mark.parametrize("seed", range(5))
def test_majorities_ring_each_hears_a_distinct_majority(nodes, seed):
    grudge = majorities_ring(nodes, random.Random(seed))
    views = [hears(grudge, n, nodes) for n in nodes]
    assert all(len(v) == len(nodes) // 2 + 1 for v in views)
    assert all(n in v for n, v in zip(nodes, views))
    assert len(set(views)) == len(nodes), "no two nodes see the same majority"


def test_one_way_cuts_one_direction_only():
    grudge = one_way(["n1"], ["n2", "n3"])
    assert grudge == {"n2": ("n1",), "n3": ("n1",)}
    assert "n1" not in grudge, "n1 still hears everyone"

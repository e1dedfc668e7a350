"""The runner's verdict rules: what a run must show before it may PASS.

``runner.judge`` gives a run's status from its checker verdict, the checks of its faults and its
``Work``; ``shortfalls`` lists the minimums it did not meet; ``work_done`` counts the work from
the history. Pure: no namespaces, no cluster.

Every rule was deleted from runner.py in turn and this file run; the tests named beside each
failed, the rest passed (so did test_nothing_done_..., for the writes, final reads and faults
per family minimums):

  rule deleted                      caught by
  writes minimum                    test_too_few_acknowledged_writes_is_no_work
  final reads minimum               test_no_final_read_is_no_work
  every key read after healing      test_a_key_left_unread_after_healing_is_no_work
  faults per family                 test_every_family_asked_for_must_fire, test_the_2_second_run_...
  a fault that did not fire         test_a_fault_that_did_not_fire_fails_the_run
  work_done: unfired not counted    test_work_is_counted_from_the_history_and_the_faults
  the checker must say True         test_unknown_never_passes
  a leader after healing            test_unknown_never_passes
  judge: no-work before a pass      all seven no-work tests
  judge: anomaly before no-work     test_evidence_outranks_too_little_work
"""

import dataclasses

from castor_chaos.nemesis import FaultInterval
from castor_chaos.runner import (MIN_ACKNOWLEDGED_WRITES, MIN_FINAL_READS, Work, judge,
                                 shortfalls, work_done)
from histories import history, op

VALID = {"checker": "set", "valid": True}
# Every family fired once: a run that did enough, for the tests to change one thing at a time.
ENOUGH = Work(acknowledged_writes=MIN_ACKNOWLEDGED_WRITES, final_reads=MIN_FINAL_READS,
              final_unread=[], fired={"kill": 1, "failpoint": 1}, unfired=[])


def status(work=ENOUGH, verdict=VALID, outcomes=(), recovered=True, error=None, **changes):
    """(status, reason) of a run that did ``work`` with ``changes``."""
    return judge(verdict, list(outcomes), dataclasses.replace(work, **changes), recovered, error)


def test_a_run_that_did_enough_passes():
    # The control: each test below fails a run for the one thing it changes.
    assert status() == ("pass", "")
    assert shortfalls(ENOUGH) == []


def test_unknown_never_passes():
    for verdict in ({"valid": "unknown", "reason": "time budget of 60 s exhausted"},
                    {"valid": None}, {"valid": "true"}, {"checker": "none"}):
        assert status(verdict=verdict)[0] == "unknown", verdict
    assert status(verdict={"valid": "unknown", "reason": "no successful read"}) == \
        ("unknown", "no successful read")
    assert status(recovered=False) == ("unknown", "no leader within 30 s after healing")
    assert status(recovered=None)[0] == "unknown"


def test_nothing_done_is_no_work_never_pass_nor_unknown():
    # The checker is "unknown" without a final read; the status says what was missing.
    nothing = Work(acknowledged_writes=0, final_reads=0, final_unread=["set"],
                   fired={"kill": 0, "partition": 0}, unfired=[])
    assert status(nothing, verdict={"valid": "unknown", "reason": "no successful read"}) == (
        "no-work", "0 acknowledged writes (at least 100 required); 0 final reads (at least 1 "
        "required); 0 kill faults fired (at least 1 required); 0 partition faults fired (at "
        "least 1 required)")


def test_the_2_second_run_is_no_work():
    # chaos/run --workload set --nemesis kill,partition --seconds 2 --seed 1 used to PASS: its
    # plan had no fault, though it acknowledged 644 adds and made its final read.
    assert status(acknowledged_writes=644, fired={"kill": 0, "partition": 0}) == (
        "no-work", "0 kill faults fired (at least 1 required); 0 partition faults fired (at least "
        "1 required)")


def test_too_few_acknowledged_writes_is_no_work():
    assert status(acknowledged_writes=MIN_ACKNOWLEDGED_WRITES - 1) == (
        "no-work", "99 acknowledged writes (at least 100 required)")


def test_no_final_read_is_no_work():
    # Tried and never read, or a final phase that read nothing at all.
    for unread in (["counter"], []):
        assert status(final_reads=0, final_unread=unread) == (
            "no-work", "0 final reads (at least 1 required)")


def test_a_key_left_unread_after_healing_is_no_work():
    assert status(final_reads=14, final_unread=["r3/1"]) == (
        "no-work", "final reads missed 1 of 15 keys (every key required): r3/1")
    many = status(final_reads=1, final_unread=[f"r{i}/0" for i in range(7)])[1]
    assert many.endswith("missed 7 of 8 keys (every key required): r0/0, r1/0, r2/0, r3/0, r4/0, ...")


def test_every_family_asked_for_must_fire():
    assert status(fired={"kill": 3, "failpoint": 0}) == (
        "no-work", "0 failpoint faults fired (at least 1 required)")
    # A run that asked for no faults (a planted-bug test's load alone) needs none.
    assert status(fired={}) == ("pass", "")


def test_a_fault_that_did_not_fire_fails_the_run():
    # Another failpoint fault fired, so the family's minimum is met: the rule is the fault's own.
    never = "failpoint before-apply=crash on n2 did not fire (the node never reached the failpoint)"
    assert status(unfired=[never]) == ("no-work", never)


def test_evidence_outranks_too_little_work():
    nothing = Work(0, 0, [], {"kill": 0}, [])
    anomaly = {"valid": False, "anomaly": {"message": "read of k=r0/1 returned 3 but ..."}}
    assert status(nothing, verdict=anomaly) == ("anomaly", "read of k=r0/1 returned 3 but ...")
    not_installed = {"fault": "snapshot-isolate n2", "passed": False, "detail": "NOT installed"}
    assert status(nothing, outcomes=[not_installed]) == \
        ("anomaly", "snapshot-isolate n2: NOT installed")
    assert status(nothing, error=RuntimeError("no leader")) == ("error", "harness error: no leader")


def test_work_is_counted_from_the_history_and_the_faults():
    events = history(
        op(0, "add", "set", 1, 0, 1), op(1, "add", "set", 2, 0, 1), op(2, "add", "set", 3, 2, 3),
        op(0, "add", "set", 4, 2, 3, "fail"), op(1, "add", "set", 5, 2, None, "info"),
        op(2, "read", "set", [1], 4, 5),
        # The final reads: key a read, b read on the second try, c never.
        op(9, "read", "a", 1, 10, 11), op(9, "read", "b", None, 12, 13, "fail"),
        op(9, "read", "b", 2, 14, 15), op(9, "read", "c", None, 16, 17, "fail"))
    final_from = next(e.index for e in events if e.time_ns == 10 * 1_000_000)
    intervals = [FaultInterval(kind, ("n1",), kind, 0, 1) for kind in
                 ("kill-one", "failpoint-before-apply", "failpoint-after-apply", "kill-all")]
    outcomes = [{"fault": "failpoint before-apply=crash on n1", "kind": "failpoint-before-apply",
                 "achieved": False, "passed": None, "detail": "the node never reached the failpoint"},
                {"fault": "failpoint after-apply=crash on n1", "kind": "failpoint-after-apply",
                 "achieved": True, "passed": None, "detail": "the node crashed at the failpoint"}]
    work = work_done(events, final_from, ["kill", "failpoint", "partition"], intervals, outcomes)
    assert work == Work(
        acknowledged_writes=3, final_reads=2, final_unread=["c"],
        fired={"kill": 2, "failpoint": 1, "partition": 0},
        unfired=["failpoint before-apply=crash on n1 did not fire (the node never reached the "
                 "failpoint)"])
    assert work.describe() == ("3 acknowledged writes, final reads of 2 of 3 keys, faults fired: "
                               "kill 2, failpoint 1, partition 0")

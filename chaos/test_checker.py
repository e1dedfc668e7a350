"""The checkers: accept what is correct, reject each kind of anomaly, never pass on a timeout."""

import itertools
import random
import time

from castor_chaos import synth
from castor_chaos.checker import (UNKNOWN, add_check, check_counter, check_register,
                                  check_revisions, check_set)
from histories import MS, history, op


def valid(*ops, **kw):
    return check_register(history(*ops), **kw)["valid"]


# ------------------------------------------------------------------ accepted (linearizable)

def test_accepts_sequential_history():
    assert valid(op(0, "read", "k", None, 0, 1), op(0, "write", "k", 1, 2, 3),
                 op(0, "read", "k", 1, 4, 5), op(0, "write", "k", 2, 6, 7),
                 op(0, "read", "k", 2, 8, 9)) is True


def test_accepts_read_overlapping_a_write_seeing_either_value():
    for seen in (None, 1):
        assert valid(op(0, "write", "k", 1, 0, 10), op(1, "read", "k", seen, 2, 3)) is True


def test_accepts_concurrent_writes_read_in_either_order():
    for first, second in ((1, 2), (2, 1)):
        assert valid(op(0, "write", "k", 1, 0, 10), op(1, "write", "k", 2, 0, 10),
                     op(2, "read", "k", second, 20, 21), op(2, "read", "k", second, 22, 23)) is True
        # Both values seen during the writes, in an order some linearization allows.
        assert valid(op(0, "write", "k", 1, 0, 10), op(1, "write", "k", 2, 0, 10),
                     op(2, "read", "k", first, 2, 3), op(2, "read", "k", second, 4, 5)) is True


def test_accepts_info_write_that_took_effect_late_or_never():
    write1, write2_info = op(0, "write", "k", 1, 0, 1), op(1, "write", "k", 2, 2, 3, "info")
    late = valid(write1, write2_info, op(2, "read", "k", 1, 4, 5), op(2, "read", "k", 2, 100, 101))
    never = valid(write1, write2_info, op(2, "read", "k", 1, 100, 101))
    no_completion = valid(write1, op(1, "write", "k", 2, 2, None, "info"),
                          op(2, "read", "k", 1, 50, 51), op(2, "read", "k", 2, 99, 100))
    assert (late, never, no_completion) == (True, True, True)


def test_accepts_cas_chains_and_ignores_failed_cas():
    assert valid(op(0, "write", "k", 1, 0, 1), op(0, "cas", "k", (1, 2), 2, 3),
                 op(1, "cas", "k", (2, 3), 4, 5), op(2, "cas", "k", (1, 4), 6, 7, "fail"),
                 op(2, "read", "k", 3, 8, 9)) is True


def test_accepts_info_cas_that_took_effect():
    assert valid(op(0, "write", "k", 1, 0, 1), op(1, "cas", "k", (1, 2), 2, 3, "info"),
                 op(2, "read", "k", 2, 10, 11)) is True


def test_failed_and_info_reads_have_no_effect():
    assert valid(op(0, "write", "k", 1, 0, 1), op(1, "read", "k", None, 2, 3, "fail"),
                 op(2, "read", "k", None, 2, 3, "info"), op(1, "read", "k", 1, 4, 5)) is True


# ------------------------------------------------------------------ rejected

def test_rejects_stale_read():
    verdict = check_register(history(op(0, "write", "k", 1, 0, 1), op(0, "write", "k", 2, 2, 3),
                                      op(1, "read", "k", 1, 4, 5)))
    assert verdict["valid"] is False
    anomaly = verdict["anomaly"]
    assert anomaly["kind"] == "impossible-read"
    assert "returned 1" in anomaly["message"] and "could only hold 2" in anomaly["message"]
    assert "write k=k 2" in anomaly["message"], "names the write that should have been seen"


def test_rejects_lost_write():
    verdict = check_register(history(op(0, "write", "k", 1, 0, 1), op(1, "read", "k", 1, 2, 3),
                                      op(0, "read", "k", None, 10, 11)))
    assert verdict["valid"] is False
    assert "returned None" in verdict["anomaly"]["message"]
    assert "could only hold 1" in verdict["anomaly"]["message"]


def test_rejects_value_reappearing_after_info_write_was_seen():
    assert valid(op(0, "write", "k", 1, 0, 1), op(1, "write", "k", 2, 2, 3, "info"),
                 op(2, "read", "k", 2, 4, 5), op(2, "read", "k", 1, 6, 7)) is False


def test_rejects_reads_disagreeing_on_the_order_of_finished_writes():
    assert valid(op(0, "write", "k", 1, 0, 10), op(1, "write", "k", 2, 0, 10),
                 op(2, "read", "k", 2, 20, 21), op(2, "read", "k", 1, 22, 23)) is False


def test_rejects_cas_that_succeeded_on_the_wrong_value():
    verdict = check_register(history(op(0, "write", "k", 1, 0, 1), op(0, "write", "k", 2, 2, 3),
                                      op(1, "cas", "k", (1, 3), 4, 5)))
    assert verdict["valid"] is False
    assert verdict["anomaly"]["kind"] == "impossible-cas"
    assert "from 1 to 3 succeeded" in verdict["anomaly"]["message"]


def test_rejects_read_of_a_value_never_written():
    verdict = check_register(history(op(0, "write", "k", 1, 0, 1), op(1, "read", "k", 9, 2, 3)))
    assert verdict["valid"] is False
    assert verdict["anomaly"]["kind"] == "read-of-unwritten-value"
    assert verdict["anomaly"]["message"] == "read of k=k returned 9, but no operation ever wrote 9"


def test_rejects_read_of_a_value_whose_write_failed():
    verdict = check_register(history(op(0, "write", "k", 9, 0, 1, "fail"),
                                      op(1, "read", "k", 9, 2, 3)))
    assert verdict["valid"] is False
    assert "FAILED" in verdict["anomaly"]["message"]


# ------------------------------------------------------------------ partitioning and budget

def test_keys_are_independent_registers():
    # As one register, reading 1 after write 2 finished would be stale; as two keys it is fine.
    ops = [op(0, "write", "a", 1, 0, 1), op(0, "write", "b", 2, 2, 3), op(1, "read", "a", 1, 4, 5)]
    verdict = check_register(history(*ops))
    assert verdict["valid"] is True and set(verdict["keys"]) == {"a", "b"}
    broken = check_register(history(*ops, op(0, "write", "a", 3, 6, 7), op(1, "read", "a", 1, 8, 9)))
    assert broken["valid"] is False
    assert broken["keys"]["a"]["valid"] is False and broken["keys"]["b"]["valid"] is True
    assert broken["anomaly"]["key"] == "a"


def test_time_budget_gives_unknown_never_pass():
    # 20 concurrent writes, then reads that no order explains: the search must try every
    # subset of writes before it can say no, far more than a 50 ms budget allows.
    writes = [op(i, "write", "k", i + 1, 0, 100) for i in range(20)]
    reads = [op(99, "read", "k", 1, 200, 201), op(99, "read", "k", 2, 202, 203)]
    started = time.monotonic()
    verdict = check_register(history(*writes, *reads), time_budget_s=0.05)
    assert time.monotonic() - started < 2
    assert verdict["valid"] == UNKNOWN
    assert "time budget" in verdict["keys"]["k"]["reason"]


def test_no_keys_is_unknown_never_pass():
    verdict = check_register([])
    assert (verdict["valid"], verdict["reason"]) == (UNKNOWN, "no operations: nothing to check")


# ------------------------------------------------------------------ size and a planted bug

def test_checks_10k_operations_10_clients_100_keys(capsys):
    events = synth.register_history(seed=5, ops=10_000, clients=10, keys=100)
    started = time.monotonic()
    verdict = check_register(events, time_budget_s=120)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[checker] 10,000 ops, 10 clients, 100 keys: {verdict['valid']} in {elapsed:.2f} s "
              f"({verdict['counts']['info']} info, {verdict['counts']['fail']} fail)")
    assert verdict["valid"] is True
    assert verdict["counts"]["ops"] == 10_000 and verdict["counts"]["info"] > 0


def test_catches_a_planted_stale_read_in_a_10k_history():
    events = synth.register_history(seed=6, ops=10_000, clients=10, keys=100)
    assert check_register(events)["valid"] is True
    planted, what = synth.plant_stale_read(events, seed=6)
    verdict = check_register(planted)
    assert verdict["valid"] is False
    anomaly = verdict["anomaly"]
    assert anomaly["key"] == what["key"]
    assert f"returned {what['stale_value']!r}" in anomaly["message"]


# ------------------------------------------------------------------ set and counter

def test_set_accepts_acknowledged_and_unknown_adds():
    verdict = check_set(history(op(0, "add", "s", 1, 0, 1), op(1, "add", "s", 2, 0, 1, "info"),
                                op(2, "add", "s", 3, 0, 1, "info"), op(0, "read", "s", [1, 3], 5, 6)))
    assert verdict["valid"] is True and verdict["counts"]["unknown_present"] == 1


def test_set_rejects_lost_phantom_and_failed_elements():
    lost = check_set(history(op(0, "add", "s", 1, 0, 1), op(0, "read", "s", [], 5, 6)))
    phantom = check_set(history(op(0, "add", "s", 1, 0, 1), op(0, "read", "s", [1, 7], 5, 6)))
    failed = check_set(history(op(0, "add", "s", 1, 0, 1, "fail"), op(0, "read", "s", [1], 5, 6)))
    assert (lost["valid"], lost["lost"]) == (False, [1])
    assert (phantom["valid"], phantom["phantom"]) == (False, [7])
    assert (failed["valid"], failed["failed_present"]) == (False, [1])


def test_set_without_a_final_read_is_unknown():
    assert check_set(history(op(0, "add", "s", 1, 0, 1)))["valid"] == UNKNOWN


def test_counter_accepts_final_value_between_acked_and_acked_plus_unknown():
    incrs = [op(0, "incr", "c", 1, 0, 1), op(1, "incr", "c", 1, 0, 1, "info"),
             op(2, "incr", "c", 1, 0, 1, "fail")]
    for final in (1, 2):
        verdict = check_counter(history(*incrs, op(0, "read", "c", final, 5, 6)))
        assert verdict["valid"] is True
        assert verdict["final"] == {"value": final, "acknowledged": 1, "unknown": 1}


def test_counter_rejects_lost_and_double_applied_increments():
    incrs = [op(0, "incr", "c", 1, 0, 1), op(1, "incr", "c", 1, 0, 1, "info")]
    low = check_counter(history(*incrs, op(0, "read", "c", 0, 5, 6)))
    high = check_counter(history(*incrs, op(0, "read", "c", 3, 5, 6)))
    assert low["valid"] is False and "lost" in low["anomaly"]["message"]
    assert high["valid"] is False and "twice" in high["anomaly"]["message"]


def test_counter_checks_every_read_not_only_the_last():
    """A bad read is caught even when a later read is fine.

    Mutation checked: judging only ``reads[-1:]`` passes both histories (it did, until this test).
    """
    incr = op(0, "incr", "c", 1, 0, 1)
    low = check_counter(history(incr, op(1, "read", "c", 0, 5, 6), op(1, "read", "c", 1, 7, 8)))
    high = check_counter(history(op(1, "read", "c", 1, 0, 1), op(0, "incr", "c", 1, 2, 3),
                                 op(1, "read", "c", 1, 5, 6)))
    assert (low["valid"], low["bad_reads"]) == (False, 1)
    assert low["anomaly"]["message"].startswith("read returned 0 outside [1, 1]")
    assert (high["valid"], high["bad_reads"]) == (False, 1)
    assert high["anomaly"]["message"].startswith("read returned 1 outside [0, 0]")


def test_counter_upper_bound_leaves_out_failed_increments():
    """FAILED means it did not happen, so a read may not count it, during the run or at the end.

    Mutation checked: letting FAILED increments into the upper bound (``incrs`` without the
    ``op.type != FAIL`` filter) accepts both reads of 2.
    """
    incrs = [op(0, "incr", "c", 1, 0, 1), op(1, "incr", "c", 1, 0, 2, "fail")]
    during = check_counter(history(*incrs, op(2, "read", "c", 2, 1, 3)))
    final = check_counter(history(*incrs, op(2, "read", "c", 2, 5, 6)))
    for verdict in (during, final):
        assert verdict["valid"] is False
        assert verdict["anomaly"]["message"].startswith("read returned 2 outside [")
        assert "applied twice or never asked for" in verdict["anomaly"]["message"]
    assert final["final"] == {"value": 2, "acknowledged": 1, "unknown": 0}


# ------------------------------------------------------------------ revisions

def put(process, value, revision, call, ret, prev=None, key="k"):
    """An ok write that learned its own revision and, given ``prev`` = (value, revision), the
    prev_kv it replaced."""
    learned = [(key, revision, value, True)] + ([(key, prev[1], prev[0], False)] if prev else [])
    return op(process, "write", key, value, call, ret, revisions=learned)


def get(process, value, revision, call, ret, key="k"):
    """An ok read that saw ``value`` at mod_revision ``revision``."""
    return op(process, "read", key, value, call, ret, revisions=[(key, revision, value, False)])


def test_revisions_accept_a_clean_history_and_the_register_ignores_them():
    events = history(put(0, 1, 3, 0, 1), get(1, 1, 3, 2, 3), put(0, 2, 4, 4, 5, prev=(1, 3)),
                     put(1, 3, 9, 6, 7, prev=(2, 4)), get(2, 3, 9, 8, 9),
                     put(0, 10, 5, 10, 11, key="other"),
                     op(2, "cas", "k", (3, 4), 12, 13, revisions=[("k", 12, 4, True)]),
                     op(1, "write", "k", 5, 14, 15, "info"), get(2, 4, 12, 16, 17))
    verdict = add_check(check_register(events), check_revisions(events))
    assert verdict["valid"] is True, verdict["anomaly"]
    assert verdict["checker"] == "linearizable-register + revisions"
    assert verdict["revisions"]["counts"] == {"keys": 2, "facts": 10, "writes": 5, "anomalies": 0}


def test_revisions_catch_one_revision_with_two_values():
    # Two concurrent writes answered with one revision: Castor's old revision per Raft entry.
    verdict = check_revisions(history(put(0, 1, 5, 0, 2), put(1, 2, 5, 1, 3), get(2, 2, 5, 4, 5)))
    assert verdict["valid"] is False and verdict["counts"]["anomalies"] == 1
    anomaly = verdict["anomaly"]
    assert (anomaly["kind"], anomaly["key"], anomaly["revision"]) == ("revision-reused", "k", 5)
    assert anomaly["message"].startswith("revision 5 of k=k carried two values: 1 (written by "
                                         "write k=k 1 (ok, p0, 0.000000-0.002000 s)) and 2 "
                                         "(written by write k=k 2 (ok, p1, 0.001000-0.003000 s))")
    assert anomaly["at_ns"] == 3 * MS


def test_revisions_catch_a_reused_revision_from_reads_and_prev_kv():
    read = check_revisions(history(put(0, 1, 5, 0, 1), put(0, 2, 6, 2, 3), get(1, 2, 5, 4, 5)))
    prev = check_revisions(history(put(0, 1, 5, 0, 1), put(1, 2, 6, 2, 3, prev=(7, 5))))
    assert read["anomaly"]["kind"] == prev["anomaly"]["kind"] == "revision-reused"
    assert "2 (seen by read k=k -> 2" in read["anomaly"]["message"]
    assert "7 (seen by write k=k 2" in prev["anomaly"]["message"]


def test_revisions_catch_a_later_write_with_a_lower_revision():
    verdict = check_revisions(history(put(0, 1, 7, 0, 1), put(1, 2, 6, 2, 3)))
    assert verdict["valid"] is False
    anomaly = verdict["anomaly"]
    assert anomaly["kind"] == "revision-not-increasing" and anomaly["revision"] == 6
    assert anomaly["message"].startswith("a write of k=k got revision 6, but revision 7 of k=k "
                                         "was known before it was invoked: 1 (written by write")
    # Known from a read is as good as from a write; an equal revision is not an increase.
    seen = check_revisions(history(get(0, 1, 9, 0, 1), put(1, 2, 8, 2, 3)))
    equal = check_revisions(history(put(0, 1, 7, 0, 1), put(1, 1, 7, 2, 3)))
    assert seen["anomaly"]["kind"] == equal["anomaly"]["kind"] == "revision-not-increasing"


def test_revisions_accept_overlapping_writes_in_either_order():
    for first, second in ((7, 8), (8, 7)):
        verdict = check_revisions(history(put(0, 1, first, 0, 10), put(1, 2, second, 5, 6),
                                           put(2, 3, 9, 1, 20), get(3, 2, second, 4, 21)))
        assert verdict["valid"] is True, verdict["anomaly"]
    # A read that had not returned when a write began says nothing about the write's revision.
    assert check_revisions(history(get(0, 3, 9, 0, 5), put(1, 2, 8, 4, 6)))["valid"] is True


def test_add_check_keeps_the_earliest_anomaly():
    stale = [op(0, "write", "k", 1, 0, 1), op(0, "write", "k", 2, 2, 3),
             op(1, "read", "k", 1, 4, 5)]
    early = history(*stale, put(2, 10, 5, 0, 2, key="j"), put(3, 11, 5, 1, 3, key="j"))
    late = history(*stale, put(2, 10, 5, 6, 8, key="j"), put(3, 11, 5, 7, 9, key="j"))
    assert add_check(check_register(early), check_revisions(early))["anomaly"]["kind"] == \
        "revision-reused"
    combined = add_check(check_register(late), check_revisions(late))
    assert combined["valid"] is False and combined["anomaly"]["kind"] == "impossible-read"
    assert combined["revisions"]["valid"] is False


# ------------------------------------------------------------------ against brute force

def brute_force_linearizable(ops):
    """Try every order of every admissible subset: the definition, for tiny histories."""
    INF = float("inf")
    must = [o for o in ops if o[6] == "ok"]
    maybe = [o for o in ops if o[6] == "info" and o[1] != "read"]
    for mask in range(1 << len(maybe)):
        chosen = must + [o for i, o in enumerate(maybe) if mask >> i & 1]
        for order in itertools.permutations(chosen):
            ends = [INF if o[6] == "info" else o[5] for o in order]
            if any(ends[j] < order[i][4] for i in range(len(order)) for j in range(i + 1, len(order))):
                continue
            state, fine = None, True
            for o in order:
                if o[1] == "read":
                    fine = o[3] == state
                elif o[1] == "write":
                    state = o[3]
                else:
                    fine, state = state == o[3][0], o[3][1]
                if not fine:
                    break
            if fine:
                return True
    return False


def test_agrees_with_brute_force_on_small_random_histories():
    rng = random.Random(11)
    disagreements, outcomes = [], set()
    for _ in range(400):
        ops, written = [], [None]
        for p in range(rng.randrange(2, 7)):
            call = rng.randrange(20)
            ret = call + rng.randrange(1, 8)
            f = rng.choice(("read", "write", "cas"))
            outcome = rng.choice(("ok", "ok", "ok", "info", "fail"))
            if f == "read":
                value = rng.choice(written + [len(written)])
            elif f == "write":
                value = len(written)
                written.append(value)
            else:
                value = (rng.choice(written), len(written))
                written.append(len(written))
            ops.append(op(p, f, "k", value, call, ret, outcome))
        expected = brute_force_linearizable(ops)
        got = check_register(history(*ops))["valid"]
        outcomes.add(expected)
        if got is not expected:
            disagreements.append((ops, expected, got))
    assert outcomes == {True, False}, "the generator must produce both kinds"
    assert not disagreements, disagreements[:3]

"""The history model: Jepsen's invoke/ok/fail/info semantics and the JSONL format."""

import pytest

from castor_chaos.history import (FAIL, INFO, OK, KeyRevision, Recorder, operations, read_jsonl,
                                  write_jsonl)


def ticking_clock():
    t = iter(range(1_000, 10**9, 1_000))
    return lambda: next(t)


def test_recorder_retires_a_process_after_info():
    rec = Recorder(concurrency=2, clock=ticking_clock())
    rec.invoke(0, "write", "k", 1)
    rec.complete(0, INFO, error="timeout")
    assert rec.process(0) == 2, "after an info the worker continues under process + concurrency"
    rec.invoke(0, "read", "k")
    rec.complete(0, OK, 1)
    assert rec.process(1) == 1


def test_recorder_rejects_overlapping_operations_on_one_process():
    rec = Recorder(concurrency=1, clock=ticking_clock())
    rec.invoke(0, "read", "k")
    with pytest.raises(ValueError):
        rec.invoke(0, "read", "k")
    with pytest.raises(ValueError):
        rec.complete(0, "maybe")


def test_operations_pair_and_treat_unfinished_as_info():
    rec = Recorder(concurrency=3, clock=ticking_clock())
    rec.invoke(0, "write", "a", 7)
    rec.invoke(1, "read", "a")
    rec.invoke(2, "write", "a", 8)
    rec.complete(1, OK, 7)
    rec.complete(0, FAIL, error="not leader")
    ops = {op.process: op for op in operations(rec.events())}
    assert ops[1].type == OK and ops[1].value == 7
    assert ops[0].type == FAIL and ops[0].return_ns is not None and ops[0].error == "not leader"
    assert ops[2].type == INFO and ops[2].return_ns is None and ops[2].complete_ns is None
    assert ops[0].latency_ns() > 0 and ops[2].latency_ns() is None


def test_jsonl_round_trip(tmp_path):
    rec = Recorder(concurrency=1, clock=ticking_clock())
    rec.invoke(0, "cas", "k", [1, 2])
    rec.complete(0, INFO, error="timeout")
    rec.invoke(0, "read", "k")
    rec.complete(0, OK, 2, revisions=[KeyRevision("k", 17, 2, False)])
    path = tmp_path / "history.jsonl"
    write_jsonl(path, rec.events())
    assert read_jsonl(path) == rec.events()
    assert len(path.read_text().splitlines()) == 4
    assert operations(read_jsonl(path))[1].revisions == (("k", 17, 2, False),)


def test_only_ok_completions_carry_revisions():
    rec = Recorder(concurrency=1, clock=ticking_clock())
    rec.invoke(0, "write", "k", 1)
    with pytest.raises(ValueError):
        rec.complete(0, INFO, revisions=[("k", 3, 1, True)])

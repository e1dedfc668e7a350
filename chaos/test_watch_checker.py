"""check_watch on hand-made histories: a clean run passes, and each way a stream can be wrong
(a gap, a repeat, going back, two streams disagreeing, an acknowledged write in no stream, a
final state the streams do not replay to) is reported by its kind."""

from castor_chaos.watch_checker import check_watch
from histories import history, op

# Writes: revision 1 puts a=1, 2 puts b=2, 3 deletes a, 4 puts b=4.
WRITES = (
    op(0, "put", "watch/a", 1, 0, 1, revisions=[("watch/a", 1, 1, True)]),
    op(0, "put", "watch/b", 2, 2, 3, revisions=[("watch/b", 2, 2, True)]),
    op(0, "delete", "watch/a", None, 4, 5, revisions=[("watch/a", 3, None, True)]),
    op(0, "put", "watch/b", 4, 6, 7, revisions=[("watch/b", 4, 4, True)]),
)
EVENTS = [[1, "PUT", "watch/a", "1"], [2, "PUT", "watch/b", "2"], [3, "DELETE", "watch/a", ""],
          [4, "PUT", "watch/b", "4"]]
FINAL = op(9, "read", "state", {"revision": 4, "state": {"watch/b": "4"}}, 20, 21)


def watch(process, node, events, at, resumes=0):
    return op(process, "watch", node, {"events": events, "resumes": resumes}, at, at + 1)


def verdict(*streams, final=FINAL):
    return check_watch(history(*WRITES, *streams, final))


def test_streams_that_are_the_committed_history_pass():
    v = verdict(watch(1, "n1", EVENTS[:2], 10), watch(1, "n1", EVENTS[2:], 11, resumes=1),
                watch(2, "n2", EVENTS, 10))
    assert v["valid"] is True, v
    assert v["resumes"] == 1 and v["revisions"] == 4 and v["events_delivered"] == 8


def test_a_stream_that_skips_a_revision_has_a_gap():
    v = verdict(watch(1, "n1", EVENTS[:1] + EVENTS[2:], 10), watch(2, "n2", EVENTS, 10))
    assert v["valid"] is False and v["anomaly"]["kind"] == "gap", v


def test_a_revision_every_stream_missed_is_a_gap_against_the_final_read():
    missing_3 = EVENTS[:2] + EVENTS[3:]
    v = verdict(watch(1, "n1", missing_3, 10), watch(2, "n2", missing_3, 10))
    assert v["valid"] is False and any(a["kind"] == "gap" for a in v["anomalies"]), v


def test_a_revision_delivered_twice_is_reported():
    v = verdict(watch(1, "n1", EVENTS[:2], 10), watch(1, "n1", EVENTS[1:], 11))
    assert v["valid"] is False and any(a["kind"] in ("once", "order") for a in v["anomalies"]), v


def test_a_stream_that_goes_back_is_reported():
    v = verdict(watch(1, "n1", [EVENTS[1], EVENTS[0], EVENTS[2], EVENTS[3]], 10))
    assert v["valid"] is False and v["anomaly"]["kind"] == "order", v


def test_two_streams_that_disagree_on_a_revision_are_reported():
    other = [list(e) for e in EVENTS]
    other[1][3] = "999"
    v = verdict(watch(1, "n1", EVENTS, 10), watch(2, "n2", other, 10))
    assert v["valid"] is False and any(a["kind"] == "agreement" for a in v["anomalies"]), v


def test_an_acknowledged_write_in_no_stream_is_reported():
    changed = [list(e) for e in EVENTS]
    changed[3][3] = "5"  # revision 4 holds b=5, not the acknowledged b=4
    v = verdict(watch(1, "n1", changed, 10),
                final=op(9, "read", "state", {"revision": 4, "state": {"watch/b": "5"}}, 20, 21))
    assert v["valid"] is False and v["anomaly"]["kind"] == "complete", v


def test_streams_that_do_not_replay_to_the_final_state_are_reported():
    v = verdict(watch(1, "n1", EVENTS, 10),
                final=op(9, "read", "state", {"revision": 4, "state": {"watch/b": "4", "watch/a": "1"}}, 20, 21))
    assert v["valid"] is False and v["anomaly"]["kind"] == "state", v


def test_no_stream_or_no_final_read_decides_nothing():
    assert verdict()["valid"] == "unknown"
    assert check_watch(history(*WRITES, watch(1, "n1", EVENTS, 10)))["valid"] == "unknown"

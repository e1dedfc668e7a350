"""Answers a node could be made to build or hold without bound (PROMISES 6): a Txn whose reads
would answer far more than a frame, and clients that pipeline requests but never read the
answers. Each is refused or cut off by name, the node keeps serving others meanwhile, and its
memory stays bounded (hostile.RSS_MAX, checked when the cluster stops)."""
import threading
import time

import pytest

from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, Connection, frame
from cluster import running
from hostile import MiB, HostileCluster, answered, assert_node_serves, rejected
from http_calls import wait_until

# Long enough to see the node stop reading first (it does within a second), short enough not
# to wait the default 30 s.
WRITE_TIMEOUT_S = 8


@pytest.fixture
def cluster(tmp_path):
    with running(HostileCluster(tmp_path, extra_args=["--client-write-timeout-ms", str(WRITE_TIMEOUT_S * 1000)])) as c:
        yield c


def fill(cluster, prefix, count, size):
    c = cluster.client()
    for i in range(count):
        r = c.put(b"%s/%03d" % (prefix, i), bytes([65 + i % 26]) * size)
        assert r.ok, r.message
    c.close()


def term(cluster, name):
    return cluster.status(name).term


def test_a_txn_that_could_answer_hundreds_of_mib_is_too_large_before_it_runs(cluster):
    # 128 Ranges over keys of 1 MiB values asked for a 384 MiB answer: the leader reached
    # 1.28 GB, stalled ~4 s and lost its leadership.
    leader = cluster.wait_for_leader()
    fill(cluster, b"huge", 3, MiB)
    start_term, before = term(cluster, leader), answered(cluster, leader, "txn", "TOO_LARGE")
    ranges = [kv_pb2.RequestOp(range=kv_pb2.RangeRequest(key=b"huge/", prefix=True))] * 128
    gets = [kv_pb2.RequestOp(get=kv_pb2.GetRequest(key=b"huge/%03d" % i)) for i in (0, 1, 2, 0)]
    c = cluster.client()
    for ops in (ranges, gets):
        r = c.txn([], ops)
        assert r.code == kv_pb2.TOO_LARGE, (r.code, r.message)
        assert "answer" in r.message and "limit" in r.message, r.message
    # Three maximal values fit one answer: the bound refuses what cannot fit, nothing less.
    r = c.txn([], gets[:3])
    assert r.ok and [len(x.get.kv.value) for x in r.response.write.txn.responses] == [MiB] * 3, r.message
    c.close()
    assert answered(cluster, leader, "txn", "TOO_LARGE") == before + 2
    assert term(cluster, leader) == start_term and cluster.leader() == leader, "the leader lost its term"
    assert_node_serves(cluster, leader, "huge/001", b"B" * MiB)


class Unread:
    """A client connection that sends `frames` as fast as the node takes them and never reads
    an answer. `sent` counts the bytes the node accepted; `cut_off` is set when sending fails
    because the node closed the connection."""

    def __init__(self, cluster, name, frames: bytes):
        self.conn = Connection("127.0.0.1", cluster.client_port[name], "castor", 5.0)
        self.sent, self.cut_off = 0, threading.Event()
        self.thread = threading.Thread(target=self._send, args=(frames,), daemon=True)
        self.thread.start()

    def _send(self, frames):
        self.conn.sock.settimeout(120)
        view = memoryview(frames)
        try:
            while self.sent < len(frames):
                self.sent += self.conn.sock.send(view[self.sent:self.sent + 65536])
        except OSError:
            self.cut_off.set()

    def close(self):
        self.conn.close()
        self.thread.join(5)


def request_frame(**body):
    """One client request frame; the node does not read its id, so one frame can be sent many
    times over."""
    return frame(KIND_REQUEST, kv_pb2.ClientRequest(request_id=1, **body).SerializeToString())


def test_a_client_that_never_reads_is_stopped_then_cut_off_and_others_are_served(cluster):
    # 50,000 pipelined Ranges never read took a node from 27 to 418 MB, and kept growing. Here
    # the answers are small, so that 4,096 of them in flight stay under the 64 MiB cut-off: the
    # node must stop reading (back-pressure), then close the connection after the write timeout
    # (30 s by default; WRITE_TIMEOUT_S here).
    leader = cluster.wait_for_leader()
    fill(cluster, b"small", 1, 100)
    before = rejected(cluster, leader, "client", "slow reader")
    # More than the kernel's socket buffers take (about 10 MB on loopback), so that the sender
    # sees the node stop reading.
    frames = request_frame(range=kv_pb2.RangeRequest(key=b"small/", prefix=True)) * 1_500_000
    rss_before = cluster.anon_rss(leader)
    slow = Unread(cluster, leader, frames)
    try:
        wait_until("the node stops taking requests", lambda: slow.sent > 0)
        time.sleep(2)
        stalled_at = slow.sent
        time.sleep(1)
        assert slow.sent == stalled_at < len(frames), (slow.sent, len(frames))
        assert not slow.cut_off.is_set(), "cut off before its answers reached 64 MiB or the write timeout"
        grew = cluster.anon_rss(leader) - rss_before
        assert grew < 16 * MiB, f"{grew / MiB:.0f} MiB held for one client that stopped reading"
        # Others are served meanwhile, by the same node.
        c = cluster.client()
        c.endpoints = [c._parse(cluster.endpoint(leader))]
        assert c.put(b"while/stalled", b"yes").ok and c.get(b"while/stalled").response.get.kv.value == b"yes"
        c.close()
        # A write not taken within the timeout closes the connection, named and counted.
        assert slow.cut_off.wait(WRITE_TIMEOUT_S + 10), "the node kept a connection whose answers were not taken"
        wait_until("the slow reader is counted", lambda: rejected(cluster, leader, "client", "slow reader") > before)
    finally:
        slow.close()
    assert "slow reader" in cluster.log(leader)
    assert_node_serves(cluster, leader, "small/000", b"A" * 100)


# Answers so large that the requests read before the node stops reading already answer more
# than 64 MiB: the connection is closed at once rather than held. (keys, value size, request,
# how many pipelined)
CUT_OFF = {
    # 17 KiB each.
    "ranges of 16 KiB": (16, 1024, {"range": kv_pb2.RangeRequest(key=b"cut/", prefix=True)}, 500_000),
    # 300 Gets of a 1 MiB value never read took a node from 448 MB to 1.1 GB.
    "gets of 1 MiB": (1, MiB, {"get": kv_pb2.GetRequest(key=b"cut/000")}, 300),
}


@pytest.mark.parametrize("case", CUT_OFF)
def test_a_client_that_pipelines_large_answers_is_cut_off_at_64_mib(cluster, case):
    keys, size, request, count = CUT_OFF[case]
    leader = cluster.wait_for_leader()
    fill(cluster, b"cut", keys, size)
    before = rejected(cluster, leader, "client", "slow reader")
    slow = Unread(cluster, leader, request_frame(**request) * count)
    try:
        wait_until("the node cuts the connection off, counted as a slow reader",
                   lambda: rejected(cluster, leader, "client", "slow reader") > before, timeout_s=20)
    finally:
        slow.close()
    assert "bytes of answers not taken" in cluster.log(leader)
    assert cluster.anon_rss(leader) < 64 * MiB, cluster.anon_rss(leader) // MiB
    assert_node_serves(cluster, leader, "cut/000", b"A" * size)

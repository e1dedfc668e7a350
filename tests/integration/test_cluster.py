"""Integration tests: real castord processes on loopback (issue 4)."""
import signal
import time

from castor_client import Client, Outcome
from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, Connection
from cluster import Cluster


def test_put_get_and_cas_round_trips(cluster):
    c = cluster.client()
    assert c.put(b"models/fraud/serving", b"v1").ok
    got = c.get(b"models/fraud/serving")
    assert got.ok and got.response.get.kv.value == b"v1"
    rev = got.response.get.kv.mod_revision
    swapped = c.cas(b"models/fraud/serving", b"v2", expect_mod_revision=rev)
    assert swapped.ok and swapped.response.write.txn.succeeded
    stale = c.cas(b"models/fraud/serving", b"v3", expect_mod_revision=rev)
    assert stale.ok and not stale.response.write.txn.succeeded
    assert c.get(b"models/fraud/serving").response.get.kv.value == b"v2"
    assert c.cas(b"locks/a", b"me", expect_absent=True).response.write.txn.succeeded
    assert not c.cas(b"locks/a", b"you", expect_absent=True).response.write.txn.succeeded


def test_killing_the_leader_elects_another_within_2s_and_keeps_every_acknowledged_write(cluster):
    c = cluster.client()
    acked = {}
    for i in range(50):
        k, v = f"k{i}".encode(), f"v{i}".encode()
        if c.put(k, v).ok:
            acked[k] = v
    assert len(acked) == 50
    old = cluster.wait_for_leader()
    cluster.kill(old)
    t0 = time.monotonic()
    new = cluster.wait_for_leader(timeout_s=2.0, not_name=old)
    assert new != old, f"new leader after {time.monotonic() - t0:.2f} s"
    c = cluster.client()
    for k, v in acked.items():
        r = c.get(k)
        assert r.ok and r.response.get.kv.value == v


def test_a_restarted_node_catches_up_from_the_log(cluster):
    c = cluster.client()
    victim = next(n for n in cluster.names if n != cluster.wait_for_leader())
    cluster.kill(victim)
    for i in range(100):
        assert c.put(f"a{i}".encode(), b"x").ok
    cluster.start(victim)
    want = cluster.status(cluster.wait_for_leader()).commit
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = cluster.status(victim)
        if s and s.applied >= want:
            break
        time.sleep(0.05)
    assert s.applied >= want
    local = cluster.client()
    local.endpoints = [local._parse(cluster.endpoint(victim))]
    assert local.get(b"a99", serializable=True).response.get.kv.value == b"x"


def test_after_compaction_a_restarted_node_catches_up_by_install_snapshot(tmp_path):
    c3 = Cluster(tmp_path, extra_args=["--snapshot-entries", "20"])
    try:
        c3.start_all()
        c3.assert_caught_up_by_snapshot(c3.miss_a_compaction())
    finally:
        c3.stop_all()


def retry_after_a_lost_answer(cluster):
    """A Txn applied by the cluster whose answer is lost with its leader, retried by the client
    with the same (client_id, seq). Returns (whether the retry's answer says the compare held,
    the key's value, its version) afterwards."""
    c = cluster.client(timeout_s=10.0)
    assert c.put(b"warmup", b"1").ok  # registers the session with the current leader
    leader = cluster.wait_for_leader()
    # The write: create `counter` if absent, else (second application) bump it to "twice".
    txn = kv_pb2.WriteRequest(txn=kv_pb2.TxnRequest(
        compares=[kv_pb2.Compare(key=b"counter", op=kv_pb2.Compare.EQUAL, version=0)],
        success=[kv_pb2.RequestOp(put=kv_pb2.PutRequest(key=b"counter", value=b"once"))],
        failure=[kv_pb2.RequestOp(put=kv_pb2.PutRequest(key=b"counter", value=b"twice"))]))
    c._seq += 1
    txn.client_id, txn.seq, txn.lowest_outstanding_seq = c._client_id, c._seq, c._seq
    req = kv_pb2.ClientRequest(request_id=999, write=txn)
    # Send it to the leader, wait until the cluster has applied it (a follower reads "once"),
    # then kill the leader before reading its answer: the client never learns the outcome.
    raw = Connection("127.0.0.1", cluster.client_port[leader], "castor", 2.0)
    raw.send(KIND_REQUEST, req.SerializeToString())
    follower = Client([cluster.endpoint(next(n for n in cluster.names if n != leader))], timeout_s=2.0)
    deadline = time.monotonic() + 10
    while follower.get(b"counter", serializable=True).response.get.kv.value != b"once":
        assert time.monotonic() < deadline, "the first attempt was never applied"
        time.sleep(0.01)
    follower.close()
    cluster.kill(leader)
    cluster.wait_for_leader(timeout_s=5.0, not_name=leader)
    # The client retries the same (client_id, seq) wherever the leader now is.
    c._seq -= 1
    r = c._write(kv_pb2.WriteRequest(txn=txn.txn))
    assert r.ok, r.message
    cluster.start(leader)
    got = c.get(b"counter").response.get.kv
    return r.response.write.txn.succeeded, got.value, got.version


def test_a_write_retried_after_the_leader_dies_mid_request_is_applied_once(cluster):
    # The original answer (the compare held), not a second run of the Txn (its failure branch).
    assert retry_after_a_lost_answer(cluster) == (True, b"once", 1)


def test_the_retry_test_sees_a_server_that_applies_retries_again(tmp_path):
    # The planted bug --unsafe-skip-dedup applies the retry a second time: the test above must
    # be able to tell (it failed 3 of 3 runs against it).
    planted = Cluster(tmp_path, extra_args=["--unsafe-skip-dedup"])
    try:
        planted.start_all()
        assert retry_after_a_lost_answer(planted) == (False, b"twice", 2)
    finally:
        planted.stop_all()


def test_a_paused_leader_does_not_hold_a_python_client_call_for_its_whole_deadline(cluster):
    """docs/CHAOS.md finding: each attempt waits at most attempt_timeout_s, then goes elsewhere."""
    c = cluster.client(timeout_s=8.0)
    assert c.put(b"before", b"x").ok
    leader = cluster.wait_for_leader()
    proc = cluster.procs[leader]
    proc.send_signal(signal.SIGSTOP)
    try:
        r = c.put(b"during", b"y")  # first sent to the paused leader
        assert r.outcome == Outcome.OK, r
    finally:
        proc.send_signal(signal.SIGCONT)



"""Integration tests: real castord processes on loopback (issue 4)."""
import os
import random
import signal
import socket
import struct
import subprocess
import time

import pytest

from castor_client import Outcome
from castor_client.proto import kv_pb2
from castor_client.wire import KIND_HELLO, KIND_REQUEST, Connection, ConnectionLost, frame
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
    new = cluster.wait_for_leader(timeout=2.0, not_name=old)
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
        victim = c3.miss_a_compaction()
        s = c3.wait_applied(victim, 200)
        assert s and s.applied >= 200
        assert s.snapshot_index > 0
        assert "installed the leader's snapshot" in c3.log(victim)
        local = c3.client()
        local.endpoints = [local._parse(c3.endpoint(victim))]
        assert local.get(b"s7", serializable=True).response.get.kv.value == b"7"
    finally:
        c3.stop_all()


def test_a_node_of_another_cluster_is_refused(tmp_path):
    c = Cluster(tmp_path)
    try:
        c.start_all()
        # n3 restarted believing it belongs to cluster "other": nobody talks to it.
        c.kill("n3")
        args = c.args("n3", cluster_id="other")
        import subprocess
        log = open(tmp_path / "n3-other.log", "ab")
        c.procs["n3"] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "refused connection" not in c.log("n1") + c.log("n2"):
            time.sleep(0.05)
        assert "refused connection" in c.log("n1") + c.log("n2")
        assert c.client().put(b"still", b"works").ok
        # A client that names another cluster is refused too, and told why.
        with pytest.raises(ConnectionLost, match="refused the connection: cluster id 'other'"):
            Connection("127.0.0.1", c.client_port["n1"], "other", 2.0)
    finally:
        c.stop_all()


def test_random_bytes_on_client_and_peer_ports_change_nothing(cluster):
    c = cluster.client()
    assert c.put(b"precious", b"1").ok
    rng = random.Random(7)
    ports = list(cluster.client_port.values()) + list(cluster.peer_port.values())
    for _ in range(60):
        port = rng.choice(ports)
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600)))
            if rng.random() < 0.3:
                junk = frame(KIND_HELLO, b"\x0d\x54\x53\x41\x43") + junk  # a broken Hello
            try:
                s.sendall(junk)
            except OSError:
                pass
    assert all(p.poll() is None for p in cluster.procs.values()), "a node died"
    r = c.get(b"precious")
    assert r.ok and r.response.get.kv.value == b"1"
    assert c.put(b"precious", b"2").ok
    # An oversize frame length on the client port is refused without harm too.
    conn = Connection("127.0.0.1", cluster.client_port["n1"], "castor", 2.0)
    conn.sock.sendall(b"\x7f\xff\xff\xff\x03")
    assert conn.sock.recv(10) == b""
    assert c.get(b"precious").response.get.kv.value == b"2"


def test_an_oversize_value_gets_its_named_error(cluster):
    c = cluster.client()
    r = c.put(b"big", b"x" * ((1 << 20) + 1))
    assert r.outcome is Outcome.FAILED
    assert r.code == kv_pb2.TOO_LARGE, r.message
    assert "value" in r.message
    assert c.get(b"big").response.get.kv.value == b""


def test_a_write_retried_after_the_leader_dies_mid_request_is_applied_once(cluster):
    c = cluster.client(timeout=10.0)
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
    # Send it to the leader and kill the leader before reading any answer.
    raw = Connection("127.0.0.1", cluster.client_port[leader], "castor", 2.0)
    raw.send(KIND_REQUEST, req.SerializeToString())
    time.sleep(0.02)
    cluster.kill(leader)
    cluster.wait_for_leader(timeout=5.0, not_name=leader)
    # The client retries the same (client_id, seq) wherever the leader now is.
    c._seq -= 1
    r = c._write(kv_pb2.WriteRequest(txn=txn.txn))
    assert r.ok, r.message
    cluster.start(leader)
    got = c.get(b"counter")
    assert got.response.get.kv.value == b"once"
    assert got.response.get.kv.version == 1


def test_a_paused_leader_does_not_hold_a_python_client_call_for_its_whole_deadline(cluster):
    """docs/CHAOS.md finding: each attempt waits at most attempt_timeout, then goes elsewhere."""
    c = cluster.client(timeout=8.0)
    assert c.put(b"before", b"x").ok
    leader = cluster.wait_for_leader()
    proc = cluster.procs[leader]
    proc.send_signal(signal.SIGSTOP)
    try:
        r = c.put(b"during", b"y")  # first sent to the paused leader
        assert r.outcome == Outcome.OK, r
    finally:
        proc.send_signal(signal.SIGCONT)


def test_a_port_in_use_stops_castord_naming_it_and_not_a_signal(tmp_path):
    c = Cluster(tmp_path, nodes=1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", c.client_port["n1"]))
        taken.listen()
        out = subprocess.run(c.args("n1"), capture_output=True, text=True, timeout=20)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "cannot listen for clients" in text and "Address already in use" in text, text
    assert "signal" not in text, text


def test_a_flood_of_hellos_with_invalid_utf8_logs_a_few_lines_not_one_each(tmp_path):
    # libprotobuf logs every string field with invalid UTF-8 it parses; castord rate-limits it.
    c = Cluster(tmp_path, nodes=1)
    c.start_all()
    try:
        hello = b"\x0d" + struct.pack("<I", 0x43415354) + b"\x10\x01" + b"\x1a\x02\xff\xfe" + b"\x28\x01"
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", c.client_port["n1"]), timeout=2) as s:
                s.sendall(struct.pack(">IB", len(hello) + 1, KIND_HELLO) + hello)
                try:
                    s.recv(100)
                except OSError:
                    pass
        lines = [l for l in c.log("n1").splitlines() if "UTF-8" in l]
        assert 1 <= len(lines) <= 5, lines[:10]
        assert c.client().put(b"still", b"serving").ok
    finally:
        c.stop_all()

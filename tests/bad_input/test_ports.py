"""Bad input on the client and peer ports: nodes and clients of another cluster, random bytes,
broken Hellos, oversize frames and values, a port already taken, a flood of Hellos whose strings
are not UTF-8. Each is refused with its reason, and the data stays as it was."""
import random
import socket
import struct
import subprocess
import time

import pytest

from castor_client import Outcome
from castor_client.proto import kv_pb2
from castor_client.wire import KIND_HELLO, Connection, ConnectionLost, frame
from hostile import HostileCluster, answered
from http_calls import metrics, value, wait_until


def test_a_node_of_another_cluster_is_refused(tmp_path):
    c = HostileCluster(tmp_path)
    try:
        c.start_all()
        # n3 restarted believing it belongs to cluster "other": nobody talks to it.
        c.kill("n3")
        args = c.args("n3", cluster_id="other")
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


def refusals(cluster):
    """castor_rejected_total of every node, client and peer ports together."""
    return sum(value(metrics(cluster, n), "castor_rejected_total", listener=listener) or 0
               for n in cluster.names for listener in ("client", "peer"))


def test_random_bytes_on_client_and_peer_ports_change_nothing(cluster):
    c = cluster.client()
    assert c.put(b"precious", b"1").ok
    rng = random.Random(7)
    ports = list(cluster.client_port.values()) + list(cluster.peer_port.values())
    before = refusals(cluster)
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
    wait_until("each of the 60 connections is refused and counted once",
               lambda: refusals(cluster) == before + 60, describe=lambda: refusals(cluster) - before)
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
    before = sum(answered(cluster, n, "put", "TOO_LARGE") for n in cluster.names)
    r = c.put(b"big", b"x" * ((1 << 20) + 1))
    assert r.outcome is Outcome.FAILED
    assert r.code == kv_pb2.TOO_LARGE, r.message
    assert "value" in r.message
    assert c.get(b"big").response.get.kv.value == b""
    assert sum(answered(cluster, n, "put", "TOO_LARGE") for n in cluster.names) == before + 1


def test_a_port_in_use_stops_castord_naming_it_and_not_a_signal(tmp_path):
    c = HostileCluster(tmp_path, nodes=1)
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
    c = HostileCluster(tmp_path, nodes=1)
    try:
        c.start_all()
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


def test_a_connection_that_never_finishes_its_hello_is_closed_in_time_saying_so(cluster):
    # Slowloris before the handshake; the log once said only "Operation canceled".
    victim = cluster.wait_for_leader()
    before = refusals(cluster)
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for port in (cluster.client_port[victim], cluster.peer_port[victim])]
    for s in slow:
        s.sendall(b"\x00\x00")  # half of a frame's length
    for s in slow:
        assert s.recv(10) == b"", "the node answered half a frame"  # closed in time, or recv times out
        s.close()
    assert refusals(cluster) == before + 2
    log = cluster.log(victim)
    assert "client port: refused connection" in log and "no complete frame within 5000 ms" in log, log[-2000:]
    assert "peer port: refused connection" in log and "no complete frame within 2000 ms" in log, log[-2000:]
    assert cluster.client().get(b"anything").ok

"""Connections that hold a node's client slots (PROMISES 6): idle ones are closed after
--client-idle-timeout-ms; at --client-connections-max a new connection takes the idlest one's
slot, so an operator's castorctl still gets in; when none is idle, the newcomer is told why
instead of being cut off in silence."""
import socket
import subprocess
import time

import pytest

from castor_client.proto import kv_pb2, net_pb2
from castor_client.wire import KIND_HELLO, KIND_REQUEST, MAGIC, PROTOCOL_VERSION, Connection, ConnectionLost, frame
from cluster import BUILD
from cluster import running
from hostile import MiB, HostileCluster, assert_node_serves, rejected
from http_calls import wait_until


SLOTS = 4


@pytest.fixture
def node(tmp_path):
    args = ["--client-connections-max", str(SLOTS), "--client-idle-timeout-ms", "1500"]
    with running(HostileCluster(tmp_path, nodes=1, extra_args=args)) as c:
        yield c


def castorctl(cluster, *args):
    return subprocess.run([str(BUILD / "tools" / "castorctl"), "--endpoints", cluster.endpoint("n1"), *args],
                          capture_output=True, text=True, timeout=30)


def closed_by_node(conn, timeout_s):
    """Whether the node closes `conn` within `timeout_s` seconds."""
    try:
        conn.recv(timeout_s)
    except ConnectionLost as e:
        return "closed by the node" in str(e) or "reset" in str(e)
    return False


def test_an_idle_connection_is_closed_and_a_busy_one_is_not(node):
    assert castorctl(node, "put", "kept", "v").returncode == 0
    before = rejected(node, "n1", "client", "idle")
    idle = Connection("127.0.0.1", node.client_port["n1"], "castor", 5.0)
    busy = Connection("127.0.0.1", node.client_port["n1"], "castor", 5.0)
    get = kv_pb2.ClientRequest(request_id=1, get=kv_pb2.GetRequest(key=b"kept")).SerializeToString()
    for _ in range(12):  # 3 s of a request every 250 ms: never idle for 1.5 s
        busy.send(KIND_REQUEST, get)
        assert kv_pb2.ClientResponse.FromString(busy.recv(5.0)[1]).get.kv.value == b"v"
        time.sleep(0.25)
    assert closed_by_node(idle, 0.1), "a connection idle for 3 s (timeout 1.5 s) is still open"
    assert rejected(node, "n1", "client", "idle") >= before + 1
    assert "nothing asked for 1500 ms" in node.log("n1")
    busy.close()
    assert_node_serves(node, "n1", "kept", b"v")


def test_at_the_limit_idle_connections_make_room_for_castorctl(node):
    # 4,096 idle connections locked every client out, and castorctl then blamed --cluster-id.
    held = [Connection("127.0.0.1", node.client_port["n1"], "castor", 5.0) for _ in range(SLOTS)]
    before = rejected(node, "n1", "client", "idle evicted")
    out = castorctl(node, "put", "got/in", "yes")
    assert out.returncode == 0, out.stderr
    assert castorctl(node, "get", "got/in").stdout == "got/in\nyes\n"
    assert rejected(node, "n1", "client", "idle evicted") >= before + 1
    assert closed_by_node(held[0], 2.0), "the idlest connection kept its slot"
    for c in held:
        c.close()
    assert_node_serves(node, "n1", "got/in", b"yes")


def busy_connection(node, requests):
    """A connection that asked for a 1 MiB value `requests` times and reads none of the answers:
    not idle while they wait in the node (its receive buffer is set small before it connects,
    and the node's send buffer takes about 3 MiB, so they do)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", node.client_port["n1"]))
    hello = net_pb2.Hello(magic=MAGIC, protocol_version=PROTOCOL_VERSION, cluster_id="castor", role=net_pb2.Hello.CLIENT)
    get = kv_pb2.ClientRequest(request_id=1, get=kv_pb2.GetRequest(key=b"big"))
    sock.sendall(frame(KIND_HELLO, hello.SerializeToString()) + frame(KIND_REQUEST, get.SerializeToString()) * requests)
    return sock


def test_at_the_limit_with_none_idle_a_newcomer_is_told_why(node):
    assert node.client().put(b"big", b"x" * MiB).ok
    before = rejected(node, "n1", "client", "too many connections")
    held = [busy_connection(node, 8) for _ in range(SLOTS)]
    time.sleep(0.5)  # for the node to take the requests
    out = castorctl(node, "--timeout", "2s", "get", "big")
    assert out.returncode != 0
    assert f"too many client connections ({SLOTS}, none idle): retry later" in out.stderr, out.stderr
    assert "cluster" not in out.stderr.replace("client connections", ""), out.stderr
    assert rejected(node, "n1", "client", "too many connections") >= before + 1
    for c in held:
        c.close()
    wait_until("castorctl gets in once the slots are free",
               lambda: castorctl(node, "get", "big").returncode == 0)
    assert_node_serves(node, "n1", "big", b"x" * MiB)

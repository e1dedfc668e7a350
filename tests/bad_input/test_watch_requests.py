"""Bad watch requests on the binary protocol (kv.proto, WatchRequest; docs/PROMISES.md, "Watch"):
a key over the limit, an empty range, more watches than a node or a connection may hold, a
cancel of a watch that does not exist, a request_id used twice, and a connection that sends
garbage after opening a watch. Each is refused with a named code (or, for garbage, the
connection is closed and its watch forgotten), and the node keeps serving other clients and
their watches; memory stays bounded (hostile.RSS_MAX, checked when the cluster stops)."""
import pytest

from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, Connection, frame
from cluster import running
from hostile import HostileCluster, answered, assert_node_serves
from http_calls import metrics, value, wait_until

# A node limit small enough to reach in a test; the per-connection limit is castord's fixed
# 1,000 (kv/server/watch_hub.h, WatchHubOptions).
WATCHES_MAX = 5
PER_CONNECTION_MAX = 1000


@pytest.fixture
def cluster(tmp_path):
    with running(HostileCluster(tmp_path, extra_args=["--watches-max", str(WATCHES_MAX)])) as c:
        yield c


def _connect(cluster, name):
    return Connection("127.0.0.1", cluster.client_port[name], "castor", 5.0)


def _send(conn, request_id, **body):
    conn.send(KIND_REQUEST, kv_pb2.ClientRequest(request_id=request_id, **body).SerializeToString())


def _answer(conn, request_id, timeout_s=5.0):
    """The next answer to `request_id` on `conn` (answers to other requests are skipped)."""
    while True:
        _, payload = conn.recv(timeout_s)
        r = kv_pb2.ClientResponse.FromString(payload)
        if r.request_id == request_id:
            return r


def _answers(conn, request_ids, timeout_s=5.0):
    """The next answer to each of `request_ids` on `conn`, in whatever order they come."""
    got = {}
    while len(got) < len(request_ids):
        _, payload = conn.recv(timeout_s)
        r = kv_pb2.ClientResponse.FromString(payload)
        if r.request_id in request_ids:
            got.setdefault(r.request_id, r)
    return got


def _watch(conn, request_id, **fields):
    _send(conn, request_id, watch=kv_pb2.WatchRequest(**fields))
    return _answer(conn, request_id)


def _watchers(cluster, name):
    return value(metrics(cluster, name), "castor_watchers") or 0


def _setup(cluster):
    """The node under test and a key written before, for assert_node_serves."""
    name = cluster.names[0]
    c = cluster.client()
    assert c.put(b"kept", b"before").ok
    c.close()
    cluster.wait_applied(name, 1)
    return name


def _assert_others_watch(cluster, name):
    """Another client's watch on `name` is created and delivers a change."""
    conn = _connect(cluster, name)
    created = _watch(conn, 1, key=b"probe")
    assert created.code == kv_pb2.OK and created.watch.created, created
    c = cluster.client()
    assert c.put(b"probe", b"p").ok
    c.close()
    got = _answer(conn, 1)
    assert [e.kv.key for e in got.watch.events] == [b"probe"], got
    conn.close()


def test_a_watch_with_a_key_over_the_limit_is_too_large_and_the_node_serves_on(cluster):
    name = _setup(cluster)
    conn = _connect(cluster, name)
    for fields in ({"key": b"k" * 4096}, {"key": b"a", "range_end": b"z" * 4096}):
        r = _watch(conn, 7, **fields)
        assert r.code == kv_pb2.TOO_LARGE and "bytes" in r.message and "limit" in r.message, r
        assert not r.watch.created
    conn.close()
    assert answered(cluster, name, "watch", "TOO_LARGE") == 2
    assert _watchers(cluster, name) == 0
    _assert_others_watch(cluster, name)
    assert_node_serves(cluster, name, "kept", b"before")


def test_a_prefix_with_a_range_end_is_invalid_argument(cluster):
    name = _setup(cluster)
    conn = _connect(cluster, name)
    r = _watch(conn, 1, key=b"a", range_end=b"b", prefix=True)
    assert r.code == kv_pb2.INVALID_ARGUMENT and "range_end" in r.message, r
    conn.close()
    assert_node_serves(cluster, name, "kept", b"before")


def test_a_watch_of_an_empty_range_is_refused_not_held(cluster):
    name = _setup(cluster)
    conn = _connect(cluster, name)
    r = _watch(conn, 1, key=b"b", range_end=b"a")
    conn.close()
    assert r.code == kv_pb2.INVALID_ARGUMENT and not r.watch.created, r


def test_watches_past_the_node_limit_are_resource_exhausted_until_one_ends(cluster):
    name = _setup(cluster)
    conns = [_connect(cluster, name) for _ in range(2)]
    for i in range(WATCHES_MAX):  # spread over two connections: the limit is the node's
        r = _watch(conns[i % 2], 100 + i, key=b"w/%d" % i)
        assert r.code == kv_pb2.OK and r.watch.created, r
    r = _watch(conns[0], 200, key=b"w/over")
    assert r.code == kv_pb2.RESOURCE_EXHAUSTED and "limit" in r.message, r
    assert _watchers(cluster, name) == WATCHES_MAX
    # A cancelled watch frees its place. Its stream's last answer comes before the cancel's.
    _send(conns[1], 300, watch_cancel=kv_pb2.WatchCancelRequest(watch_request_id=101))
    got = _answers(conns[1], {101, 300})
    assert got[300].code == kv_pb2.OK and got[300].HasField("watch_cancel"), got[300]
    assert got[101].code == kv_pb2.OK and got[101].watch.canceled, got[101]
    r = _watch(conns[0], 201, key=b"w/again")
    assert r.code == kv_pb2.OK and r.watch.created, r
    assert_node_serves(cluster, name, "kept", b"before")
    for conn in conns:
        conn.close()


def test_watches_past_the_connection_limit_are_resource_exhausted(tmp_path):
    with running(HostileCluster(tmp_path)) as cluster:
        name = _setup(cluster)
        conn = _connect(cluster, name)
        requests = b"".join(frame(KIND_REQUEST, kv_pb2.ClientRequest(
            request_id=i, watch=kv_pb2.WatchRequest(key=b"c/%d" % i)).SerializeToString())
            for i in range(1, PER_CONNECTION_MAX + 2))
        conn.sock.sendall(requests)
        codes = {}
        while len(codes) < PER_CONNECTION_MAX + 1:
            _, payload = conn.recv(10.0)
            r = kv_pb2.ClientResponse.FromString(payload)
            codes.setdefault(r.request_id, (r.code, r.message))
        assert all(codes[i][0] == kv_pb2.OK for i in range(1, PER_CONNECTION_MAX + 1))
        code, message = codes[PER_CONNECTION_MAX + 1]
        assert code == kv_pb2.RESOURCE_EXHAUSTED and "connection" in message, (code, message)
        _assert_others_watch(cluster, name)  # another connection still gets one
        conn.close()
        assert_node_serves(cluster, name, "kept", b"before")


def test_the_watches_of_a_client_that_closed_its_connection_are_forgotten(cluster):
    name = _setup(cluster)
    conn = _connect(cluster, name)
    assert _watch(conn, 1, key=b"never/changes").watch.created
    assert _watchers(cluster, name) == 1
    conn.close()
    wait_until("a closed connection's watch is forgotten", lambda: _watchers(cluster, name) == 0)


def test_a_cancel_of_an_unknown_watch_is_not_found_and_a_reused_id_is_invalid(cluster):
    name = _setup(cluster)
    conn = _connect(cluster, name)
    _send(conn, 1, watch_cancel=kv_pb2.WatchCancelRequest(watch_request_id=99))
    r = _answer(conn, 1)
    assert r.code == kv_pb2.NOT_FOUND and "no watch of request_id 99" in r.message, r
    assert _watch(conn, 2, key=b"x").watch.created
    r = _watch(conn, 2, key=b"y")  # the id of a watch still open on this connection
    assert r.code == kv_pb2.INVALID_ARGUMENT and "already names a watch" in r.message, r
    # Another connection's watch of the same id is its own: cancelling it here finds nothing.
    other = _connect(cluster, name)
    _send(other, 3, watch_cancel=kv_pb2.WatchCancelRequest(watch_request_id=2))
    assert _answer(other, 3).code == kv_pb2.NOT_FOUND
    other.close()
    conn.close()
    _assert_others_watch(cluster, name)
    assert_node_serves(cluster, name, "kept", b"before")


def test_garbage_after_a_watch_closes_that_connection_and_forgets_its_watch(cluster):
    name = _setup(cluster)
    bystander = _connect(cluster, name)
    assert _watch(bystander, 1, key=b"g", prefix=True).watch.created
    conn = _connect(cluster, name)
    assert _watch(conn, 1, key=b"g", prefix=True).watch.created
    assert _watchers(cluster, name) == 2
    conn.sock.sendall(b"\x00\x00\x00\x05\x03garb" + b"\xff" * 64)  # a request that does not parse, then junk
    wait_until("the garbage connection's watch is forgotten", lambda: _watchers(cluster, name) == 1)
    # The bystander's watch goes on.
    c = cluster.client()
    rev = c.put(b"g/after", b"1").response.header.revision
    c.close()
    got = _answer(bystander, 1)
    assert [(e.kv.key, e.kv.mod_revision) for e in got.watch.events] == [(b"g/after", rev)], got
    bystander.close()
    assert_node_serves(cluster, name, "kept", b"before")

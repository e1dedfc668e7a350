"""Watch (docs/PROMISES.md, "Watch"), through the binary protocol and the Python client: every
change in order, once, with no gap, from any node, from the past or from now, across the loss
of the node watched through; COMPACTED instead of a gap; a client that does not read is cut
loose without disturbing the node."""
import socket
import threading
import time

from castor_client import Watch, WatchCompacted
from castor_client.proto import kv_pb2, net_pb2
from castor_client.wire import KIND_HELLO, KIND_REQUEST, MAGIC, PROTOCOL_VERSION, Connection, frame
from cluster import Cluster, parse_metrics


def _metric(cluster, name, metric, labels):
    _, _, body = cluster.http(name, "GET", "/metrics")
    return next((v for n, l, v in parse_metrics(body.decode()) if n == metric and l == labels), None)


def _events(watch, want, timeout_s=10.0):
    """The next `want` events of `watch`, as (type, key, value, revision)."""
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for e in watch.next(0.5):
            got.append((kv_pb2.Event.Type.Name(e.type), e.kv.key, e.kv.value, e.kv.mod_revision))
    return got


def test_every_node_streams_every_change_in_its_range_in_order_once(cluster):
    watches = [Watch([cluster.endpoint(n)], b"models/", prefix=True) for n in cluster.names]
    for w in watches:
        assert w.next(2.0) == [] and w.revision is not None  # created: it starts now
    c = cluster.client()
    want = []
    r = c.put(b"models/a", b"1")
    want.append(("PUT", b"models/a", b"1", r.response.header.revision))
    c.put(b"other/x", b"ignored")
    r = c.put(b"models/b", b"2")
    want.append(("PUT", b"models/b", b"2", r.response.header.revision))
    r = c.cas(b"models/a", b"3", expect_value=b"1")
    want.append(("PUT", b"models/a", b"3", r.response.header.revision))
    r = c.delete(b"models/b")
    want.append(("DELETE", b"models/b", b"", r.response.header.revision))
    for w in watches:
        assert _events(w, len(want)) == want
        assert w.next(0.5) == [], "nothing more, nothing twice"
        w.close()
    c.close()


def test_a_watch_from_the_past_and_prev_kv(cluster):
    c = cluster.client()
    revs = [c.put(b"k", b"v%d" % i).response.header.revision for i in range(5)]
    w = Watch(cluster.endpoints, b"k", start_revision=revs[1], prev_kv=True)
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 3 and time.monotonic() < deadline:
        got += w.next(0.5)
    assert [(e.kv.value, e.prev_kv.value, e.kv.mod_revision) for e in got] == \
        [(b"v2", b"v1", revs[2]), (b"v3", b"v2", revs[3]), (b"v4", b"v3", revs[4])]
    w.close()
    c.close()


def test_the_stream_goes_on_unbroken_when_its_node_dies(cluster):
    leader = cluster.wait_for_leader()
    victim = next(n for n in cluster.names if n != leader)
    # Watch through the follower first; the other nodes are where it resumes.
    order = [victim] + [n for n in cluster.names if n != victim]
    w = Watch([cluster.endpoint(n) for n in order], b"w/", prefix=True)
    assert w.next(2.0) == [] and w.node is not None
    c = cluster.client()
    written = []

    def writer():
        for i in range(200):
            r = c.put(b"w/%03d" % i, b"x")
            assert r.ok, r.message
            written.append(r.response.header.revision)

    t = threading.Thread(target=writer)
    t.start()
    seen = _events(w, 50)
    cluster.kill(victim)
    seen += _events(w, 150, timeout_s=20)
    t.join()
    assert w.resumes >= 1, "the watch never had to resume: the test proved nothing"
    assert [s[3] for s in seen] == written, "a gap, a repeat or a reordering across the resume"
    w.close()
    c.close()


def test_a_restarted_node_keeps_its_history(cluster):
    c = cluster.client()
    revs = [c.put(b"h/%d" % i, b"v").response.header.revision for i in range(10)]
    name = cluster.names[0]
    cluster.wait_applied(name, 1)
    cluster.kill(name)
    cluster.start(name)
    w = Watch([cluster.endpoint(name)], b"h/", prefix=True, start_revision=0)
    assert [e[3] for e in _events(w, 10)] == revs
    w.close()
    c.close()


def test_a_start_older_than_every_nodes_history_is_compacted_not_a_gap(tmp_path):
    from cluster import running
    with running(Cluster(tmp_path, extra_args=["--watch-history-revisions", "5"])) as cluster:
        c = cluster.client()
        last = [c.put(b"c", b"%d" % i).response.header.revision for i in range(20)][-1]
        for n in cluster.names:
            cluster.wait_applied(n, 20)
        w = Watch(cluster.endpoints, b"c", start_revision=1)
        try:
            w.next(5.0)
            raise AssertionError("a watch from revision 1 started although no node keeps it")
        except WatchCompacted as e:
            assert e.floor == last - 5
        # From the floor on, nothing is missing.
        w = Watch(cluster.endpoints, b"c", start_revision=last - 5)
        assert [e[3] for e in _events(w, 5)] == list(range(last - 4, last + 1))
        w.close()
        c.close()


def _lazy_connection(port):
    """A client connection whose receive window is tiny from the start (SO_RCVBUF set before
    connecting), so that what it does not read piles up in the node, not in the kernel."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(2.0)
    sock.connect(("127.0.0.1", port))
    hello = net_pb2.Hello(magic=MAGIC, protocol_version=PROTOCOL_VERSION, cluster_id="castor",
                          role=net_pb2.Hello.CLIENT, node_name="lazy")
    sock.sendall(frame(KIND_HELLO, hello.SerializeToString()))
    conn = Connection.__new__(Connection)  # the framing of Connection over this socket
    conn.sock, conn.buf = sock, b""
    conn.recv(2.0)  # the node's Hello
    return conn


def test_a_client_that_does_not_read_is_cancelled_too_slow_and_the_node_carries_on(tmp_path):
    from cluster import running
    with running(Cluster(tmp_path, extra_args=["--watch-queued-bytes-max", "65536"])) as cluster:
        name = cluster.wait_for_leader()
        lazy = _lazy_connection(cluster.client_port[name])
        watch = kv_pb2.ClientRequest(request_id=1, watch=kv_pb2.WatchRequest(key=b"big/", prefix=True))
        lazy.send(KIND_REQUEST, watch.SerializeToString())
        c = cluster.client()
        value = b"x" * 16384
        for i in range(300):  # 4.8 MB of events for a client that reads none of them
            assert c.put(b"big/%d" % i, value).ok
        assert c.get(b"big/0").ok, "the node stopped serving others"
        assert _metric(cluster, name, "castor_watches_cancelled_total", {"reason": "slow"}) == 1.0
        # Reading now, it finds its stream's end: TOO_SLOW and the revision to resume from.
        lazy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        last = None
        deadline = time.monotonic() + 30
        while last is None and time.monotonic() < deadline:
            got = lazy.recv_within(1.0)
            resp = got and kv_pb2.ClientResponse.FromString(got[1])
            if resp and resp.watch.canceled:
                last = resp
        assert last is not None and last.code == kv_pb2.TOO_SLOW, last
        assert 0 < last.watch.revision < c.get(b"big/299").response.get.kv.mod_revision
        lazy.close()
        c.close()

"""Apply depends on the log alone: nodes whose flags differ (a rolling config change is enough)
still apply every entry alike (kv/machine/limits.h, kv.proto Command)."""
import time

from castor_client import Client
from castor_client.proto import kv_pb2
from cluster import Cluster, running


def _caught_up(cluster):
    """Waits until every node has applied what the leader has committed."""
    commit = cluster.status(cluster.wait_for_leader()).commit
    deadline = time.monotonic() + 10
    while any(cluster.status(n).applied < commit for n in cluster.names):
        assert time.monotonic() < deadline, "a node did not apply the leader's commit index"
        time.sleep(0.05)


def _local_view(cluster, name, prefix):
    """What node `name` itself holds under `prefix` (a serializable read answered by it)."""
    c = Client([cluster.endpoint(name)])
    try:
        r = c.range(prefix=prefix, serializable=True)
        assert r.ok, r.message
        return [(kv.key, kv.value, kv.mod_revision) for kv in r.response.range.kvs]
    finally:
        c.close()


def _every_node_holds(cluster, prefix, count):
    """Once all caught up, every node holds the same `count` keys under `prefix`, revisions too."""
    _caught_up(cluster)
    views = {n: _local_view(cluster, n, prefix) for n in cluster.names}
    assert len(views["n1"]) == count
    for n in cluster.names:
        assert views[n] == views["n1"], f"{n} holds {len(views[n])} of the {count} keys"


def test_a_txn_only_the_leaders_flags_allow_is_applied_by_every_node(tmp_path):
    with running(Cluster(tmp_path, node_args={"n1": ["--txn-ops-max", "256"]})) as cluster:
        cluster.make_leader("n1")
        puts = [kv_pb2.RequestOp(put=kv_pb2.PutRequest(key=b"mixed/%03d" % i, value=b"v"))
                for i in range(200)]
        c = Client([cluster.endpoint("n1")])
        r = c.txn([], puts)
        c.close()
        assert r.ok and r.response.write.txn.succeeded, r.message
        _every_node_holds(cluster, b"mixed/", 200)


def test_sessions_expire_by_the_leaders_timeout_on_every_node(tmp_path):
    # n2 would expire any session idle for 1 ms; n1 leads with the default hour.
    with running(Cluster(tmp_path, node_args={"n2": ["--session-timeout-ms", "1"]})) as cluster:
        cluster.make_leader("n1")
        c = Client([cluster.endpoint("n1")])
        for i in range(5):
            r = c.put(b"session/%d" % i, b"v")
            assert r.ok, r.message
            time.sleep(0.05)
        c.close()
        _every_node_holds(cluster, b"session/", 5)

"""A full, failing or slow disk (docs/PROMISES.md, docs/RUNBOOK.md), made by castor-powerfs
(tests/powerfs) under each node's data directory.

A disk whose free space falls below --disk-reserve-bytes makes the node refuse writes
(RESOURCE_EXHAUSTED) while reads go on, and writes resume on their own once space is freed;
without the reserve the same disk stops the node on ENOSPC, which shows the fault is real. A
failed fsync stops the node at once with the reason: the page cache may already have dropped
what the fsync covered, so retrying and carrying on could acknowledge data that is gone. The
cluster goes on without it, and no write the cluster acknowledged is lost. A slow disk shows in
castor_slow_fsyncs_total and the log.
"""
import time

import pytest

from castor_client import Client
from castor_client.proto import kv_pb2
from http_calls import metrics, value, wait_until
from power_mount import PoweredCluster, Writer, fuse_available

pytestmark = pytest.mark.skipif(not fuse_available(), reason="castor-powerfs needs root and /dev/fuse")


@pytest.fixture
def powered(tmp_path):
    clusters = []

    def make(**kwargs):
        clusters.append(PoweredCluster(tmp_path, **kwargs).start_powered())
        return clusters[-1]

    yield make
    for c in clusters:
        c.stop_powered()


def test_a_failed_fsync_stops_the_node_and_the_cluster_loses_no_acknowledged_write(powered):
    cluster = powered()
    victim = cluster.wait_for_leader()
    writer = Writer(cluster, b"w", timeout_s=3.0)
    acked = writer.acked
    wait_until("some writes are acknowledged", lambda: len(acked) >= 20)
    cluster.disks[victim].control("fsync-error")
    cluster.procs[victim].wait(timeout=10)
    assert cluster.disks[victim].fired("fsync-error") == 1
    log = cluster.log(victim)
    assert cluster.procs[victim].returncode != 0
    assert "critical" in log and "Input/output error" in log, log[-2000:]
    assert "stops rather than retry" in log, log[-2000:]
    # The others elect a leader and go on taking writes.
    before = len(acked)
    wait_until("the cluster takes writes without the stopped node", lambda: len(acked) >= before + 20, timeout_s=15)
    writer.stop()
    del cluster.procs[victim]
    c = cluster.client(timeout_s=5.0)
    r = c.range(prefix=b"w")
    assert r.ok, r.message
    have = {kv.key for kv in r.response.range.kvs}
    c.close()
    assert sorted(set(acked) - have) == [], "acknowledged writes lost"


def test_a_slow_disk_shows_in_the_fsync_metrics_and_the_log(powered):
    cluster = powered(nodes=1, extra_args=["--slow-fsync-ms", "50"])
    cluster.wait_for_leader()
    cluster.disks["n1"].control("slow 120")
    c = cluster.client(timeout_s=5.0)
    start = time.monotonic()
    for i in range(5):
        assert c.put(b"slow/%d" % i, b"x").ok
    took = time.monotonic() - start
    c.close()
    assert took >= 5 * 0.12, f"5 writes took {took:.2f} s on a disk that waits 120 ms per fsync"
    assert cluster.disks["n1"].fired("slow") >= 5
    assert (value(metrics(cluster, "n1"), "castor_slow_fsyncs_total") or 0) >= 5
    assert "slow fsync" in cluster.log("n1")


RESERVE = 1 << 20


def test_a_full_disk_refuses_writes_serves_reads_and_recovers_once_space_is_freed(powered):
    cluster = powered(extra_args=["--disk-reserve-bytes", str(RESERVE)])
    cluster.wait_for_leader()
    c = cluster.client(timeout_s=5.0)
    for i in range(20):
        assert c.put(b"full/%02d" % i, b"v%d" % i).ok
    for disk in cluster.disks.values():
        disk.control(f"disk-full {RESERVE // 2}")  # the disks now show half the reserve free
    # Nodes measure their disk five times a second; the budget covers what is written meanwhile.
    wait_until("every node sees its disk below the reserve", lambda: all(
        value(metrics(cluster, n), "castor_disk_below_reserve") == 1 for n in cluster.names), timeout_s=10)
    r = c.put(b"full/late", b"x")
    assert r.code == kv_pb2.RESOURCE_EXHAUSTED, r
    assert "--disk-reserve-bytes" in r.message, r.message
    got = c.get(b"full/07")
    assert got.ok and got.response.get.kv.value == b"v7", got
    for disk in cluster.disks.values():
        disk.control("disk-ok")
    wait_until("writes are taken again", lambda: c.put(b"full/after", b"y").ok, timeout_s=10)
    r = c.range(prefix=b"full/")
    assert r.ok and len(r.response.range.kvs) >= 21, r
    c.close()
    # The reserve kept every node off the wall: no write ever met ENOSPC, no node stopped.
    assert all(d.fired("disk-full") == 0 for d in cluster.disks.values())
    assert all(p.poll() is None for p in cluster.procs.values())


def test_a_follower_whose_disk_is_full_stays_up_and_catches_up_once_space_is_freed(powered):
    cluster = powered(extra_args=["--disk-reserve-bytes", str(RESERVE)])
    leader = cluster.wait_for_leader()
    follower = next(n for n in cluster.names if n != leader)
    cluster.disks[follower].control(f"disk-full {RESERVE // 2}")
    wait_until("the follower sees its disk below the reserve",
               lambda: value(metrics(cluster, follower), "castor_disk_below_reserve") == 1, timeout_s=10)
    writer = Writer(cluster, b"f", timeout_s=3.0)
    wait_until("the others take writes without it", lambda: len(writer.acked) >= 200, timeout_s=15)
    acked = writer.stop()
    assert cluster.procs[follower].poll() is None, "the follower stopped"
    assert cluster.disks[follower].fired("disk-full") == 0, "a write met the full disk"
    cluster.disks[follower].control("disk-ok")
    last = max(acked)
    local = Client([cluster.endpoint(follower)], timeout_s=2.0)
    wait_until("the follower catches up", lambda: local.get(last, serializable=True).ok, timeout_s=15)
    local.close()


def test_without_the_reserve_a_full_disk_stops_the_node(powered):
    # The same fault with the reserve off: the write meets ENOSPC and the node stops, so the
    # test above saw a disk that would really have filled.
    cluster = powered(nodes=1, extra_args=["--disk-reserve-bytes", "0"])
    cluster.wait_for_leader()
    cluster.disks["n1"].control(f"disk-full {RESERVE // 2}")
    c = cluster.client(timeout_s=2.0)
    for i in range(200):
        if c.put(b"fill/%03d" % i, b"x" * 4096).ok is False and cluster.procs["n1"].poll() is not None:
            break
    c.close()
    cluster.procs["n1"].wait(timeout=10)
    assert cluster.disks["n1"].fired("disk-full") >= 1
    assert "No space left on device" in cluster.log("n1"), cluster.log("n1")[-2000:]
    del cluster.procs["n1"]

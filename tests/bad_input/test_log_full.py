"""A Raft log that fills its map (--log-map-bytes-max) refuses new writes with
RESOURCE_EXHAUSTED, keeps serving reads, compacts itself and takes writes again; no node stops."""
import time

from castor_client.proto import kv_pb2
from hostile import HostileCluster

MAP_BYTES = 4 << 20
VALUE = b"v" * (8 << 10)


def test_a_full_log_refuses_writes_serves_reads_and_recovers_by_compaction(tmp_path):
    # Snapshots would never come by count: only the log's size can trigger one.
    cluster = HostileCluster(tmp_path, extra_args=["--log-map-bytes-max", str(MAP_BYTES),
                                            "--snapshot-entries", "1000000"])
    try:
        cluster.start_all()
        c = cluster.client()
        refused, written = None, 0
        for i in range(2000):
            r = c.put(b"full/%04d" % i, VALUE)
            if r.code == kv_pb2.RESOURCE_EXHAUSTED:
                refused = r
                break
            assert r.ok, f"put {i}: {r.outcome} {r.message}"
            written += 1
        assert refused is not None, f"{written} puts of {len(VALUE)} bytes never filled the log"
        assert "--log-map-bytes-max" in refused.message and "reads are served" in refused.message
        got = c.get(b"full/0000")
        assert got.ok and got.response.get.kv.value == VALUE
        # The refusal started a snapshot; once it compacted the log, writes are taken again.
        deadline = time.monotonic() + 15
        while True:
            r = c.put(b"after", b"compaction")
            if r.ok:
                break
            assert r.code == kv_pb2.RESOURCE_EXHAUSTED, f"{r.outcome} {r.message}"
            assert time.monotonic() < deadline, "writes never resumed"
            time.sleep(0.1)
        leader = cluster.wait_for_leader()
        assert cluster.status(leader).snapshot_index > 0
        for name, proc in cluster.procs.items():
            assert proc.poll() is None, f"{name} stopped:\n{cluster.log(name)[-2000:]}"
        assert c.get(b"full/%04d" % (written - 1)).response.get.kv.value == VALUE
    finally:
        cluster.stop_all()

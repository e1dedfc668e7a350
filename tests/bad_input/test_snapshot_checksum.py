"""A damaged InstallSnapshot stream is refused before it replaces anything, counted, logged and
asked for again (paper 7; raft::Node::snapshots_refused). The leader damages the last chunk of
the first snapshot it sends (failpoint corrupt-snapshot-chunk=once)."""
from cluster import parse_metrics
from hostile import HostileCluster

REFUSED = ("castor_rejected_total", {"listener": "peer", "reason": "snapshot checksum"})


def _refusals(cluster, name):
    status, _, body = cluster.http(name, "GET", "/metrics")
    assert status == 200
    return sum(v for n, labels, v in parse_metrics(body.decode())
               if n == REFUSED[0] and labels == REFUSED[1])


def test_a_snapshot_with_a_flipped_byte_is_refused_and_the_resent_one_installs(tmp_path):
    cluster = HostileCluster(tmp_path, extra_args=["--snapshot-entries", "20"],
                             env={"CASTOR_FAILPOINTS": "corrupt-snapshot-chunk=once"})
    try:
        cluster.start_all()
        victim = cluster.miss_a_compaction()
        cluster.assert_caught_up_by_snapshot(victim)
        assert cluster.procs[victim].poll() is None, f"{victim} exited"
        assert _refusals(cluster, victim) == 1
        assert "refused the snapshot" in cluster.log(victim)
    finally:
        cluster.stop_all()

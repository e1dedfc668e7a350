"""The runbook's procedures, walked on a real cluster (docs/RUNBOOK.md).

"A node's disk died": with the rest of the cluster healthy and a stable leader, move the dead
node's data directory aside and start the node again under the same name with an empty one; it
catches up by InstallSnapshot, and `castorctl check` passes again.
"""
import subprocess
import time

from castor_client import Client
from cluster import BUILD, Cluster


def castorctl(cluster, *args):
    return subprocess.run([str(BUILD / "tools" / "castorctl"), "--endpoints", ",".join(cluster.endpoints),
                           "--timeout", "2s", *args], capture_output=True, text=True)


def wait_until(what, predicate, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def test_replacing_a_dead_nodes_disk_under_the_same_name(tmp_path):
    # Snapshots every 20 entries, so that the leader compacts past the dead node quickly and
    # the empty replacement can only catch up by InstallSnapshot.
    cluster = Cluster(tmp_path, extra_args=["--snapshot-entries", "20"])
    try:
        leader = cluster.start_all()
        c = cluster.client()
        for i in range(30):
            assert c.put(f"before/{i}".encode(), b"x").ok
        victim = next(n for n in cluster.names if n != leader)

        # The disk dies: the process is killed, its data directory is unusable.
        cluster.kill(victim)
        check = castorctl(cluster, "check")
        assert check.returncode == 4, check.stdout + check.stderr
        for i in range(60):
            assert c.put(f"during/{i}".encode(), b"y").ok

        # The runbook: the rest is healthy with a stable leader; move the directory aside,
        # start the node under the same name with an empty directory.
        assert cluster.leader() == leader
        (tmp_path / victim).rename(tmp_path / f"{victim}.dead")
        cluster.start(victim)

        want = cluster.status(leader).commit
        def caught_up():
            s = cluster.status(victim)
            return s is not None and s.applied >= want

        wait_until(f"{victim} applies the leader's commit index {want}", caught_up)
        assert cluster.status(victim).snapshot_index > 0, "caught up without InstallSnapshot?"
        # Its own state holds everything, read locally from it alone.
        local = Client([cluster.endpoint(victim)], timeout_s=2.0)
        try:
            for prefix, n in (("before", 30), ("during", 60)):
                r = local.range(prefix=f"{prefix}/".encode(), serializable=True)
                assert r.ok and r.response.range.count == n, (prefix, r)
        finally:
            local.close()
        wait_until("castorctl check passes", lambda: castorctl(cluster, "check").returncode == 0)
    finally:
        cluster.stop_all()

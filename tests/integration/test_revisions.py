"""A revision per write (kv.proto, ResponseHeader; PROMISES 8), tried as a user would: many
writers on ONE key, so that the leader batches their puts into shared Raft entries."""
import threading

from cluster import Cluster  # noqa: F401  (the fixture's type)

THREADS = 16
PUTS = 200
KEY = b"fence/one-key"


def _writer(cluster, thread, results):
    c = cluster.client(timeout_s=10.0)
    try:
        for i in range(PUTS):
            value = b"t%d-%d" % (thread, i)
            r = c.put(KEY, value, prev_kv=True)
            results.append((value, r))
    finally:
        c.close()


def _leader_commit(cluster):
    return cluster.status(cluster.wait_for_leader()).commit


def test_every_write_on_one_key_gets_its_own_increasing_mod_revision(cluster):
    commit_before = _leader_commit(cluster)
    results = []
    threads = [threading.Thread(target=_writer, args=(cluster, t, results)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries_used = _leader_commit(cluster) - commit_before

    failed = [(v, r.outcome, r.message) for v, r in results if not r.ok]
    assert not failed, f"{len(failed)} puts not OK, first: {failed[:3]}"
    assert len(results) == THREADS * PUTS
    # The test proves something only if writes shared entries, as they did when this was a bug.
    assert entries_used < len(results) * 0.9, \
        f"{len(results)} puts used {entries_used} Raft entries: too little batching to test"

    written_at = {r.response.header.revision: v for v, r in results}
    assert len(written_at) == len(results), \
        f"{len(results)} puts share {len(written_at)} revisions"
    # Writes on one key with no other writer: their revisions are consecutive, and each put's
    # prev_kv is the put just before it in apply order, at the revision just before its own.
    revisions = sorted(written_at)
    assert revisions == list(range(revisions[0], revisions[0] + len(revisions)))
    for value, r in results:
        revision, prev = r.response.header.revision, r.response.write.put.prev_kv
        if revision == revisions[0]:
            continue
        assert prev.mod_revision == revision - 1, (value, revision, prev)
        assert prev.value == written_at[revision - 1], \
            f"revision {revision - 1} holds {written_at[revision - 1]!r} and {prev.value!r}"

    c = cluster.client()
    got = c.get(KEY).response.get.kv
    assert (got.mod_revision, got.value) == (revisions[-1], written_at[revisions[-1]])
    assert got.version == len(results)
    # The fencing recipe: a CAS guarded on an overwritten write's revision must fail.
    stale = c.cas(KEY, b"fenced out", expect_mod_revision=revisions[-2])
    assert stale.ok and not stale.response.write.txn.succeeded
    fresh = c.cas(KEY, b"fenced in", expect_mod_revision=revisions[-1])
    assert fresh.ok and fresh.response.write.txn.succeeded
    assert fresh.response.header.revision == revisions[-1] + 1

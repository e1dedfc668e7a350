"""check_watch: the watch workload's checker (docs/CHAOS.md, "watch").

Every write of a watch run goes under one prefix, so the committed history is every revision
from 1 to the last, each with its events; every watcher follows the prefix from revision 0.
Then each watcher's stream must be exactly the committed history up to where it got:

  order      revisions never go back, and a revision's events come together;
  once       no revision is delivered twice;
  agreement  two streams that both hold a revision hold the same events for it;
  no gap     a stream holds every revision up to the last one it delivered: the union of all
             streams and all acknowledged writes names the revisions that exist, and every
             revision from 1 to the final read's must be among them;
  complete   every acknowledged write is in the history at its own revision, as written;
  state      replaying the history up to the final read's revision gives what that read saw.

Each watcher records a batch as an ok "watch" operation keyed by its node, valued
{"events": [[revision, "PUT"|"DELETE", key, value], ...], "resumes": n}; writers record "put"
and "delete" with the revision they took (KeyRevision, wrote=True); the final read records
{"revision": R, "state": {key: value}}.
"""

from __future__ import annotations

from .history import OK, operations

UNKNOWN = "unknown"


def _streams(ops):
    """node -> its batches (lists of event tuples) in the order received, and node -> the
    resumes its watcher reported last."""
    streams, resumes = {}, {}
    for op in sorted((op for op in ops if op.f == "watch" and op.type == OK), key=lambda op: op.call_ns):
        streams.setdefault(op.key, []).append([tuple(e) for e in op.value["events"]])
        resumes[op.key] = op.value["resumes"]
    return streams, resumes


def _check_order(node, batches, anomaly) -> None:
    """Revisions ascending, and each in one batch only (the client joins a revision's
    fragments, so a revision split between batches was delivered twice)."""
    last, earlier = 0, set()
    for batch in batches:
        here = set()
        for i, event in enumerate(batch):
            revision = event[0]
            if revision < last:
                anomaly("order", f"{node}: revision {revision} after {last}")
            if revision in earlier or event in batch[:i]:
                anomaly("once", f"{node}: revision {revision} delivered twice")
            here.add(revision)
            last = max(last, revision)
        earlier |= here


def _acknowledged(ops):
    """revision -> (f, key, value) of every write that completed ok and took a revision."""
    written = {}
    for op in ops:
        if op.type != OK or op.f not in ("put", "delete"):
            continue
        for fact in op.revisions:
            if fact.wrote:
                written[fact.revision] = (op.f, fact.key, fact.value, op)
    return written


def check_watch(events) -> dict:
    ops = operations(events)
    origin = min((op.call_ns for op in ops), default=0)
    streams, resumes = _streams(ops)
    written = _acknowledged(ops)
    finals = [op for op in ops if op.f == "read" and op.type == OK]
    anomalies = []

    def anomaly(kind, message):
        anomalies.append({"kind": kind, "message": message})

    history = {}  # revision -> its events, as the first stream to deliver it had them
    for node, batches in streams.items():
        _check_order(node, batches, anomaly)
        by_revision = {}
        for revision, type, key, value in (e for batch in batches for e in batch):
            by_revision.setdefault(revision, []).append((type, key, value))
        for revision, evs in by_revision.items():
            if revision in history and history[revision] != evs:
                anomaly("agreement", f"revision {revision}: {node} has {evs}, another stream "
                        f"{history[revision]}")
            history.setdefault(revision, evs)

    known = set(history) | set(written)
    for node, batches in streams.items():
        have = {e[0] for batch in batches for e in batch}
        end = max(have, default=0)
        missing = sorted(r for r in known if r <= end and r not in have)
        if missing:
            anomaly("gap", f"{node} never delivered revision(s) {missing[:10]} though it went on "
                    f"to {end}")

    for revision, (f, key, value, op) in sorted(written.items()):
        want = ("PUT", key, str(value)) if f == "put" else ("DELETE", key, "")
        got = history.get(revision)
        if got is None:
            if revision <= max(history, default=0):
                anomaly("complete", f"acknowledged {op.describe(origin)} at revision {revision} is "
                        f"in no stream")
        elif want not in got:
            anomaly("complete", f"revision {revision} holds {got}, not the acknowledged "
                    f"{op.describe(origin)}")

    final = max(finals, key=lambda op: op.return_ns) if finals else None
    if final is not None:
        upto = final.value["revision"]
        holes = [r for r in range(1, upto + 1) if r not in history]
        if holes:
            anomaly("gap", f"revision(s) {holes[:10]} up to the final read's {upto} are in no "
                    f"stream")
        state = {}
        for revision in sorted(r for r in history if r <= upto):
            for type, key, value in history[revision]:
                if type == "PUT":
                    state[key] = value
                else:
                    state.pop(key, None)
        if not holes and state != final.value["state"]:
            diff = sorted(k for k in set(state) | set(final.value["state"])
                          if state.get(k) != final.value["state"].get(k))
            anomaly("state", f"replaying the streams to revision {upto} differs from the final "
                    f"read on {diff[:5]}")

    delivered = sum(len(batch) for batches in streams.values() for batch in batches)
    verdict = {"checker": "watch", "streams": len(streams), "events_delivered": delivered,
               "revisions": len(history), "acknowledged_writes": len(written),
               "resumes": sum(resumes.values()), "resumes_by_node": resumes,
               "anomalies": anomalies[:20]}
    if not delivered:
        verdict["valid"] = UNKNOWN
        verdict["reason"] = "no watcher delivered anything"
    elif anomalies:
        verdict["valid"] = False
        verdict["anomaly"] = {"kind": anomalies[0]["kind"], "at_ns": origin,
                              "message": f"{len(anomalies)} watch anomalies; the first: "
                                         f"{anomalies[0]['message']}"}
    elif final is None:
        verdict["valid"] = UNKNOWN
        verdict["reason"] = "no final read"
    else:
        verdict["valid"] = True
    return verdict

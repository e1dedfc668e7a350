"""Hand-made histories for the tests: operations written as intervals, turned into events.

``op(process, f, key, value, call, ret, outcome)``: times in milliseconds; ``ret=None`` means
the operation never completed (an info without a completion event). For an ok read ``value``
is what it returned; for a write the value written; for a cas the pair (old, new).
``revisions``: what an ok operation learned, as (key, revision, value, wrote) tuples.
"""

from castor_chaos.history import INVOKE, Event, KeyRevision

MS = 1_000_000


def op(process, f, key, value, call, ret, outcome="ok", revisions=()):
    return (process, f, key, value, call, ret, outcome, revisions)


def history(*ops):
    raw = []
    for process, f, key, value, call, ret, outcome, revisions in ops:
        invoke_value = None if f == "read" else value
        raw.append((call * MS, 1, INVOKE, process, f, key, invoke_value, ()))
        if ret is not None:
            done_value = value if outcome == "ok" or f != "read" else None
            raw.append((ret * MS, 0, outcome, process, f, key, done_value,
                        tuple(KeyRevision(*r) for r in revisions)))
    raw.sort(key=lambda r: (r[0], r[1]))
    return [Event(i, type, p, f, k, v, t, revisions=r)
            for i, (t, _, type, p, f, k, v, r) in enumerate(raw)]

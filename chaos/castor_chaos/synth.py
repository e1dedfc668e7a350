"""Synthetic register histories: a correct simulated register, and one with a planted bug.

They exist to test the checker at the size of a real run without a cluster: a history made by
an atomic register is linearizable by construction, so the checker must accept it; the same
history with one read made certainly stale must be rejected. Everything is derived from the
seed, so a failing seed replays exactly.
"""

from __future__ import annotations

import dataclasses
import heapq
import random

from .history import INFO, INVOKE, OK, FAIL, Event, operations

_MS = 1_000_000
# An arbitrary origin, so times look like monotonic_ns readings rather than starting at zero.
_ORIGIN_NS = 10**12


def register_history(seed: int, ops: int = 10_000, clients: int = 10, keys: int = 100,
                     hot_keys: int = 5, hot_fraction: float = 0.3,
                     info_fraction: float = 0.02) -> list[Event]:
    """A history of ``ops`` reads, writes and cas by ``clients`` workers on an atomic register.

    Each operation takes effect at one instant (its linearization point) between invoke and
    completion; latencies of up to a few milliseconds against sub-millisecond think times make
    operations of different clients overlap. ``hot_fraction`` of operations go to ``hot_keys``
    keys so that some keys see real concurrency. An ``info_fraction`` of operations time out:
    their info is recorded at the timeout, and a write or cas among them takes effect (possibly
    after the timeout) or not, at random. Values are unique per key. A cas expects the current
    value three times in four and fails otherwise, as a real client's guesses would.
    """
    rng = random.Random(seed)
    # Phase 1: who does what when, in invocation order. Results need the register, phase 2.
    planned = []
    process = list(range(clients))
    ready = [(_ORIGIN_NS + rng.randrange(_MS), c) for c in range(clients)]
    heapq.heapify(ready)
    next_value = [1] * keys
    for _ in range(ops):
        call_ns, client = heapq.heappop(ready)
        key = rng.randrange(min(hot_keys, keys)) if rng.random() < hot_fraction else rng.randrange(keys)
        f = rng.choices(("read", "write", "cas"), weights=(5, 3, 2))[0]
        value = None
        if f != "read":
            value = next_value[key]
            next_value[key] += 1
        timed_out = rng.random() < info_fraction
        if timed_out:
            complete_ns = call_ns + 5 * _MS
            effect_ns = call_ns + rng.randrange(10 * _MS) if rng.random() < 0.5 else None
        else:
            effect_ns = call_ns + rng.randrange(1, 2 * _MS)
            complete_ns = effect_ns + rng.randrange(1, 2 * _MS)
        planned.append({"process": process[client], "f": f, "key": key, "value": value,
                        "call_ns": call_ns, "effect_ns": effect_ns, "complete_ns": complete_ns,
                        "outcome": INFO if timed_out else OK})
        if timed_out:
            process[client] += clients
        heapq.heappush(ready, (complete_ns + rng.randrange(200_000), client))

    # Phase 2: apply the operations that take effect in linearization order.
    state: dict[int, int | None] = {}
    written: dict[int, list[int]] = {}
    for op in sorted(planned, key=lambda op: op["effect_ns"] if op["effect_ns"] is not None
                     else op["call_ns"]):
        key, current = op["key"], state.get(op["key"])
        if op["f"] == "read":
            op["result"] = current
            continue
        if op["f"] == "cas":
            stale = written.get(key)
            old = current if rng.random() < 0.75 or not stale else rng.choice(stale)
            op["value"] = [old, op["value"]]
            applies = old == current
            if op["outcome"] == OK and not applies:
                op["outcome"] = FAIL
        else:
            applies = True
        if applies and op["effect_ns"] is not None:
            state[key] = op["value"] if op["f"] == "write" else op["value"][1]
            written.setdefault(key, []).append(state[key])

    raw = []
    for op in planned:
        raw.append((op["call_ns"], INVOKE, op["process"], op["f"], op["key"], op["value"]))
        result = op.get("result") if op["outcome"] == OK else op["value"]
        raw.append((op["complete_ns"], op["outcome"], op["process"], op["f"], op["key"], result))
    # Completions sort before invocations at one instant: a process finishes before it starts
    # its next operation.
    raw.sort(key=lambda r: (r[0], r[1] == INVOKE))
    return [Event(i, type, p, f, k, v, t) for i, (t, type, p, f, k, v) in enumerate(raw)]


def plant_stale_read(events: list[Event], seed: int) -> tuple[list[Event], dict]:
    """Make one ok read return a value that was certainly overwritten before it began.

    The stale value v comes from an ok write W1 such that another ok write W2 started after W1
    finished and finished before the read started. Values are unique per key, so once W2 took
    effect the register never held v again: no linearization can explain the read. Returns the
    new history and what was planted (key, read's invocation index, stale value, true value).
    """
    rng = random.Random(seed)
    ops = operations(events)
    writers: dict = {}
    for op in ops:
        if op.type == OK and op.f in ("write", "cas"):
            writers.setdefault(op.key, []).append(op)
    reads = [op for op in ops if op.type == OK and op.f == "read"]
    rng.shuffle(reads)
    for read in reads:
        before = [w for w in writers.get(read.key, []) if w.return_ns < read.call_ns]
        # The latest W2 first, so that any earlier write may be the one made to reappear.
        for w2 in sorted(before, key=lambda w: w.call_ns, reverse=True):
            overwritten = [w1 for w1 in before if w1.return_ns < w2.call_ns]
            if overwritten:
                w1 = rng.choice(overwritten)
                stale = w1.invoke_value if w1.f == "write" else w1.invoke_value[1]
                return _replace_read_value(events, read, stale), {
                    "key": read.key, "read_invoke_index": read.invoke_index,
                    "stale_value": stale, "true_value": read.value}
    raise ValueError("no read in this history has a certainly overwritten value to return")


def _replace_read_value(events: list[Event], read, value) -> list[Event]:
    out = list(events)
    for i in range(read.invoke_index + 1, len(out)):
        e = out[i]
        if e.process == read.process and e.type == OK:
            out[i] = dataclasses.replace(e, value=value)
            return out
    raise ValueError("the read's completion is missing")

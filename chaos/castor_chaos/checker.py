"""Checkers that turn a history into a verdict.

``check_register``: linearizability of independent registers (one per key), by the
Wing-Gong search with Lowe's memo ("Testing for linearizability", Lowe 2016). ``check_set`` and
``check_counter``: the weaker end-state properties of the set and counter workloads, which are
not linearizability checks and need no search. ``check_revisions``: what the revisions that ok
operations learned say about each key (one value per revision, growing with real time);
``add_check`` folds it into another verdict.

Every checker returns a JSON-ready verdict dict whose ``valid`` is True, False, or "unknown".
"unknown" means the checker could not decide (time budget, no final read, nothing to check); it
is never turned into a pass.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from itertools import accumulate
from typing import Any, Iterable

from .history import FAIL, INFO, OK, Event, KeyRevision, Operation, iter_keys, operations

UNKNOWN = "unknown"

# How many search steps run between two looks at the clock: often enough that a budget of a
# few milliseconds is honoured, rarely enough that the clock costs nothing.
_STEPS_PER_CLOCK_CHECK = 1024
# An explanation lists at most this many possible register values and concurrent operations.
_EXPLAIN_MAX = 8


# --------------------------------------------------------------------------------------------
# The register model


def _register_step(state: Any, op: Operation) -> tuple[bool, Any]:
    """Apply ``op`` to a register holding ``state``: (could it happen here, state after).

    The initial state is None (the key does not exist). An ok read must return the state. A cas
    (info or ok) can take effect only when the state equals its expected value; a failed cas
    never reaches the search (fail = did not happen), and an info cas that cannot apply here may
    still apply later or never, which the search explores by not linearizing it now.
    """
    if op.f == "read":
        return op.value == state, state
    if op.f == "write":
        return True, op.invoke_value
    if op.f == "cas":
        old, new = op.invoke_value
        return state == old, new
    raise ValueError(f"register model has no operation {op.f!r}")


def _written_value(op: Operation) -> Any:
    return op.invoke_value[1] if op.f == "cas" else op.invoke_value


def _observed_value(op: Operation) -> Any:
    """The register value this operation needs to see to take effect, or None if any will do."""
    if op.f == "read":
        return op.value
    if op.f == "cas":
        return op.invoke_value[0]
    return None


def _searchable(ops: list[Operation]) -> list[Operation]:
    """The operations the search must place, in the same order.

    Dropped, because they cannot change the verdict:
    * failed operations and reads without an ok: they did not happen or observed nothing;
    * info writes and cas whose written value nothing ever observes. Such a write may always
      be "never" (info), and taking effect would only put the register in a state that no
      operation needs, so it cannot make an otherwise impossible history possible. Dropping an
      info cas can make another value unobserved, hence the loop to a fixed point. This keeps
      the search small under faults, where most infos are writes nobody read.
    """
    kept = [op for op in ops if op.type == OK or (op.type == INFO and op.f != "read")]
    while True:
        observed = {_observed_value(op) for op in kept if op.f != "write"}
        pruned = [op for op in kept if op.type == OK or _written_value(op) in observed]
        if len(pruned) == len(kept):
            return kept
        kept = pruned


class _Budget:
    """A deadline shared by every key of one check."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def exhausted(self) -> bool:
        return time.monotonic() >= self.deadline


def _search(ops: list[Operation], budget: _Budget) -> dict:
    """Wing-Gong/Lowe search for one key: is there a linearization of ``ops``?

    The history becomes a doubly linked list of call and return entries in time order (a call
    sorts before a return at the same instant, so ties count as concurrent). Walking from the
    head, a call whose operation the model accepts in the current state is linearized: both of
    its entries are unlinked and the walk restarts. Meeting a return means that operation
    should have been linearized already, so the last choice is undone and the walk resumes
    after it. Lowe's memo skips any (set of linearized operations, model state) already
    explored, which bounds the search by the number of distinct configurations.

    Info operations have no return entry: they may be linearized at any point after their
    call or never. So the search succeeds as soon as every ok operation is linearized.

    On failure, the explanation names the operation whose return the search could never get
    past, latest in time over all branches: everything before it has some legal order, and no
    such order leaves room for it. The states seen there are the values the register could hold.
    """
    entries: list[tuple[int, int, int]] = []  # (time, 0 = call / 1 = return, op index)
    for i, op in enumerate(ops):
        entries.append((op.call_ns, 0, i))
        if op.type == OK:
            entries.append((op.return_ns, 1, i))
    entries.sort()
    n = len(entries)
    # Entry e lives at slot e + 1; slot 0 is the head and -1 marks the end of the list.
    is_call = [kind == 0 for _, kind, _ in entries]
    op_of = [i for _, _, i in entries]
    return_slot = [-1] * len(ops)  # -1: an info operation, which has no return entry
    for e, (_, kind, i) in enumerate(entries):
        if kind == 1:
            return_slot[i] = e + 1
    nxt = list(range(1, n + 2))
    nxt[n] = -1
    prv = list(range(-1, n))

    def unlink(s: int) -> None:
        nxt[prv[s]] = nxt[s]
        if nxt[s] != -1:
            prv[nxt[s]] = prv[s]

    def relink(s: int) -> None:
        nxt[prv[s]] = s
        if nxt[s] != -1:
            prv[nxt[s]] = s

    remaining_ok = sum(1 for op in ops if op.type == OK)
    state: Any = None
    linearized = 0
    stack: list[tuple[int, Any]] = []  # (call slot, state before it)
    memo: set[tuple[int, Any]] = set()
    blocked_slot, blocked_states = 0, set()
    steps = 0
    s = nxt[0]
    while remaining_ok:
        steps += 1
        if steps % _STEPS_PER_CLOCK_CHECK == 0 and budget.exhausted():
            return {"valid": UNKNOWN, "reason": f"time budget of {budget.seconds:g} s exhausted "
                    f"after {len(memo)} configurations", "configurations": len(memo)}
        if s == -1:
            raise AssertionError("search walked past the last return entry")
        i = op_of[s - 1]
        if is_call[s - 1]:
            possible, after = _register_step(state, ops[i])
            if possible:
                config = (linearized | (1 << i), after)
                if config not in memo:
                    memo.add(config)
                    stack.append((s, state))
                    state, linearized = after, config[0]
                    unlink(s)
                    if return_slot[i] != -1:
                        unlink(return_slot[i])
                        remaining_ok -= 1
                    s = nxt[0]
                    continue
            s = nxt[s]
            continue
        if s > blocked_slot:
            blocked_slot, blocked_states = s, set()
        if s == blocked_slot and len(blocked_states) < _EXPLAIN_MAX:
            blocked_states.add(state)
        if not stack:
            return {"valid": False, "configurations": len(memo),
                    "blocked": (op_of[blocked_slot - 1], blocked_states)}
        s, state = stack.pop()
        i = op_of[s - 1]
        linearized &= ~(1 << i)
        if return_slot[i] != -1:
            relink(return_slot[i])
            remaining_ok += 1
        relink(s)
        s = nxt[s]
    return {"valid": True, "configurations": len(memo)}


# --------------------------------------------------------------------------------------------
# Explanations


def _writers_by_value(ops: list[Operation]) -> dict[Any, list[Operation]]:
    by_value: dict[Any, list[Operation]] = {}
    for op in ops:
        if op.f in ("write", "cas"):
            by_value.setdefault(_written_value(op), []).append(op)
    return by_value


def _never_written(key: Any, ops: list[Operation], origin_ns: int) -> dict | None:
    """A read or cas that saw a value no successful-or-unknown write produced, if any.

    Checked before the search because it needs no search and deserves the plainest message;
    a value written only by a FAILED operation is called out, since FAILED must mean it did not
    happen.
    """
    writers_of = _writers_by_value(ops)
    for op in ops:
        if op.type != OK or op.f == "write":
            continue
        seen = _observed_value(op)
        if seen is None:
            continue
        writers = writers_of.get(seen, [])
        if any(w.type != FAIL for w in writers):
            continue
        if op.f == "read":
            what = f"read of k={key} returned {seen!r}"
        else:
            what = f"cas of k={key} expecting {seen!r} succeeded"
        if writers:
            why = f"but {seen!r} was only written by operations that FAILED (certainly did not happen)"
        else:
            why = f"but no operation ever wrote {seen!r}"
        return {"key": key, "kind": f"{op.f}-of-unwritten-value", "message": f"{what}, {why}",
                "op": op.describe(origin_ns), "ops": [w.describe(origin_ns) for w in writers],
                "at_ns": op.return_ns}
    return None


def _explain_blocked(key: Any, ops: list[Operation], op: Operation, states: set,
                     origin_ns: int) -> dict:
    def holding(v: Any) -> str:
        return "nothing (never written)" if v is None else repr(v)

    values = sorted(states, key=repr)
    could = " or ".join(holding(v) for v in values)
    writers_of = _writers_by_value(ops)
    writers = [w for v in values for w in writers_of.get(v, [])]
    lasts = "; ".join(w.describe(origin_ns) for w in writers) or "none"
    if op.f == "read":
        kind = "impossible-read"
        message = (f"read of k={key} returned {op.value!r} but the register could only hold "
                   f"{could} then; the last write that could precede it: {lasts}")
    elif op.f == "cas":
        old, new = op.invoke_value
        kind = "impossible-cas"
        message = (f"cas of k={key} from {old!r} to {new!r} succeeded but the register could "
                   f"only hold {could} then; the last write that could precede it: {lasts}")
    else:
        kind = "unplaceable"
        message = (f"{op.f} of k={key} fits no order of the operations before it; the register "
                   f"could hold {could} then")
    concurrent = [o for o in ops if o is not op and o.call_ns <= op.return_ns
                  and (o.return_ns is None or o.return_ns >= op.call_ns)]
    prefix = sum(1 for o in ops if o.return_ns is not None and o.return_ns < op.call_ns)
    return {"key": key, "kind": kind, "message": message, "op": op.describe(origin_ns),
            "ops": [w.describe(origin_ns) for w in writers],
            "concurrent": [o.describe(origin_ns) for o in concurrent[:_EXPLAIN_MAX]],
            "prefix_ops": prefix, "at_ns": op.return_ns}


# --------------------------------------------------------------------------------------------
# Public checkers


def _counts(ops: Iterable[Operation]) -> dict:
    counts = {"ops": 0, OK: 0, FAIL: 0, INFO: 0}
    for op in ops:
        counts["ops"] += 1
        counts[op.type] += 1
    return counts


def _overall(results: Iterable[Any]) -> Any:
    results = list(results)
    if any(r is False for r in results):
        return False
    if any(r == UNKNOWN for r in results):
        return UNKNOWN
    return True


def check_register(events: Iterable[Event], time_budget_s: float = 60.0) -> dict:
    """Linearizability of a register per key (read / write / cas, unique values per key).

    Values must be JSON scalars (numbers, strings; null is the absent key), because the search
    memoizes register states. Keys are independent registers, so each is searched alone: the cost is the sum over keys,
    not the product. The budget covers the whole check; a key cut short, and every key not
    reached, is "unknown". The top-level ``anomaly`` is the earliest in time among the keys
    found invalid. A history with no keys is "unknown" too: it certifies nothing.
    """
    started = time.monotonic()
    all_ops = operations(events)
    origin_ns = min((op.call_ns for op in all_ops), default=0)
    budget = _Budget(time_budget_s)
    keys: dict[str, dict] = {}
    anomalies = []
    for key, ops in iter_keys(all_ops):
        key_started = time.monotonic()
        result = {"valid": UNKNOWN, **_counts(ops)}
        anomaly = _never_written(key, ops, origin_ns)
        if anomaly is not None:
            result["valid"] = False
        elif budget.exhausted():
            result["reason"] = "not searched: the time budget was spent on earlier keys"
        else:
            kept = _searchable(ops)
            found = _search(kept, budget)
            result["valid"] = found["valid"]
            result["configurations"] = found["configurations"]
            if "reason" in found:
                result["reason"] = found["reason"]
            if found["valid"] is False:
                blocked_op, states = found["blocked"]
                anomaly = _explain_blocked(key, kept, kept[blocked_op], states, origin_ns)
        if anomaly is not None:
            result["anomaly"] = anomaly
            anomalies.append(anomaly)
        result["time_s"] = round(time.monotonic() - key_started, 6)
        keys[str(key)] = result
    anomalies.sort(key=lambda a: a["at_ns"])
    verdict = {"checker": "linearizable-register",
               "valid": _overall(r["valid"] for r in keys.values()) if keys else UNKNOWN,
               "anomaly": anomalies[0] if anomalies else None, "keys": keys,
               "counts": {"keys": len(keys), **_counts(all_ops)},
               "time_budget_s": time_budget_s, "time_s": round(time.monotonic() - started, 6)}
    if not keys:
        verdict["reason"] = "no operations: nothing to check"
    return verdict


def check_set(events: Iterable[Event]) -> dict:
    """The set workload: unique adds, then a final read after healing.

    Not linearizability: it asks only that nothing acknowledged is lost and nothing appears
    that was never attempted. The final read is the last ok read; it must contain every add
    acknowledged before that read was invoked (an add acknowledged later might race it). An
    element whose add FAILED must not be present either, since FAILED means it did not happen.
    Without an ok read the verdict is "unknown".
    """
    ops = operations(events)
    adds = [op for op in ops if op.f == "add"]
    reads = [op for op in ops if op.f == "read" and op.type == OK]
    if not reads:
        return {"checker": "set", "valid": UNKNOWN, "reason": "no successful read",
                "counts": _counts(ops)}
    final = max(reads, key=lambda op: op.return_ns)
    present = set(final.value)
    attempted = {op.invoke_value for op in adds}
    failed = {op.invoke_value for op in adds if op.type == FAIL}
    required = {op.invoke_value for op in adds if op.type == OK and op.return_ns < final.call_ns}
    unknown = {op.invoke_value for op in adds if op.type == INFO}
    lost = sorted(required - present, key=repr)
    phantom = sorted(present - attempted, key=repr)
    failed_present = sorted(present & failed, key=repr)
    valid = not (lost or phantom or failed_present)
    return {"checker": "set", "valid": valid,
            "counts": {**_counts(ops), "attempted": len(attempted), "acknowledged": len(required),
                       "present": len(present), "unknown_present": len(present & unknown)},
            "lost": lost[:100], "phantom": phantom[:100], "failed_present": failed_present[:100],
            "anomaly": None if valid else {
                "kind": "set", "message": f"final read misses {len(lost)} acknowledged adds, "
                f"has {len(phantom)} never attempted and {len(failed_present)} that failed"}}


def check_counter(events: Iterable[Event]) -> dict:
    """The counter workload: increments (retried through sessions) and reads.

    An increment's value is its delta. Each ok read must lie between the increments
    acknowledged before it was invoked and all increments (ok or info) invoked before it
    returned: below means a lost increment, above a double apply. For the final read after
    healing this is [acknowledged, acknowledged + unknown]. Deltas must be non-negative, or
    these bounds would not hold.
    """
    ops = operations(events)
    incrs = [op for op in ops if op.f == "incr" and op.type != FAIL]
    if any(op.invoke_value < 0 for op in incrs):
        raise ValueError("counter increments must be non-negative")
    reads = sorted((op for op in ops if op.f == "read" and op.type == OK),
                   key=lambda op: op.return_ns)
    if not reads:
        return {"checker": "counter", "valid": UNKNOWN, "reason": "no successful read",
                "counts": _counts(ops)}
    # Prefix sums over increments sorted by the time that bounds each side.
    acked = sorted((op.return_ns, op.invoke_value) for op in incrs if op.type == OK)
    invoked = sorted((op.call_ns, op.invoke_value) for op in incrs)
    acked_times, acked_sums = [t for t, _ in acked], list(accumulate(d for _, d in acked))
    invoked_times, invoked_sums = [t for t, _ in invoked], list(accumulate(d for _, d in invoked))

    def sum_before(times: list[int], sums: list[int], t: int) -> int:
        n = bisect_left(times, t)
        return sums[n - 1] if n else 0

    origin_ns = min(op.call_ns for op in ops)
    bad = []
    for read in reads:
        low = sum_before(acked_times, acked_sums, read.call_ns)
        high = sum_before(invoked_times, invoked_sums, read.return_ns)
        if not low <= read.value <= high:
            bad.append((read, low, high))
    total_acked = acked_sums[-1] if acked_sums else 0
    total_unknown = sum(op.invoke_value for op in incrs if op.type == INFO)
    anomaly = None
    if bad:
        read, low, high = bad[0]
        anomaly = {"kind": "counter-out-of-bounds", "op": read.describe(origin_ns),
                   "message": f"read returned {read.value} outside [{low}, {high}]: "
                   + ("an acknowledged increment was lost" if read.value < low
                      else "an increment was applied twice or never asked for")}
    return {"checker": "counter", "valid": not bad, "anomaly": anomaly,
            "final": {"value": reads[-1].value, "acknowledged": total_acked,
                      "unknown": total_unknown},
            "bad_reads": len(bad), "counts": _counts(ops)}


# --------------------------------------------------------------------------------------------
# Revisions

Learned = tuple[KeyRevision, Operation]  # a fact and the ok operation that learned it


def _facts_by_key(ops: Iterable[Operation]) -> dict[Any, list[Learned]]:
    """Every revision fact with the ok operation that learned it, per key, in return order."""
    by_key: dict[Any, list[Learned]] = {}
    for op in sorted((op for op in ops if op.revisions), key=lambda op: op.return_ns):
        for fact in op.revisions:
            by_key.setdefault(fact.key, []).append((fact, op))
    return by_key


def _source(learned: Learned, origin_ns: int) -> str:
    fact, op = learned
    return f"{fact.value!r} ({'written' if fact.wrote else 'seen'} by {op.describe(origin_ns)})"


def _revision_anomaly(kind: str, message: str, earlier: Learned, later: Learned,
                      origin_ns: int) -> dict:
    """An anomaly between two facts of one key, dated when the later one was learned."""
    fact, op = later
    ops = [earlier[1].describe(origin_ns), op.describe(origin_ns)]
    return {"key": fact.key, "kind": kind, "revision": fact.revision, "message": message,
            "op": ops[1], "ops": ops, "at_ns": op.return_ns}


def _reused(key: Any, facts: list[Learned], origin_ns: int) -> list[dict]:
    """Revisions of ``key`` that carried two different values.

    A revision names one state-changing write, and a key's mod_revision names the write that
    gave it its value; so whoever learned "``key`` held v at revision r" (the write itself, a
    read, a prev_kv) must agree on v. Reported once per extra value, when it becomes known.
    """
    first: dict[int, Learned] = {}
    reported: set[tuple[int, Any]] = set()
    found = []
    for learned in facts:
        fact = learned[0]
        seen = first.setdefault(fact.revision, learned)
        if seen[0].value != fact.value and (fact.revision, fact.value) not in reported:
            reported.add((fact.revision, fact.value))
            found.append(_revision_anomaly(
                "revision-reused", f"revision {fact.revision} of k={key} carried two values: "
                f"{_source(seen, origin_ns)} and {_source(learned, origin_ns)}",
                seen, learned, origin_ns))
    return found


def _not_increasing(key: Any, facts: list[Learned], origin_ns: int) -> list[dict]:
    """Writes of ``key`` whose own revision is not above one already known when they began.

    Sound whatever the overlaps: a fact learned by an operation that returned before a write
    was invoked is a revision the store had already reached, so the write, which changed the
    store afterwards, must have a higher one. In particular two ok writes that do not overlap
    have increasing revisions; writes that overlap may have them in either order, and are
    never compared.
    """
    writes = sorted((w for w in facts if w[0].wrote), key=lambda w: w[1].call_ns)
    highest: Learned | None = None
    i = 0
    found = []
    for write in writes:
        revision, call_ns = write[0].revision, write[1].call_ns
        while i < len(facts) and facts[i][1].return_ns < call_ns:
            if highest is None or facts[i][0].revision > highest[0].revision:
                highest = facts[i]
            i += 1
        if highest is not None and highest[0].revision >= revision:
            found.append(_revision_anomaly(
                "revision-not-increasing", f"a write of k={key} got revision {revision}, but "
                f"revision {highest[0].revision} of k={key} was known before it was invoked: "
                f"{_source(highest, origin_ns)}; the write: {_source(write, origin_ns)}",
                highest, write, origin_ns))
    return found


def check_revisions(events: Iterable[Event]) -> dict:
    """Per key, the revisions ok operations learned (history.KeyRevision) must be consistent:
    no revision carries two values (``revision-reused``), and a write's revision is above every
    revision of its key known before it was invoked (``revision-not-increasing``).

    Needs no search: it takes only what operations certainly learned, so it is True or False,
    never "unknown". A history without revision facts passes trivially (``counts`` shows it).
    """
    ops = operations(events)
    origin_ns = min((op.call_ns for op in ops), default=0)
    by_key = _facts_by_key(ops)
    anomalies = sorted((a for key, facts in by_key.items() for find in (_reused, _not_increasing)
                        for a in find(key, facts, origin_ns)), key=lambda a: a["at_ns"])
    return {"checker": "revisions", "valid": not anomalies,
            "anomaly": anomalies[0] if anomalies else None,
            "anomalies": anomalies[:_EXPLAIN_MAX],
            "counts": {"keys": len(by_key), "facts": sum(len(f) for f in by_key.values()),
                       "writes": sum(1 for f in by_key.values() for fact, _ in f if fact.wrote),
                       "anomalies": len(anomalies)}}


def add_check(verdict: dict, extra: dict) -> dict:
    """Fold the verdict of another checker of the same history into ``verdict`` (returned).

    ``extra`` is kept whole under its checker's name; the result is valid only if both are,
    and its anomaly is the earlier of the two, as across keys.
    """
    verdict[extra["checker"]] = extra
    verdict["checker"] = f"{verdict['checker']} + {extra['checker']}"
    verdict["valid"] = _overall((verdict["valid"], extra["valid"]))
    anomalies = [a for a in (verdict.get("anomaly"), extra.get("anomaly")) if a]
    verdict["anomaly"] = min(anomalies, key=lambda a: a["at_ns"], default=None)
    return verdict

"""The history of a chaos run: every operation as an invocation then a completion.

Semantics follow Jepsen, because the checker's soundness depends on them:

* ``invoke``: a process is about to send a request.
* ``ok``: the operation certainly happened, exactly once, between invoke and ok.
* ``fail``: the operation certainly did not happen (Castor's FAILED, never a guess).
* ``info``: the outcome is unknown (Castor's UNKNOWN, a timeout after sending). It may have
  taken effect at any time after its invocation, even after the info was recorded, or never.

A process has at most one operation outstanding. After an ``info`` its operation may still be
in flight, so that process id is retired and the worker continues under a fresh id
(``process + concurrency``); otherwise two operations of one "process" could overlap and the
history would claim an order that does not exist.

Times are ``time.monotonic_ns()`` of the recording machine: only differences matter (latency and
real-time order), and the monotonic clock cannot step backwards during a run.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
COMPLETIONS = (OK, FAIL, INFO)


class KeyRevision(NamedTuple):
    """A fact an ok operation learned from Castor: ``key`` held ``value`` at ``revision``.

    ``wrote`` is True when the revision is the operation's own (a write's response header
    revision, with the value it wrote), and False when the operation saw it (a read's
    mod_revision, a put's prev_kv). Kept beside the completion's value, not inside it, so the
    register model never sees it. In JSON it is a list [key, revision, value, wrote].
    """

    key: Any
    revision: int
    value: Any
    wrote: bool


@dataclass(frozen=True)
class Event:
    """One line of the history: an invocation or a completion of an operation."""

    index: int
    type: str
    process: int
    f: str
    key: Any
    value: Any
    time_ns: int
    error: str | None = None
    revisions: tuple[KeyRevision, ...] = ()  # only on ok completions; see KeyRevision

    def to_json(self) -> dict:
        d = {"index": self.index, "type": self.type, "process": self.process, "f": self.f,
             "key": self.key, "value": self.value, "time_ns": self.time_ns}
        if self.error is not None:
            d["error"] = self.error
        if self.revisions:
            d["revisions"] = [list(r) for r in self.revisions]
        return d

    @staticmethod
    def from_json(d: dict) -> "Event":
        return Event(index=d["index"], type=d["type"], process=d["process"], f=d["f"],
                     key=d["key"], value=d["value"], time_ns=d["time_ns"], error=d.get("error"),
                     revisions=tuple(KeyRevision(*r) for r in d.get("revisions", ())))


@dataclass(frozen=True)
class Operation:
    """An invocation paired with its completion, which is what checkers reason about.

    ``type`` is the outcome (ok / fail / info). ``value`` is the completion's value for ok
    operations (what a read returned) and the invocation's value otherwise (what was asked).
    ``return_ns`` is None when the outcome is info: such an operation has no upper time bound.
    ``revisions`` are the facts its completion recorded (see KeyRevision).
    """

    process: int
    f: str
    key: Any
    type: str
    invoke_value: Any
    value: Any
    call_ns: int
    return_ns: int | None
    complete_ns: int | None
    invoke_index: int
    error: str | None = None
    revisions: tuple[KeyRevision, ...] = ()

    def latency_ns(self) -> int | None:
        """Time from invocation to the recorded completion (an info's is its timeout)."""
        return None if self.complete_ns is None else self.complete_ns - self.call_ns

    def describe(self, origin_ns: int = 0) -> str:
        """A short human form, e.g. ``read k=3 -> 5 (ok, p4, 1.250000-1.262000 s)``.

        Times are seconds since ``origin_ns`` (usually the history's first invocation), because
        raw monotonic readings mean nothing to a reader.
        """
        if self.f == "read":
            what = f"read k={self.key} -> {self.value!r}"
        elif self.f == "cas":
            old, new = self.invoke_value
            what = f"cas k={self.key} {old!r}->{new!r}"
        else:
            what = f"{self.f} k={self.key} {self.invoke_value!r}"
        start = (self.call_ns - origin_ns) / 1e9
        end = "never" if self.complete_ns is None else f"{(self.complete_ns - origin_ns) / 1e9:.6f}"
        return f"{what} ({self.type}, p{self.process}, {start:.6f}-{end} s)"


class Recorder:
    """Thread-safe builder of a history for ``concurrency`` client workers.

    Workers are numbered 0..concurrency-1; each maps to its current process id, which changes
    after an info (see the module docstring). Wall times are taken here, at record time, so
    every worker's events share one clock.
    """

    def __init__(self, concurrency: int, clock=time.monotonic_ns):
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._clock = clock
        self._concurrency = concurrency
        self._process = list(range(concurrency))
        self._open: dict[int, Event] = {}

    def process(self, worker: int) -> int:
        with self._lock:
            return self._process[worker]

    def invoke(self, worker: int, f: str, key: Any, value: Any = None) -> Event:
        with self._lock:
            process = self._process[worker]
            if process in self._open:
                raise ValueError(f"process {process} already has an operation outstanding")
            event = Event(len(self._events), INVOKE, process, f, key, value, self._clock())
            self._events.append(event)
            self._open[process] = event
            return event

    def complete(self, worker: int, type: str, value: Any = None, error: str | None = None,
                 revisions: Iterable[KeyRevision] = ()) -> Event:
        """Record the outcome of ``worker``'s outstanding operation, with what it learned of
        revisions. Only an ok operation may carry revisions: any other did not certainly run."""
        if type not in COMPLETIONS:
            raise ValueError(f"completion type must be one of {COMPLETIONS}, not {type!r}")
        revisions = tuple(KeyRevision(*r) for r in revisions)
        if revisions and type != OK:
            raise ValueError(f"a {type} completion cannot carry revisions")
        with self._lock:
            process = self._process[worker]
            call = self._open.pop(process, None)
            if call is None:
                raise ValueError(f"process {process} has no operation outstanding")
            event = Event(len(self._events), type, process, call.f, call.key, value,
                          self._clock(), error, revisions)
            self._events.append(event)
            if type == INFO:
                self._process[worker] = process + self._concurrency
            return event

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)


def operations(events: Iterable[Event]) -> list[Operation]:
    """Pair invocations with completions, in invocation order.

    An invocation never completed (the run ended first) is treated as info: it may have
    happened. A completion without an invocation, or a second invocation on a process with one
    outstanding, is a recording bug and raises.
    """
    open_calls: dict[int, Event] = {}
    done: dict[int, Event] = {}
    calls: list[Event] = []
    for e in events:
        if e.type == INVOKE:
            if e.process in open_calls:
                raise ValueError(f"event {e.index}: process {e.process} invoked twice")
            open_calls[e.process] = e
            calls.append(e)
        elif e.type in COMPLETIONS:
            call = open_calls.pop(e.process, None)
            if call is None:
                raise ValueError(f"event {e.index}: completion without invocation")
            done[call.index] = e
        else:
            raise ValueError(f"event {e.index}: unknown type {e.type!r}")
    ops = []
    for call in calls:
        end = done.get(call.index)
        type = end.type if end is not None else INFO
        value = end.value if type == OK else call.value
        ops.append(Operation(
            process=call.process, f=call.f, key=call.key, type=type, invoke_value=call.value,
            value=value, call_ns=call.time_ns,
            return_ns=end.time_ns if type != INFO else None,
            complete_ns=end.time_ns if end is not None else None,
            invoke_index=call.index, error=end.error if end is not None else None,
            revisions=end.revisions if type == OK else ()))
    return ops


def write_jsonl(path, events: Iterable[Event]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for e in events:
            out.write(json.dumps(e.to_json(), separators=(",", ":")) + "\n")


def read_jsonl(path) -> list[Event]:
    with open(path, encoding="utf-8") as f:
        return [Event.from_json(json.loads(line)) for line in f if line.strip()]


def iter_keys(ops: Iterable[Operation]) -> Iterator[tuple[Any, list[Operation]]]:
    """Group operations by key, keys in order of first appearance."""
    by_key: dict[Any, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(_hashable(op.key), []).append(op)
    return iter(by_key.items())


def _hashable(key: Any) -> Any:
    """JSON turns tuple keys into lists; make them usable as dict keys again."""
    return tuple(key) if isinstance(key, list) else key

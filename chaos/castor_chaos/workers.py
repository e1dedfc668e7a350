"""What every workload shares: worker threads that record each operation in the history.

A workload defines how many workers it runs (``concurrency``), one step of one worker, the
final reads after the cluster is healed, and the checker of its history. The machinery here
runs the workers until told to stop and turns client results into history outcomes, so that the
one mapping that the checkers' soundness rests on is written once:

    Castor OK          -> ok    (it happened, exactly once)
    Castor FAILED      -> fail  (it certainly did not happen)
    Castor UNKNOWN     -> info  (it may have happened, now or later)

A worker that hits an unexpected exception records its operation as info (it may have been
sent) and stops; the run then reports a harness error instead of a verdict it cannot trust.
"""

from __future__ import annotations

import abc
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from castor_client import Outcome

from .cluster import Cluster
from .history import FAIL, INFO, OK, KeyRevision, Recorder

OUTCOME_TYPE = {Outcome.OK: OK, Outcome.FAILED: FAIL, Outcome.UNKNOWN: INFO}

# A client gives up on one request after this long; an unanswered write is then UNKNOWN.
OP_TIMEOUT_S = 2.0
# Each worker pauses a random 0..THINK_S between operations. Without it, fast reads (a tenth of a
# millisecond) would swamp the two cores castord shares with the workers, and the history file,
# while adding nothing: a few hundred operations a second per worker already overlap richly.
THINK_S = 0.010


@dataclass
class Context:
    """What a worker step sees: the cluster, the recorder, its own rng and client slots."""

    cluster: Cluster
    recorder: Recorder
    worker: int
    rng: random.Random
    stop: threading.Event
    clients: dict = field(default_factory=dict)
    learned: list[KeyRevision] = field(default_factory=list)  # by the operation in progress

    def client(self, name: str = "main", nodes: list[str] | None = None):
        """This worker's client called ``name``, made on first use (one client per thread)."""
        if name not in self.clients:
            self.clients[name] = self.cluster.client(OP_TIMEOUT_S, nodes)
        return self.clients[name]

    def op(self, f: str, key: Any, value: Any, action: Callable[[], tuple[str, Any, str | None]]):
        """Record ``action`` as one operation: invoke, run it, complete with what it returned.

        ``action`` returns (outcome type, completion value, error text or None), and may call
        ``learn`` on the way; what it learned is recorded with the completion. Returns the
        outcome type and value, for steps that act on what they read.
        """
        self.learned.clear()
        self.recorder.invoke(self.worker, f, key, value)
        try:
            type, out, error = action()
        except BaseException as e:
            self.recorder.complete(self.worker, INFO, None, f"harness error: {e!r}")
            raise
        self.recorder.complete(self.worker, type, out, error, self.learned)
        return type, out

    def learn(self, key: str, revision: int, value: Any, wrote: bool) -> None:
        """Note that ``key`` held ``value`` at ``revision`` (``wrote``: the revision is the
        operation's own). Only from the answer of an operation that will complete ok: the
        recorder refuses revisions on any other outcome, since only ok certainly happened."""
        self.learned.append(KeyRevision(key, revision, value, wrote))

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.clients.clear()


def error_text(result) -> str | None:
    """A short reason for a non-OK result, for the history's ``error`` field."""
    if result.outcome is Outcome.OK:
        return None
    return f"{result.code}: {result.message}"[:200]


class Workload(abc.ABC):
    """Base of the workloads: how many workers, one step, final reads, the checker."""

    name = ""
    checker = ""

    def __init__(self, cluster: Cluster, seed: int):
        self.cluster = cluster
        self.seed = seed
        self.concurrency = 0

    @abc.abstractmethod
    def step(self, ctx: Context) -> None:
        """One operation (or a few) of worker ``ctx.worker``, recorded through ``ctx.op``."""

    def final(self, ctx: Context) -> None:
        """Reads after healing that the checker needs (every register key, the set's contents,
        the counter, the promotion pair)."""

    @abc.abstractmethod
    def check(self, events) -> dict:
        """The verdict on the whole history (see checker.py for its shape)."""

    def final_context(self, recorder: Recorder, worker: int) -> Context:
        """The context of the final reads: slot ``worker`` of the recorder, fresh clients."""
        return Context(self.cluster, recorder, worker, random.Random(self.seed), threading.Event())


def run_workers(workload: Workload, recorder: Recorder,
                stop: threading.Event) -> list[threading.Thread]:
    """Start one thread per worker; each steps until ``stop`` is set.

    Threads inherit the caller's network namespace, so the caller must already be in the
    client namespace. Errors are kept on the thread (``thread.error``) for the runner.
    """
    threads = []
    for w in range(workload.concurrency):
        ctx = Context(workload.cluster, recorder, w, random.Random(workload.seed * 1000 + w), stop)
        thread = threading.Thread(target=_work, args=(workload, ctx), name=f"worker-{w}",
                                  daemon=True)
        thread.error = None
        thread.start()
        threads.append(thread)
    return threads


def _work(workload: Workload, ctx: Context) -> None:
    try:
        while not ctx.stop.is_set():
            workload.step(ctx)
            ctx.stop.wait(ctx.rng.uniform(0, THINK_S))
    except BaseException as e:
        threading.current_thread().error = e
        ctx.stop.set()
    finally:
        ctx.close()


def retry_until(deadline_s: float, attempt: Callable[[], bool], pause_s: float = 0.2) -> bool:
    """Call ``attempt`` until it returns True or ``deadline_s`` seconds pass."""
    deadline = time.monotonic() + deadline_s
    while True:
        if attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause_s)

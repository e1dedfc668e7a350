"""The five workloads, each with the property it proves (docs/CHAOS.md has the long form).

register   get / put / cas on many independent keys, unique values per key, then a read of
           every key after healing: every key's history must be linearizable
           (check_register), and no revision of a key may carry two values or go backwards
           (check_revisions).
set        unique adds, then a final read after healing: no acknowledged add lost, nothing
           present that was never attempted (check_set).
counter    increments as read-then-CAS, each retried by the client with the same session seq
           when its fate is unknown: reads stay within [acknowledged, acknowledged + unknown],
           so nothing is lost and nothing applied twice (check_counter).
promotion  Txn flips of a (serving, schema) pair guarded on both keys' mod revisions, and
           readers that Range over both at once: no reader ever sees a mixed pair, the pair,
           taken as one register, is linearizable, and revisions behave (check_revisions).
watch      puts and deletes under one prefix, and a watcher per node following the prefix from
           revision 0, resuming on another node when it loses its own: each stream is the
           committed history, in order, once, with no gap, holding every acknowledged write,
           and replaying it gives the final state (check_watch).

Register and promotion operations also record, on ok completions, the revisions they learned
(``Context.learn``): a write's own revision from its response header with the value it wrote,
a read's mod_revision with the value read, a put's prev_kv.

Workers whose index is past the "general" ones are pinned to one node each: their reads go
through that node only (a follower serves linearizable reads by ReadIndex through the
leader), which is how a node that serves stale data gets caught.
"""

from __future__ import annotations

import itertools
import time

from castor_client import Outcome, Watch, WatchCompacted
from castor_client.proto import kv_pb2

from .checker import UNKNOWN, add_check, check_counter, check_register, check_revisions, check_set
from .cluster import Cluster
from .history import FAIL, INFO, OK, operations
from .watch_checker import check_watch
from .workers import OUTCOME_TYPE, Context, Workload, error_text, retry_until

# How long the final reads after healing may keep failing; a run without them fails (runner.Work).
FINAL_READ_S = 30.0
# How long a register check may search before saying "unknown" (it is usually well under 1 s).
REGISTER_BUDGET_S = 60.0


def _int_value(kv_response) -> int | None:
    return int(kv_response.kv.value) if kv_response.HasField("kv") else None


def _learn_kv(ctx: Context, kv, decode) -> None:
    """Note a KeyValue that was read (or replaced, a prev_kv): its value at its mod_revision."""
    ctx.learn(kv.key.decode(), kv.mod_revision, decode(kv.value), wrote=False)


def _learn_put(ctx: Context, put_response, decode) -> None:
    """Note a put's prev_kv, when it replaced something (it was asked for)."""
    if put_response.HasField("prev_kv"):
        _learn_kv(ctx, put_response.prev_kv, decode)


class RegisterWorkload(Workload):
    """Many independent registers; see the module docstring.

    Keys rotate: ``keys`` keys (default ``KEYS``) are in use at a time and every
    ``KEY_SECONDS`` the workers move on to fresh ones, so each key's history stays short enough
    for the search however long the run, while there is always enough contention on a key to
    make reordering visible. More ``general`` workers on fewer keys make writes of one key
    arrive together, so that the leader batches them into one Raft entry.
    """

    name = "register"
    GENERAL = 6  # workers that read, write and cas through any node; then one reader per node
    KEYS = 5
    KEY_SECONDS = 3.0

    def __init__(self, cluster: Cluster, seed: int, general: int = GENERAL, keys: int = KEYS):
        super().__init__(cluster, seed)
        self.general = general
        self.keys = keys
        self.concurrency = general + len(cluster.nodes)
        self._values = itertools.count(1)  # unique across keys, so unique per key
        self._last: dict[str, int | None] = {}  # a recent value per key: cas expects it
        self._started = time.monotonic()

    def _key(self, ctx: Context) -> str:
        window = int((time.monotonic() - self._started) / self.KEY_SECONDS)
        return f"r{window}/{ctx.rng.randrange(self.keys)}"

    def step(self, ctx: Context) -> None:
        key = self._key(ctx)
        if ctx.worker >= self.general:
            node = self.cluster.nodes[ctx.worker - self.general]
            self.read(ctx, key, ctx.client("pinned", [node]))
            return
        roll = ctx.rng.random()
        if roll < 0.4:
            self.read(ctx, key, ctx.client())
        elif roll < 0.7:
            self.write(ctx, key, ctx.client())
        else:
            self.cas(ctx, key, ctx.client())

    def read(self, ctx: Context, key: str, client) -> str:
        """A recorded read of ``key``; returns its outcome type."""
        def action():
            r = client.get(key.encode())
            if not r.ok:
                return OUTCOME_TYPE[r.outcome], None, error_text(r)
            if r.response.get.HasField("kv"):
                _learn_kv(ctx, r.response.get.kv, int)
            return OK, _int_value(r.response.get), None

        type, value = ctx.op("read", key, None, action)
        if type == OK:
            self._last[key] = value
        return type

    def write(self, ctx: Context, key: str, client) -> None:
        value = next(self._values)

        def action():
            r = client.put(key.encode(), str(value).encode(), prev_kv=True)
            if r.ok:
                ctx.learn(key, r.response.header.revision, value, wrote=True)
                _learn_put(ctx, r.response.write.put, int)
            return OUTCOME_TYPE[r.outcome], value, error_text(r)

        if ctx.op("write", key, value, action)[0] == OK:
            self._last[key] = value

    def cas(self, ctx: Context, key: str, client) -> None:
        old, new = self._last.get(key), next(self._values)

        def action():
            if old is None:
                r = client.cas(key.encode(), str(new).encode(), expect_absent=True, prev_kv=True)
            else:
                r = client.cas(key.encode(), str(new).encode(), expect_value=str(old).encode(),
                               prev_kv=True)
            if r.ok and not r.response.write.txn.succeeded:
                return FAIL, [old, new], "compare failed"
            if r.ok:
                ctx.learn(key, r.response.header.revision, new, wrote=True)
                _learn_put(ctx, r.response.write.txn.responses[0].put, int)
            return OUTCOME_TYPE[r.outcome], [old, new], error_text(r)

        if ctx.op("cas", key, [old, new], action)[0] == OK:
            self._last[key] = new

    def final(self, ctx: Context) -> None:
        """One read of every key the run used. Keys rotate, so without it a write to a key the
        workers had left behind would never be read after the faults: a write lost to a crash
        would go unseen. Every key is tried at least once, even after the time is up, so that a
        key left unread shows in the run's verdict (runner.Work)."""
        client = ctx.client()
        deadline = time.monotonic() + FINAL_READ_S
        for key in sorted({e.key for e in ctx.recorder.events()}):
            retry_until(deadline - time.monotonic(), lambda: self.read(ctx, key, client) == OK)

    def check(self, events) -> dict:
        return add_check(check_register(events, time_budget_s=REGISTER_BUDGET_S),
                         check_revisions(events))


class SetWorkload(Workload):
    """Unique adds (a put of a fresh key under ``set/``), then one final read of them all."""

    name = "set"
    PREFIX = b"set/"
    PREFIX_END = b"set0"  # the first key after every key with the prefix

    def __init__(self, cluster: Cluster, seed: int, workers: int = 4):
        super().__init__(cluster, seed)
        self.concurrency = workers
        self._elements = itertools.count(1)

    def step(self, ctx: Context) -> None:
        element = next(self._elements)

        def action():
            r = ctx.client().put(self.PREFIX + b"%09d" % element, b"1")
            return OUTCOME_TYPE[r.outcome], element, error_text(r)

        ctx.op("add", "set", element, action)

    def _read_all(self, client):
        """Every element, page by page. Adds only ever add, so pages read at different moments
        still hold everything acknowledged before the first one, and nothing else."""
        elements, start = [], None
        while True:
            if start is None:
                r = client.range(prefix=self.PREFIX)
            else:
                r = client.range(start=start, end=self.PREFIX_END)
            if not r.ok:
                return OUTCOME_TYPE[r.outcome], None, error_text(r)
            kvs = r.response.range.kvs
            elements += [int(kv.key[len(self.PREFIX):]) for kv in kvs]
            if not r.response.range.more or not kvs:
                return OK, sorted(elements), None
            start = kvs[-1].key + b"\x00"

    def final(self, ctx: Context) -> None:
        client = ctx.client()
        retry_until(FINAL_READ_S, lambda: ctx.op("read", "set", None,
                                                 lambda: self._read_all(client))[0] == OK)

    def check(self, events) -> dict:
        return check_set(events)


class CounterWorkload(Workload):
    """One counter; an increment reads it through the worker's pinned node, then CASes on the
    mod revision it read, through the leader.

    Why this is exactly-once even when retried: the client retries an unanswered CAS with the
    same (client_id, seq), and the session table answers a duplicate with the first result. Were
    a duplicate applied again, its compare would fail (the revision moved), the worker would
    see "not applied" and increment once more, and the counter would exceed what was asked for,
    which check_counter reports. A compare that fails on a first attempt means another increment
    won; nothing was applied, so the worker reads again and retries under a new seq.
    """

    name = "counter"
    KEY = b"counter"
    READ_SHARE = 0.25
    INCREMENT_BUDGET_S = 4.0

    def __init__(self, cluster: Cluster, seed: int, workers: int = 4):
        super().__init__(cluster, seed)
        self.concurrency = workers

    def reader(self, ctx: Context):
        node = self.cluster.nodes[ctx.worker % len(self.cluster.nodes)]
        return ctx.client("reader", [node])

    def step(self, ctx: Context) -> None:
        if ctx.rng.random() < self.READ_SHARE:
            self.read(ctx, self.reader(ctx))
        else:
            self.increment(ctx)

    def _get(self, client):
        r = client.get(self.KEY)
        if not r.ok:
            return None
        kv = r.response.get
        return (int(kv.kv.value), kv.kv.mod_revision) if kv.HasField("kv") else (0, 0)

    def read(self, ctx: Context, client) -> str:
        """A recorded read of the counter; returns its outcome type."""
        def action():
            got = self._get(client)
            return (OK, got[0], None) if got is not None else (FAIL, None, "read failed")

        return ctx.op("read", "counter", None, action)[0]

    def increment(self, ctx: Context) -> None:
        reader, writer = self.reader(ctx), ctx.client()

        def action():
            deadline = time.monotonic() + self.INCREMENT_BUDGET_S
            while time.monotonic() < deadline and not ctx.stop.is_set():
                got = self._get(reader)
                if got is None:
                    continue
                value, revision = got
                r = writer.cas(self.KEY, str(value + 1).encode(), expect_mod_revision=revision)
                if r.ok and r.response.write.txn.succeeded:
                    return OK, 1, None
                if r.outcome is Outcome.UNKNOWN:
                    return INFO, 1, error_text(r)
            return FAIL, 1, "no attempt applied"

        ctx.op("incr", "counter", 1, action)

    def final(self, ctx: Context) -> None:
        client = ctx.client()
        retry_until(FINAL_READ_S, lambda: self.read(ctx, client) == OK)

    def check(self, events) -> dict:
        return check_counter(events)


class PromotionWorkload(Workload):
    """Flips of (serving, schema) = (v{n}, s{n}) by Txn, and readers of both keys at once.

    A flip reads the pair (a recorded read), then commits a Txn that compares both keys'
    mod revisions with what it read and puts both new values. Each n is used by one flip only,
    so the pair behaves as one register holding n, and a flip is a cas from the n it read to its
    own: the flip succeeds exactly when no other flip came between (the revisions name that
    flip). A read that finds the two keys disagreeing is recorded with the value "mixed: ...",
    which no flip ever wrote.
    """

    name = "promotion"
    PREFIX = b"promo/"
    SERVING = b"promo/serving"
    SCHEMA = b"promo/schema"
    KEY = "pair"

    def __init__(self, cluster: Cluster, seed: int, flippers: int = 3):
        super().__init__(cluster, seed)
        self.flippers = flippers
        # Flippers, one reader through any node, then one reader pinned to each node.
        self.concurrency = flippers + 1 + len(cluster.nodes)
        self._values = itertools.count(1)

    def _read_pair(self, ctx: Context, client):
        """(outcome type, pair value, (serving, schema) mod revisions, error)."""
        r = client.range(prefix=self.PREFIX)
        if not r.ok:
            return OUTCOME_TYPE[r.outcome], None, None, error_text(r)
        for kv in r.response.range.kvs:
            _learn_kv(ctx, kv, bytes.decode)
        kvs = {kv.key: kv for kv in r.response.range.kvs}
        serving, schema = kvs.get(self.SERVING), kvs.get(self.SCHEMA)
        revisions = tuple(kv.mod_revision if kv else 0 for kv in (serving, schema))
        if serving is None and schema is None:
            return OK, None, revisions, None
        if (serving is not None and schema is not None and serving.value[:1] == b"v"
                and schema.value[:1] == b"s" and serving.value[1:] == schema.value[1:]):
            return OK, int(serving.value[1:]), revisions, None
        shown = [kv.value.decode(errors="replace") if kv else "absent" for kv in (serving, schema)]
        return OK, f"mixed: serving={shown[0]} schema={shown[1]}", revisions, None

    def read(self, ctx: Context, client):
        box = {}

        def action():
            type, value, box["revisions"], error = self._read_pair(ctx, client)
            return type, value, error

        type, value = ctx.op("read", self.KEY, None, action)
        return type, value, box.get("revisions")

    def step(self, ctx: Context) -> None:
        if ctx.worker < self.flippers:
            self.flip(ctx)
        elif ctx.worker == self.flippers:
            self.read(ctx, ctx.client())
        else:
            node = self.cluster.nodes[ctx.worker - self.flippers - 1]
            self.read(ctx, ctx.client("pinned", [node]))

    def flip(self, ctx: Context) -> None:
        client = ctx.client()
        type, old, revisions = self.read(ctx, client)
        if type != OK or isinstance(old, str):
            return
        new = next(self._values)
        compares = [kv_pb2.Compare(key=key, op=kv_pb2.Compare.EQUAL, mod_revision=revision)
                    for key, revision in zip((self.SERVING, self.SCHEMA), revisions)]
        values = {self.SERVING: b"v%d" % new, self.SCHEMA: b"s%d" % new}
        puts = [kv_pb2.RequestOp(put=kv_pb2.PutRequest(key=key, value=value, prev_kv=True))
                for key, value in values.items()]

        def action():
            r = client.txn(compares, puts)
            if r.ok and not r.response.write.txn.succeeded:
                return FAIL, [old, new], "compare failed"
            if r.ok:
                for (key, value), response in zip(values.items(), r.response.write.txn.responses):
                    ctx.learn(key.decode(), r.response.header.revision, value.decode(), wrote=True)
                    _learn_put(ctx, response.put, bytes.decode)
            return OUTCOME_TYPE[r.outcome], [old, new], error_text(r)

        ctx.op("cas", self.KEY, [old, new], action)

    def final(self, ctx: Context) -> None:
        client = ctx.client()
        retry_until(FINAL_READ_S, lambda: self.read(ctx, client)[0] == OK)

    def check(self, events) -> dict:
        verdict = check_register(events, time_budget_s=REGISTER_BUDGET_S)
        ops = operations(events)
        reads = sorted((op for op in ops if op.f == "read" and op.type == OK),
                       key=lambda op: op.return_ns)
        mixed = [op for op in reads if isinstance(op.value, str)]
        origin = min((op.call_ns for op in ops), default=0)
        verdict["checker"] = "promotion: pair register + mixed reads"
        verdict["mixed_reads"] = [op.describe(origin) for op in mixed[:20]]
        verdict["final"] = reads[-1].value if reads else None
        if mixed:
            verdict["valid"] = False
            verdict["anomaly"] = {
                "kind": "mixed-pair", "at_ns": mixed[0].return_ns, "op": mixed[0].describe(origin),
                "message": f"{len(mixed)} reads saw a mixed pair; the first: {mixed[0].value}"}
        elif not reads:
            verdict["valid"] = False if verdict["valid"] is False else UNKNOWN
            verdict["reason"] = "no successful read of the pair"
        return add_check(verdict, check_revisions(events))


class WatchWorkload(Workload):
    """Writers put unique values to a few keys under ``watch/`` (and now and then delete one);
    one watcher per node follows the prefix from revision 0, through that node first and the
    others when it loses it (castor_client.Watch). After healing, a final read of the prefix,
    then every watcher follows on until it has reached that read's revision. Each batch a
    watcher receives is recorded as an ok "watch" operation (see watch_checker.py).

    ``unsafe_drop_on_resume`` plants the bug the checker must catch: a watcher drops the first
    event it receives after each resume (docs/CHAOS.md).
    """

    name = "watch"
    PREFIX = b"watch/"
    KEYS = 8
    WRITERS = 3
    DELETE_SHARE = 0.1
    NEXT_S = 0.2  # one wait of a watcher for its next batch

    def __init__(self, cluster: Cluster, seed: int, writers: int = WRITERS,
                 unsafe_drop_on_resume: bool = False):
        super().__init__(cluster, seed)
        self.writers = writers
        self.concurrency = writers + len(cluster.nodes)
        self.unsafe_drop_on_resume = unsafe_drop_on_resume
        self._values = itertools.count(1)
        # node -> its watcher; kept here, not in a worker's context, so that the final step
        # can follow the same streams on after the workers stop.
        self._watches: dict[str, Watch] = {}

    def _watch(self, node: str) -> Watch:
        if node not in self._watches:
            order = [node] + [n for n in self.cluster.nodes if n != node]
            self._watches[node] = Watch([self.cluster.endpoint(n) for n in order], self.PREFIX,
                                        prefix=True, start_revision=0,
                                        unsafe_drop_on_resume=self.unsafe_drop_on_resume)
        return self._watches[node]

    def step(self, ctx: Context) -> None:
        if ctx.worker < self.writers:
            self.write(ctx)
        else:
            self.follow(ctx, self.cluster.nodes[ctx.worker - self.writers])

    def write(self, ctx: Context) -> None:
        key = f"{self.PREFIX.decode()}{ctx.rng.randrange(self.KEYS)}"
        client = ctx.client()
        if ctx.rng.random() < self.DELETE_SHARE:
            def delete():
                r = client.delete(key.encode())
                if r.ok and r.response.write.delete_key.deleted:
                    ctx.learn(key, r.response.header.revision, None, wrote=True)
                return OUTCOME_TYPE[r.outcome], None, error_text(r)

            ctx.op("delete", key, None, delete)
            return
        value = next(self._values)

        def put():
            r = client.put(key.encode(), b"%d" % value)
            if r.ok:
                ctx.learn(key, r.response.header.revision, value, wrote=True)
            return OUTCOME_TYPE[r.outcome], value, error_text(r)

        ctx.op("put", key, value, put)

    def follow(self, ctx: Context, node: str) -> bool:
        """Records the next batch of ``node``'s watcher; False when none came."""
        w = self._watch(node)
        try:
            events = w.next(self.NEXT_S)
        except WatchCompacted as e:
            ctx.op("watch", node, None, lambda: (FAIL, None, str(e)))
            return False
        if not events:
            return False
        batch = {"events": [[e.kv.mod_revision, kv_pb2.Event.Type.Name(e.type), e.kv.key.decode(),
                             e.kv.value.decode()] for e in events], "resumes": w.resumes}
        ctx.op("watch", node, None, lambda: (OK, batch, None))
        return True

    def _read_state(self, client):
        r = client.range(prefix=self.PREFIX)
        if not r.ok:
            return OUTCOME_TYPE[r.outcome], None, error_text(r)
        state = {kv.key.decode(): kv.value.decode() for kv in r.response.range.kvs}
        return OK, {"revision": r.response.header.revision, "state": state}, None

    def final(self, ctx: Context) -> None:
        client = ctx.client()
        box = {}

        def read():
            type, value = ctx.op("read", "state", None, lambda: self._read_state(client))
            box["value"] = value
            return type == OK

        if not retry_until(FINAL_READ_S, read):
            return
        upto = box["value"]["revision"]
        for node in self.cluster.nodes:
            w = self._watch(node)

            def caught_up():
                self.follow(ctx, node)
                return (w.revision or 0) >= upto

            retry_until(FINAL_READ_S, caught_up, pause_s=0)
            w.close()

    def check(self, events) -> dict:
        return check_watch(events)


WORKLOADS = {w.name: w for w in (RegisterWorkload, SetWorkload, CounterWorkload, PromotionWorkload,
                                 WatchWorkload)}


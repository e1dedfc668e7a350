"""Watch: the changes to a key, a prefix or a range, as one unbroken stream that survives losing
its node (docs/PROMISES.md, "Watch").

Each call to next() returns the events of one or more whole revisions (a revision split into
fragments on the wire is joined first), in revision order, each revision once. When the node it watches through goes
away (the connection breaks, the node stops answering, or it ends the watch with UNAVAILABLE or
TOO_SLOW) the watch starts again on the next node from the last revision it returned, so the
caller misses nothing and sees nothing twice. A node whose history no longer reaches back that
far answers COMPACTED; only when every node does is WatchCompacted raised.

Liveness: the watch asks for progress answers, which a node sends whenever a second passes with
nothing else to send; a node silent for `silence_s` is taken for gone.

Not thread-safe: one Watch per thread.
"""
import itertools
import time

from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, KIND_RESPONSE, Connection, ConnectionLost


class WatchCompacted(Exception):
    """No node keeps the history from where the watch must resume; `floor` is the highest
    revision any of them can start from (read the current state, then watch from there)."""

    def __init__(self, revision: int, floor: int):
        super().__init__(f"no node keeps the changes after revision {revision} (history from {floor})")
        self.revision = revision
        self.floor = floor


# A pause before watching through the next node, so that a cluster with no node to serve the
# watch is not hammered with connections.
RESUME_PAUSE_S = 0.05


class WatchFailed(Exception):
    """A node refused the watch itself (a key too large, say): no other node would take it."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{kv_pb2.ErrorCode.Name(code)}: {message}")
        self.code = code


# Ends of a node's stream after which the watch resumes on another node (OK: cancelled there).
_RESUME = {kv_pb2.OK, kv_pb2.UNAVAILABLE, kv_pb2.TOO_SLOW, kv_pb2.COMPACTED, kv_pb2.RESOURCE_EXHAUSTED}


class Watch:
    def __init__(self, endpoints, key: bytes, prefix: bool = False, range_end: bytes = b"",
                 start_revision=None, prev_kv: bool = False, cluster_id: str = "castor",
                 silence_s: float = 3.0, unsafe_drop_on_resume: bool = False):
        self.endpoints = [_parse(e) for e in endpoints]
        self.cluster_id = cluster_id
        self.request = kv_pb2.WatchRequest(key=key, prefix=prefix, range_end=range_end, prev_kv=prev_kv,
                                           progress_notify=True)
        # Every change up to `revision` has been returned; None until the first node says where
        # a watch "from now" starts.
        self.revision = start_revision
        self.silence_s = silence_s
        self.resumes = 0  # how often the watch moved to another node
        self.node = None  # the node id it watches through now
        # Test-only: the planted bug the chaos checker must catch (docs/CHAOS.md): after a resume
        # the first event is dropped, a silent gap.
        self._unsafe_drop_on_resume = unsafe_drop_on_resume
        self._drop_next = False
        self._ids = itertools.count(1)
        self._next_endpoint = 0
        self._conn = None
        self._request_id = 0
        self._heard = 0.0
        self._pending = []  # events of a revision whose fragments are still arriving
        self._compacted = {}  # endpoint -> floor, while every node refuses
        self._retry_at = 0.0

    def next(self, timeout_s: float):
        """The events of the next whole revisions, oldest first; [] when none arrived within
        `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if self._conn is None and not self._start(remaining):
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            events = self._receive(min(remaining, 0.2))
            if events:
                return events

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- machinery -------------------------------------------------------------------------
    def _start(self, timeout_s: float) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        ep = self.endpoints[self._next_endpoint % len(self.endpoints)]
        self._next_endpoint += 1
        try:
            conn = Connection(ep[0], ep[1], self.cluster_id, min(1.0, max(0.05, timeout_s)))
        except ConnectionLost:
            return False
        request = kv_pb2.WatchRequest()
        request.CopyFrom(self.request)
        if self.revision is not None:
            request.start_revision = self.revision
        self._request_id = next(self._ids)
        try:
            conn.send(KIND_REQUEST, kv_pb2.ClientRequest(request_id=self._request_id, watch=request)
                      .SerializeToString())
        except ConnectionLost:
            conn.close()
            return False
        self._conn, self._endpoint, self.node = conn, ep, conn.node_id
        self._heard = time.monotonic()
        self._pending = []
        return True

    def _lose(self) -> None:
        """Moves on to the next node; what it returned so far stands."""
        self.close()
        self.resumes += 1
        self._drop_next = self._unsafe_drop_on_resume
        self._retry_at = time.monotonic() + RESUME_PAUSE_S

    def _receive(self, timeout_s: float):
        try:
            got = self._conn.recv_within(timeout_s)
        except ConnectionLost:
            self._lose()
            return []
        if got is None:
            if time.monotonic() - self._heard > self.silence_s:
                self._lose()
            return []
        self._heard = time.monotonic()
        kind, payload = got
        resp = kv_pb2.ClientResponse.FromString(payload)
        if kind != KIND_RESPONSE or resp.request_id != self._request_id:
            return []
        w = resp.watch
        if w.canceled or resp.code != kv_pb2.OK:
            return self._ended(resp)
        if w.created:
            if self.revision is None:
                self.revision = w.revision
            return []
        self._compacted.clear()  # this node serves it: the history is there after all
        return self._take(w)

    def _take(self, w):
        """The events of `w` joined with fragments before it; a revision's list once whole."""
        self._pending.extend(w.events)
        if w.fragment or not self._pending:
            if not w.fragment:
                self.revision = max(self.revision, w.revision)  # progress: nothing new
            return []
        events, self._pending = self._pending, []
        if self._drop_next:
            self._drop_next = False
            events = events[1:]
        self.revision = max(self.revision, w.revision)
        return events

    def _ended(self, resp):
        if resp.code not in _RESUME:
            self.close()
            raise WatchFailed(resp.code, resp.message)
        if resp.code == kv_pb2.COMPACTED:
            self._compacted[self._endpoint] = resp.watch.compact_revision
            if len(self._compacted) == len(self.endpoints):
                floors = self._compacted
                self._compacted = {}
                self.close()
                raise WatchCompacted(self.revision, max(floors.values()))
        self._lose()
        return []


def _parse(endpoint: str):
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)

"""Client: leader discovery, a registered session, retries with the same seq, and three
honest outcomes (docs/PROMISES.md):

  OK       it happened (the response says how);
  FAILED   it certainly did not happen: every attempt was refused before it could apply;
  UNKNOWN  it may have: an attempt was sent and then the connection broke, the node answered
           UNKNOWN, or the deadline passed without a definite answer.

Reads have no effect, so a read that gets no answer is FAILED. Not thread-safe: one Client per
thread (the chaos harness gives each worker its own).
"""
import dataclasses
import enum
import itertools
import random
import time

from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, KIND_RESPONSE, Connection, ConnectionLost


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "fail"
    UNKNOWN = "info"


@dataclasses.dataclass
class Result:
    outcome: Outcome
    code: int  # kv_pb2.ErrorCode
    response: object = None  # kv_pb2.ClientResponse when one arrived
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


# Answers that mean "not applied, ask again": the request never reached a log.
_RETRY = {kv_pb2.NOT_LEADER, kv_pb2.UNAVAILABLE, kv_pb2.DROPPED}


class Client:
    def __init__(self, endpoints, cluster_id: str = "castor", timeout_s: float = 5.0,
                 attempt_timeout_s: float = 1.0):
        self.endpoints = [self._parse(e) for e in endpoints]
        self.cluster_id = cluster_id
        self.timeout_s = timeout_s
        # One attempt waits at most this long for its answer, then the call retries elsewhere
        # (as the C++ client does): a paused or cut-off node must not hold a call for its whole
        # deadline. A write retried this way keeps its seq, so it still applies at most once.
        self.attempt_timeout_s = attempt_timeout_s
        self._conns = {}       # endpoint -> Connection
        self._node_of = {}     # endpoint -> node id (from its Hello)
        self._leader = None    # endpoint believed to lead
        self._next = 0
        self._ids = itertools.count(1)
        self._client_id = 0
        self._seq = 0

    # --- verbs -----------------------------------------------------------------------------
    def get(self, key: bytes, serializable: bool = False) -> Result:
        return self._read(kv_pb2.ClientRequest(get=kv_pb2.GetRequest(key=key, serializable=serializable)))

    def range(self, prefix: bytes = b"", start: bytes = b"", end: bytes = b"", limit: int = 0,
              serializable: bool = False) -> Result:
        r = kv_pb2.RangeRequest(limit=limit, serializable=serializable)
        if prefix:
            r.key, r.prefix = prefix, True
        else:
            r.key, r.range_end = start, end
        return self._read(kv_pb2.ClientRequest(range=r))

    def put(self, key: bytes, value: bytes, prev_kv: bool = False) -> Result:
        return self._write(kv_pb2.WriteRequest(put=kv_pb2.PutRequest(key=key, value=value, prev_kv=prev_kv)))

    def delete(self, key: bytes) -> Result:
        return self._write(kv_pb2.WriteRequest(delete_key=kv_pb2.DeleteRequest(key=key)))

    def txn(self, compares, success, failure=()) -> Result:
        t = kv_pb2.TxnRequest(compares=list(compares), success=list(success), failure=list(failure))
        return self._write(kv_pb2.WriteRequest(txn=t))

    def cas(self, key: bytes, new: bytes, expect_value=None, expect_version=None,
            expect_mod_revision=None, expect_absent=False, prev_kv: bool = False) -> Result:
        """A Txn of one compare and one put. OK with txn.succeeded telling whether it swapped;
        with ``prev_kv``, a swap's txn.responses[0].put.prev_kv is what it replaced."""
        c = kv_pb2.Compare(key=key, op=kv_pb2.Compare.EQUAL)
        if expect_value is not None:
            c.value = expect_value
        elif expect_version is not None:
            c.version = expect_version
        elif expect_mod_revision is not None:
            c.mod_revision = expect_mod_revision
        elif expect_absent:
            c.version = 0
        else:
            raise ValueError("cas needs one expectation")
        put = kv_pb2.RequestOp(put=kv_pb2.PutRequest(key=key, value=new, prev_kv=prev_kv))
        return self.txn([c], [put])

    def status(self, endpoint: str) -> Result:
        """One node's own view (never redirected)."""
        ep = self._parse(endpoint)
        req = kv_pb2.ClientRequest(request_id=next(self._ids), status=kv_pb2.StatusRequest())
        try:
            resp = self._call(ep, req, time.monotonic() + self.timeout_s)
        except ConnectionLost as e:
            return Result(Outcome.FAILED, kv_pb2.UNAVAILABLE, None, str(e))
        return Result(Outcome.OK if resp.code == kv_pb2.OK else Outcome.FAILED, resp.code, resp, resp.message)

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
        self._conns.clear()

    # --- machinery -------------------------------------------------------------------------
    @staticmethod
    def _parse(endpoint: str):
        host, _, port = endpoint.rpartition(":")
        return host.strip("[]"), int(port)

    def _candidate(self):
        if self._leader is not None:
            return self._leader
        ep = self.endpoints[self._next % len(self.endpoints)]
        self._next += 1
        return ep

    def _conn(self, ep, deadline):
        c = self._conns.get(ep)
        if c is None:
            c = Connection(ep[0], ep[1], self.cluster_id, min(1.0, max(0.05, deadline - time.monotonic())))
            self._conns[ep] = c
            self._node_of[ep] = c.node_id
        return c

    def _call(self, ep, req, deadline):
        """Sends req to ep and waits for its answer; ConnectionLost if there is none. A node
        that cannot be reached, even to connect, is no longer taken for the leader: a stale hint
        naming a dead node must not hold every later call."""
        attempt_deadline = min(deadline, time.monotonic() + self.attempt_timeout_s)
        conn = None
        try:
            conn = self._conn(ep, deadline)
            conn.send(KIND_REQUEST, req.SerializeToString())
            while True:
                kind, payload = conn.recv(attempt_deadline - time.monotonic())
                resp = kv_pb2.ClientResponse.FromString(payload)
                if kind == KIND_RESPONSE and resp.request_id == req.request_id:
                    return resp
        except ConnectionLost:
            if conn is not None:
                conn.close()
            self._conns.pop(ep, None)
            if self._leader == ep:
                self._leader = None
            raise

    def _follow(self, ep, resp):
        """Learns the leader from a NOT_LEADER answer (or forgets a stale guess)."""
        hint = resp.header.leader
        self._leader = None
        for other, node in self._node_of.items():
            if hint and node == hint and other != ep:
                self._leader = other

    def _backoff(self):
        time.sleep(random.uniform(0.01, 0.05))

    def _read(self, req) -> Result:
        deadline = time.monotonic() + self.timeout_s
        last = "deadline passed"
        while time.monotonic() < deadline:
            ep = self._candidate()
            req.request_id = next(self._ids)
            try:
                resp = self._call(ep, req, deadline)
            except ConnectionLost as e:
                last = str(e)
                self._backoff()
                continue
            if resp.code == kv_pb2.OK:
                self._leader = self._leader or (ep if resp.header.leader == self._node_of.get(ep) else None)
                return Result(Outcome.OK, resp.code, resp)
            if resp.code in _RETRY:
                self._follow(ep, resp)
                last = resp.message
                self._backoff()
                continue
            return Result(Outcome.FAILED, resp.code, resp, resp.message)
        return Result(Outcome.FAILED, kv_pb2.UNAVAILABLE, None, last)

    def _register(self, deadline) -> bool:
        nonce = random.getrandbits(63)
        req = kv_pb2.ClientRequest(register_client=kv_pb2.RegisterClientRequest(nonce=nonce))
        while time.monotonic() < deadline:
            ep = self._candidate()
            req.request_id = next(self._ids)
            try:
                resp = self._call(ep, req, deadline)
            except ConnectionLost:
                self._backoff()
                continue
            if resp.code == kv_pb2.OK:
                self._leader = ep
                self._client_id, self._seq = resp.register_client.client_id, 0
                return True
            if resp.code in _RETRY or resp.code == kv_pb2.UNKNOWN:
                # An unknown registration at worst leaves an unused session to expire.
                self._follow(ep, resp)
                self._backoff()
                continue
            return False
        return False

    def _write(self, write) -> Result:
        deadline = time.monotonic() + self.timeout_s
        if not self._client_id and not self._register(deadline):
            return Result(Outcome.FAILED, kv_pb2.UNAVAILABLE, None, "could not register a session")
        self._seq += 1
        write.client_id, write.seq, write.lowest_outstanding_seq = self._client_id, self._seq, self._seq
        req = kv_pb2.ClientRequest(write=write)
        maybe_applied = False
        last = "deadline passed"
        while time.monotonic() < deadline:
            ep = self._candidate()
            req.request_id = next(self._ids)
            try:
                resp = self._call(ep, req, deadline)
            except ConnectionLost as e:
                # Sent or not, we cannot tell: the same seq makes a retry safe (thesis 6.3).
                maybe_applied = True
                last = str(e)
                self._backoff()
                continue
            if resp.code == kv_pb2.OK:
                self._leader = ep
                return Result(Outcome.OK, resp.code, resp)
            if resp.code in _RETRY:
                self._follow(ep, resp)
                last = resp.message
                self._backoff()
                continue
            if resp.code == kv_pb2.UNKNOWN:
                maybe_applied = True
                last = resp.message
                self._backoff()
                continue
            if resp.code == kv_pb2.SESSION_EXPIRED:
                self._client_id = 0
                if maybe_applied:
                    return Result(Outcome.UNKNOWN, resp.code, resp, "session expired after an attempt that may have applied")
                if not self._register(deadline):
                    break
                self._seq += 1
                write.client_id, write.seq, write.lowest_outstanding_seq = self._client_id, self._seq, self._seq
                continue
            outcome = Outcome.UNKNOWN if maybe_applied else Outcome.FAILED
            return Result(outcome, resp.code, resp, resp.message)
        if maybe_applied:
            return Result(Outcome.UNKNOWN, kv_pb2.UNKNOWN, None, last)
        return Result(Outcome.FAILED, kv_pb2.UNAVAILABLE, None, last)

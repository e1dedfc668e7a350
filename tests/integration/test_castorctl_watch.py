"""`castorctl watch` against a real cluster (README, "The CLI"): one line per event in revision
order, unbroken (no duplicate, no gap) across the kill of the node it watches through, --rev
replaying history from N inclusive, exit 0 on SIGINT or SIGTERM, and a named error with exit 4
when no node can serve the watch. castorctl runs under Popen and is stopped by its PID."""
import base64
import json
import queue
import signal
import subprocess
import threading
import time

from cluster import BUILD, parse_metrics

# How long a line castorctl should print may take: generous, it only stops a hung test.
LINE_WAIT_S = 10.0


class Castorctl:
    """A running `castorctl watch`; its stdout lines arrive in `lines` from a reader thread."""

    def __init__(self, endpoints, *args):
        self.proc = subprocess.Popen([str(BUILD / "tools" / "castorctl"), "--endpoints", ",".join(endpoints),
                                      "watch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.rstrip(b"\n"))

    def line(self, timeout_s=LINE_WAIT_S):
        try:
            return self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"castorctl printed nothing in {timeout_s} s") from None

    def events(self, want, timeout_s=LINE_WAIT_S):
        """The next `want` -w json events as dicts."""
        return [json.loads(self.line(timeout_s)) for _ in range(want)]

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` to this castorctl (by PID) and returns its exit code and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("castorctl did not stop on " + signal.Signals(sig).name) from None
        self.reader.join(5)
        return self.proc.returncode, self.proc.stderr.read().decode()


def _watchers(cluster, name):
    _, _, body = cluster.http(name, "GET", "/metrics")
    return next((v for n, _, v in parse_metrics(body.decode()) if n == "castor_watchers"), 0)


def _value(event):
    """A -w json event's value as bytes (None for a DELETE, which has none)."""
    kv = event["kv"]
    if "value_base64" in kv:
        return base64.b64decode(kv["value_base64"])
    return kv["value"].encode() if "value" in kv else None


def _started(cluster, ctl, key):
    """Puts `key` until castorctl prints it: its watch (from now) is then open. Later puts of
    `key` may still be printed after."""
    c = cluster.client()
    deadline = time.monotonic() + LINE_WAIT_S
    while time.monotonic() < deadline:
        c.put(key, b"ready")
        try:
            got = json.loads(ctl.lines.get(timeout=0.3))
        except queue.Empty:
            continue
        assert got["kv"]["key"] == key.decode(), got
        c.close()
        return
    raise AssertionError("castorctl's watch never started")


def test_watch_on_a_prefix_prints_puts_and_a_delete_in_order_and_exits_0_on_sigint(cluster):
    ctl = Castorctl(cluster.endpoints, "cw/", "--prefix", "-w", "json")
    try:
        _started(cluster, ctl, b"cw/ready")
        c = cluster.client()
        want = []
        for key, value in ((b"cw/a", b"1"), (b"cw/b", "é".encode()), (b"cw/a", b"\xff\x00")):
            r = c.put(key, value)
            want.append(("PUT", key, value, r.response.header.revision))
        c.put(b"other/x", b"not watched")
        r = c.delete(b"cw/b")
        want.append(("DELETE", b"cw/b", None, r.response.header.revision))
        c.close()
        got = []
        while len(got) < len(want):
            e = ctl.events(1)[0]
            if e["kv"]["key"] == "cw/ready":
                continue  # a later put of _started's
            got.append((e["type"], e["kv"]["key"].encode(), _value(e), e["revision"]))
        assert got == want
    finally:
        code, err = ctl.stop(signal.SIGINT)
    assert code == 0, err
    assert ctl.lines.empty(), "nothing more, nothing twice"


def test_watch_goes_on_unbroken_when_the_node_it_watches_through_dies(cluster):
    leader = cluster.wait_for_leader()
    victim = next(n for n in cluster.names if n != leader)
    order = [victim] + [n for n in cluster.names if n != victim]
    ctl = Castorctl([cluster.endpoint(n) for n in order], "kw/", "--prefix", "-w", "json")
    try:
        _started(cluster, ctl, b"kw/ready")
        assert _watchers(cluster, victim) == 1, "castorctl does not watch through the first endpoint"
        c = cluster.client()
        written = []

        def writer():
            for i in range(200):
                r = c.put(b"kw/%03d" % i, b"x")
                assert r.ok, r.message
                written.append(r.response.header.revision)

        t = threading.Thread(target=writer)
        t.start()
        seen = [e for e in ctl.events(50) if e["kv"]["key"] != "kw/ready"]
        cluster.kill(victim)
        while len(seen) < 200:
            e = ctl.events(1, timeout_s=20)[0]
            if e["kv"]["key"] != "kw/ready":
                seen.append(e)
        t.join()
        c.close()
        assert [e["revision"] for e in seen] == written, "a gap, a repeat or a reordering across the resume"
        assert [e["kv"]["key"] for e in seen] == ["kw/%03d" % i for i in range(200)]
        assert sum(_watchers(cluster, n) for n in order[1:]) == 1, "it did not resume on another node"
    finally:
        code, err = ctl.stop()
    assert code == 0, err


def test_rev_replays_history_from_n_inclusive_with_prev_kv(cluster):
    c = cluster.client()
    revs = [c.put(b"rv", b"v%d" % i).response.header.revision for i in range(5)]
    c.close()
    ctl = Castorctl(cluster.endpoints, "rv", "--rev", str(revs[1]), "--prev-kv", "-w", "json")
    try:
        got = ctl.events(4)
        assert [(e["kv"]["value"], e["prev_kv"]["value"], e["revision"]) for e in got] == \
            [("v%d" % i, "v%d" % (i - 1), revs[i]) for i in range(1, 5)]
        assert all(e["type"] == "PUT" and e["kv"]["key"] == "rv" and e["kv"]["mod_revision"] == e["revision"]
                   for e in got)
    finally:
        code, err = ctl.stop()
    assert code == 0, err


def test_simple_output_is_etcdctls_type_key_value_lines(cluster):
    c = cluster.client()
    put = c.put(b"sw", b"hello").response.header.revision
    c.delete(b"sw")
    c.close()
    ctl = Castorctl(cluster.endpoints, "sw", "--rev", str(put))
    try:
        assert [ctl.line() for _ in range(5)] == [b"PUT", b"sw", b"hello", b"DELETE", b"sw"]
        assert ctl.line() == b"", "a DELETE's value line is empty, as etcdctl's"
    finally:
        code, err = ctl.stop()
    assert code == 0, err


def test_a_watch_no_node_will_take_ends_with_a_named_error_and_exit_4(cluster):
    ctl = Castorctl(cluster.endpoints, "k" * 4096)
    try:
        ctl.proc.wait(timeout=LINE_WAIT_S)
    finally:
        code, err = ctl.stop()
    assert code == 4, err
    assert "TOO_LARGE" in err and "key bytes" in err, err

"""Watch over HTTP (docs/HTTP.md, "Watch"): GET /v1/watch/<key> streams one JSON line per answer
(chunked), from any node; ?rev replays the past, ?prev_kv adds the previous state; a start no
node keeps ends in a COMPACTED line, never a gap; a client that stops reading is cut loose
(TOO_SLOW) and one that hangs up frees its watch; bad requests are 400 before anything starts."""
import http.client
import json
import socket
import time

from cluster import Cluster, parse_metrics, running
from http_calls import wait_until


class HttpWatch:
    """One GET /v1/watch/... to one node, read a line at a time as curl -N would."""

    def __init__(self, cluster, name, path, timeout_s=10.0):
        host, port = cluster.http_address(name).split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()

    def line(self):
        raw = self.resp.readline()
        assert raw.endswith(b"\n"), f"the stream ended: {raw!r}"
        return json.loads(raw)

    def events(self, want):
        """(type, key, value, mod_revision) of the next `want` events, across lines."""
        got = []
        while len(got) < want:
            line = self.line()
            assert not line.get("canceled"), line
            for e in line.get("events", []):
                got.append((e["type"], e["kv"]["key"], e["kv"].get("value"), e["kv"]["mod_revision"]))
        return got

    def close(self):
        self.conn.close()


def _put(cluster, key, value):
    status, _, body = _leader_call(cluster, "PUT", f"/v1/kv/{key}", value)
    assert status == 200, body
    return json.loads(body)["header"]["revision"]


def _leader_call(cluster, method, path, body=None):
    return cluster.http(cluster.wait_for_leader(), method, path, body)


def _watchers(cluster, name):
    _, _, body = cluster.http(name, "GET", "/metrics")
    return next(v for n, _, v in parse_metrics(body.decode()) if n == "castor_watchers")


def test_every_change_streams_as_json_lines_from_a_follower(cluster):
    leader = cluster.wait_for_leader()
    follower = next(n for n in cluster.names if n != leader)
    w = HttpWatch(cluster, follower, "/v1/watch/models/?prefix&prev_kv")
    assert w.resp.status == 200
    assert w.resp.getheader("Content-Type") == "application/x-ndjson"
    assert w.resp.getheader("Transfer-Encoding") == "chunked"
    created = w.line()
    assert created["created"] is True and created["revision"] >= 0
    r1 = _put(cluster, "models/a", "v1")
    r2 = _put(cluster, "models/a", "v2")
    _put(cluster, "other/x", "not watched")
    status, _, body = _leader_call(cluster, "DELETE", "/v1/kv/models/a")
    assert status == 200, body
    r3 = json.loads(body)["header"]["revision"]
    got = w.events(3)
    assert got == [("PUT", "models/a", "v1", r1), ("PUT", "models/a", "v2", r2), ("DELETE", "models/a", None, r3)]
    w.close()


def test_rev_replays_the_past_and_a_hang_up_frees_the_watch(cluster):
    revisions = [_put(cluster, f"cfg/{i}", str(i)) for i in range(5)]
    name = cluster.names[0]
    w = HttpWatch(cluster, name, f"/v1/watch/cfg/?prefix&rev={revisions[1]}")
    assert w.line()["created"]
    assert [e[3] for e in w.events(4)] == revisions[1:], "?rev=N starts at revision N itself"
    assert _watchers(cluster, name) == 1.0
    w.close()
    wait_until("the watch of a client that hung up is gone", lambda: _watchers(cluster, name) == 0.0)


def test_a_start_no_node_keeps_ends_compacted_with_where_history_starts(tmp_path):
    with running(Cluster(tmp_path, extra_args=["--watch-history-revisions", "5"])) as cluster:
        last = [_put(cluster, "c", str(i)) for i in range(20)][-1]
        name = cluster.names[1]
        # Applied through the last put's revision (a log index is not a revision).
        wait_until("the node applied the last put", lambda: json.loads(
            cluster.http(name, "GET", "/v1/kv/c?serializable")[2]).get("mod_revision") == last)
        w = HttpWatch(cluster, name, "/v1/watch/c?rev=1")
        assert w.resp.status == 200
        assert w.line()["created"]
        end = w.line()
        assert end["canceled"] is True and end["code"] == "COMPACTED", end
        assert end["compact_revision"] == last - 5
        assert w.resp.readline() == b"", "the stream ends after its canceled line"
        w.close()


def test_a_client_that_does_not_read_is_cancelled_too_slow(tmp_path):
    with running(Cluster(tmp_path, extra_args=["--watch-queued-bytes-max", "65536"])) as cluster:
        name = cluster.wait_for_leader()
        host, port = cluster.http_address(name).split(":")
        lazy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a tiny window
        lazy.connect((host, int(port)))
        lazy.sendall(b"GET /v1/watch/big/?prefix HTTP/1.1\r\nHost: x\r\n\r\n")
        value = "x" * 16384
        for i in range(300):  # 4.8 MB of events for a client that reads none of them
            _put(cluster, f"big/{i}", value)
        status, _, _ = cluster.http(name, "GET", "/v1/kv/big/0")
        assert status == 200, "the node stopped serving others"
        _, _, body = cluster.http(name, "GET", "/metrics")
        slow = [v for n, labels, v in parse_metrics(body.decode())
                if n == "castor_watches_cancelled_total" and labels == {"reason": "slow"}]
        assert slow == [1.0]
        # Reading now, it finds the stream's end: TOO_SLOW and the revision to resume after.
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        lazy.settimeout(10.0)
        data = b""
        deadline = time.monotonic() + 30
        while b'"canceled":true' not in data and time.monotonic() < deadline:
            chunk = lazy.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        line = next(ln for ln in data.split(b"\n") if b'"canceled":true' in ln)
        end = json.loads(line[line.index(b"{"):])
        assert end["code"] == "TOO_SLOW" and 0 < end["revision"], end
        lazy.close()


def test_bad_watch_requests_are_refused_before_anything_starts(cluster):
    name = cluster.names[0]
    for path, why in [("/v1/watch/k?rev=0", "revisions count from 1"),
                      ("/v1/watch/k?prefx", "unknown query parameter"),
                      ("/v1/watch/k?prefix&end=z", "do not go together"),
                      ("/v1/watch/", "empty key"),
                      ("/v1/watch/" + "k" * 600, "key")]:
        status, _, body = cluster.http(name, "GET", path)
        assert status in (400, 413), (path, status, body)
        assert why in json.loads(body)["message"], (path, body)
    status, headers, _ = cluster.http(name, "POST", "/v1/watch/k", b"")
    assert status == 405 and headers.get("allow") == "GET"
    assert _watchers(cluster, name) == 0.0

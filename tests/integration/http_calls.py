"""What the HTTP tests share: requests to a real cluster through the standard library
(cluster.http_request / cluster.raw_http, which follow no redirect and raise on no status, so a
test sees exactly what the server sent), the JSON and metrics they answer, and polling."""
import base64
import json
import re
import time
from urllib.parse import urlsplit

from cluster import http_request, parse_metrics

def wait_until(what, predicate, timeout_s=10.0, interval=0.05, describe=None):
    """Polls `predicate` until it returns something truthy, which is returned. On timeout the
    error says `what` and, when given, what describe() says about the state at that moment."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}" + (f"; last seen: {describe()}" if describe else ""))
        time.sleep(interval)


def ids(cluster):
    """Raft ids follow --initial-cluster order: n1 is 1."""
    return {n: i + 1 for i, n in enumerate(cluster.names)}


def js(data):
    return json.loads(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def call(cluster, method, path, body=None, headers=None):
    """A request to the leader; a 307 (the leadership moved meanwhile) is followed by hand, at
    most three times. Returns (status, headers, body bytes)."""
    address = cluster.http_address(cluster.wait_for_leader())
    for _ in range(4):
        status, hdrs, data = http_request(address, method, path, body, headers)
        if status != 307:
            return status, hdrs, data
        loc = urlsplit(hdrs["location"])
        address, path = loc.netloc, loc.path + (f"?{loc.query}" if loc.query else "")
    raise AssertionError(f"{method} {path}: still redirected after 3 hops")


def ok(cluster, method, path, body=None):
    """call() that must answer 200 with JSON; returns the JSON."""
    status, _, data = call(cluster, method, path, body)
    assert status == 200, (method, path, status, data)
    return js(data)


def error(cluster, method, path, body=None, name=None, want_status=400, want_code="INVALID_ARGUMENT"):
    """A request that must fail with `want_status` and the JSON error `want_code`; returns the JSON."""
    if name is None:
        status, hdrs, data = call(cluster, method, path, body)
    else:
        status, hdrs, data = cluster.http(name, method, path, body)
    assert status == want_status, (method, path, status, data)
    assert hdrs.get("content-type", "").startswith("application/json"), (method, path, hdrs)
    j = js(data)
    assert j["code"] == want_code, (method, path, j)
    assert isinstance(j["message"], str) and j["message"], (method, path, j)
    return j


def metrics(cluster, name):
    status, hdrs, data = cluster.http(name, "GET", "/metrics")
    assert status == 200, data
    return parse_metrics(data.decode())


def value(samples, name, **labels):
    """The sum of the samples called `name` whose labels include `labels`; None when none is."""
    got = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    return sum(got) if got else None


def check_header(header, cluster, answered_by):
    assert set(header) == {"revision", "term", "leader", "node"}, header
    assert header["node"] == ids(cluster)[answered_by], header
    assert header["term"] >= 1 and header["revision"] >= 1, header
    assert header["leader"] == ids(cluster)[cluster.wait_for_leader()], header


def wait_applied(cluster, revision):
    """Waits until every running node has applied `revision` (by its /status)."""
    for n in cluster.procs:
        wait_until(f"{n} applies revision {revision}",
                   lambda: js(cluster.http(n, "GET", "/status")[2])["applied"] >= revision)


def parse_raw_response(raw: bytes):
    """(status, headers lower-cased, body) of the first response in `raw`."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    assert m, f"not an HTTP response: {raw[:200]!r}"
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        body = body[:int(hdrs["content-length"])]
    return int(m.group(1)), hdrs, body


def assert_serving(cluster):
    """Every node is alive and healthy over HTTP, and the cluster still takes a write and a read."""
    assert all(p.poll() is None for p in cluster.procs.values()), "a node died"
    for n in cluster.procs:
        status, _, data = cluster.http(n, "GET", "/health")
        assert status == 200 and js(data)["healthy"] is True, (n, status, data)
    ok(cluster, "PUT", "/v1/kv/still/serving", b"yes")
    status, _, data = call(cluster, "GET", "/v1/kv/still/serving?raw")
    assert (status, data) == (200, b"yes")

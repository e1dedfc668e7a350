"""Bad HTTP requests on a real cluster (docs/HTTP.md): garbage on the other ports as the
metrics count it, malformed JSON and parameters, oversize keys, values and bodies. Each gets its
named JSON error, and nothing is written."""
import json
import socket

from castor_client.wire import KIND_HELLO, frame
from cluster import raw_http
from hostile import MiB
from http_calls import (assert_serving, call, error, js, metrics, ok, parse_raw_response, value,
                        wait_until)


def test_garbage_on_the_peer_and_client_ports_shows_in_castor_rejected_total(cluster):
    victim = next(n for n in cluster.names if n != cluster.wait_for_leader())
    s = metrics(cluster, victim)
    assert not value(s, "castor_rejected_total", listener="peer")
    assert not value(s, "castor_rejected_total", listener="client")
    # A first frame that is not a Hello, and raw junk, on each port.
    for port in (cluster.peer_port[victim], cluster.client_port[victim]):
        for junk in (frame(KIND_HELLO, b"\x0d\x54\x53\x41\x43"), frame(KIND_HELLO, b"garbage, not a Hello")):
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(junk)
                sock.settimeout(2)
                try:
                    sock.recv(100)
                except OSError:
                    pass
    def counted():
        s = metrics(cluster, victim)
        return s if (value(s, "castor_rejected_total", listener="peer") or 0) >= 2 and \
            (value(s, "castor_rejected_total", listener="client") or 0) >= 2 else None
    s = wait_until("castor_rejected_total counts the peer and client garbage", counted)
    reasons = [l for name, l, _ in s if name == "castor_rejected_total"]
    assert all(set(l) == {"listener", "reason"} and l["reason"] for l in reasons), reasons
    assert_serving(cluster)


def test_bad_requests_get_their_json_error_and_change_nothing(cluster):
    leader = cluster.wait_for_leader()
    # Bad txn bodies: 400 INVALID_ARGUMENT, nothing applied.
    for body in ("{not json", "", "[]", '{"compares":[],"sucess":[]}',
                 '{"success":[{"put":{"key":"bad","value":"v","ttl":5}}]}',
                 '{"success":[{"put":{"key":"bad"}}]}',
                 '{"success":[{"frobnicate":{"key":"bad"}}]}',
                 '{"success":[{"put":{"key":"bad","value":"v"},"get":{"key":"bad"}}]}',
                 '{"success":[{"put":{"key":"bad","key_base64":"YmFk","value":"v"}}]}',
                 '{"success":[{"put":{"key_base64":"!!!","value":"v"}}]}',
                 '{"success":[{"put":{"key":"bad","value":7}}]}',
                 '{"compares":[{"key":"bad","target":"version","op":"=~","value":0}],"success":[{"put":{"key":"bad","value":"v"}}]}',
                 '{"compares":[{"key":"bad","target":"colour","op":"==","value":0}],"success":[{"put":{"key":"bad","value":"v"}}]}',
                 '{"compares":[{"key":"bad","target":"version","op":"==","value":-1}],"success":[{"put":{"key":"bad","value":"v"}}]}',
                 '{"success":[{"put":{"key":"","value":"v"}}]}'):
        error(cluster, "POST", "/v1/txn", body)
    j = error(cluster, "POST", "/v1/txn", '{"compares":[],"sucess":[]}')
    assert "sucess" in j["message"], j

    # Unknown or malformed query parameters: 400, and the key is NOT written (a typo must not
    # turn a compare-and-swap into a plain put).
    j = error(cluster, "PUT", "/v1/kv/typo?cass=3", b"x")
    assert "cass" in j["message"], j
    for q in ("cas=abc", "cas=-1", "cas=", "cas=1.5", "cas=99999999999999999999999"):
        error(cluster, "PUT", f"/v1/kv/typo?{q}", b"x")
    error(cluster, "DELETE", "/v1/kv/typo?prefix&cas=3")
    error(cluster, "DELETE", "/v1/kv/typo?cass=3")
    error(cluster, "GET", "/v1/kv/typo?rwa")
    error(cluster, "GET", "/v1/kv/typo?prefix&limit=abc")
    error(cluster, "GET", "/v1/kv/typo?prefix&raw")
    error(cluster, "POST", "/v1/txn?dry_run", '{"success":[{"put":{"key":"typo","value":"v"}}]}')
    error(cluster, "GET", "/v1/kv/typo", want_status=404, want_code="NOT_FOUND")
    error(cluster, "GET", "/v1/kv/bad", want_status=404, want_code="NOT_FOUND")

    # Empty keys.
    error(cluster, "PUT", "/v1/kv/", b"x")
    error(cluster, "GET", "/v1/kv/")
    error(cluster, "DELETE", "/v1/kv/")

    # Methods: 405 with Allow.
    for method, path, allowed in (("POST", "/v1/kv/x", {"GET", "PUT", "DELETE"}), ("PATCH", "/v1/kv/x", {"PUT"}),
                                  ("PUT", "/metrics", {"GET"}), ("POST", "/health", {"GET"}),
                                  ("DELETE", "/status", {"GET"}), ("GET", "/v1/txn", {"POST"})):
        status, hdrs, data = cluster.http(leader, method, path, b"")
        assert status == 405, (method, path, status, data)
        allow = {m.strip() for m in hdrs.get("allow", "").split(",")}
        assert allowed <= allow and method not in allow, (method, path, hdrs)
        assert js(data)["message"], data
    error(cluster, "GET", "/v1/kv/x", want_status=404, want_code="NOT_FOUND")

    # Unknown paths: 404.
    for path in ("/", "/nope", "/v1/kvx", "/v1/kv", "/v2/kv/x", "/metrics/x"):
        error(cluster, "GET", path, name=leader, want_status=404, want_code="NOT_FOUND")

    # Malformed HTTP over a raw socket: 400 from the server itself, counted as rejected.
    address = cluster.http_address(leader)
    for raw in (b"GARBAGE\r\n\r\n",
                b"GET /metrics HTTP/7.1\r\nHost: x\r\n\r\n",
                b"GET metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /v1/kv/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n"):
        status, _, body = parse_raw_response(raw_http(address, raw))
        assert status == 400, (raw, status, body)
        assert js(body)["code"] == "INVALID_ARGUMENT", (raw, body)
    status, _, body = parse_raw_response(raw_http(
        address, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n"))
    assert status == 431, body
    s = metrics(cluster, leader)
    assert value(s, "castor_rejected_total", listener="http", reason="malformed request") >= 5
    assert value(s, "castor_rejected_total", listener="http", reason="header too large") >= 1

    assert_serving(cluster)


def test_size_limits_are_413_too_large_and_the_node_keeps_serving(cluster):
    leader = cluster.wait_for_leader()
    # Keys: 511 bytes is the largest.
    ok(cluster, "PUT", "/v1/kv/" + "k" * 511, b"x")
    assert ok(cluster, "GET", "/v1/kv/" + "k" * 511)["value"] == "x"
    error(cluster, "PUT", "/v1/kv/" + "k" * 512, b"x", want_status=413, want_code="TOO_LARGE")
    error(cluster, "POST", "/v1/txn", json.dumps({"success": [{"put": {"key": "k" * 512, "value": "x"}}]}),
          want_status=413, want_code="TOO_LARGE")
    # Values: 1 MiB is the largest.
    ok(cluster, "PUT", "/v1/kv/big", b"v" * MiB)
    status, _, data = call(cluster, "GET", "/v1/kv/big?raw")
    assert status == 200 and data == b"v" * MiB
    j = error(cluster, "PUT", "/v1/kv/big", b"w" * (MiB + 1), want_status=413, want_code="TOO_LARGE")
    assert "value" in j["message"], j
    assert call(cluster, "GET", "/v1/kv/big?raw")[2] == b"v" * MiB
    # Txns: 128 ops at most.
    ops = [{"put": {"key": f"t/{i}", "value": "x"}} for i in range(129)]
    error(cluster, "POST", "/v1/txn", json.dumps({"success": ops}), want_status=413, want_code="TOO_LARGE")
    assert ok(cluster, "GET", "/v1/kv/t/?prefix&count")["count"] == 0
    assert ok(cluster, "POST", "/v1/txn", json.dumps({"success": ops[:128]}))["succeeded"] is True
    assert ok(cluster, "GET", "/v1/kv/t/?prefix&count")["count"] == 128
    # A body far over the HTTP limit: 413 from the server itself, and the node keeps serving.
    status, hdrs, data = cluster.http(leader, "PUT", "/v1/kv/huge", b"h" * (3 * MiB))
    assert status == 413 and js(data)["code"] == "TOO_LARGE", (status, data[:300])
    assert value(metrics(cluster, leader), "castor_rejected_total", listener="http", reason="body too large") >= 1
    error(cluster, "GET", "/v1/kv/huge", want_status=404, want_code="NOT_FOUND")
    assert_serving(cluster)


def test_a_request_body_over_1_5_mib_is_413_too_large(cluster):
    # docs/HTTP.md: TOO_LARGE (... body over 1.5 MiB ...) is 413. A valid, small txn padded with
    # whitespace to 1.6 MiB is over that limit whatever it holds.
    leader = cluster.wait_for_leader()
    body = '{"success":[{"put":{"key":"padded","value":"v"}}]}' + " " * (1600 * 1024)
    status, _, data = cluster.http(leader, "POST", "/v1/txn", body)
    assert status == 413 and js(data)["code"] == "TOO_LARGE", (status, data[:300])
    error(cluster, "GET", "/v1/kv/padded", want_status=404, want_code="NOT_FOUND")
    assert_serving(cluster)

"""Castor over HTTP (docs/HTTP.md), on a real 3-node cluster: /metrics, /health, /status, the JSON
KV API and its errors, plus `castorctl check` and castord's JSON logs.

Every request goes through the standard library (cluster.http_request / cluster.raw_http), which
follows no redirect and raises on no status, so that each test sees exactly what the server sent.
"""
import http.client
import json
import re
import subprocess
from urllib.parse import urlsplit

from cluster import BUILD, Cluster, http_request, parse_metrics
from http_calls import (b64, call, check_header, error, ids, js, metrics, ok, value,
                        wait_applied, wait_until)

MiB = 1 << 20


# ---- /metrics ----

def test_metrics_expose_the_documented_series_in_prometheus_text_format(cluster):
    leader = cluster.wait_for_leader()
    wait_applied(cluster, ok(cluster, "PUT", "/v1/kv/metrics/first", b"x")["header"]["revision"])
    scraped = {}
    for n in cluster.names:
        status, hdrs, data = cluster.http(n, "GET", "/metrics")
        assert status == 200, data
        ct = hdrs["content-type"]
        assert ct.startswith("text/plain") and "version=0.0.4" in ct, ct
        s = scraped[n] = parse_metrics(data.decode())
        assert s and all(name.startswith("castor_") for name, _, _ in s), [x for x in s if not x[0].startswith("castor_")]
        assert [l for name, l, _ in s if name == "castor_info"] == [
            {"node": n, "id": str(ids(cluster)[n]), "cluster": "castor"}]
        assert value(s, "castor_info") == 1
        assert value(s, "castor_term") >= 1
        assert value(s, "castor_commit_index") >= 1
        assert value(s, "castor_applied_index") >= 1
        assert value(s, "castor_last_log_index") >= value(s, "castor_commit_index")
        assert value(s, "castor_snapshot_index") is not None
        assert value(s, "castor_leader_id") == ids(cluster)[leader]
        roles = {l["role"]: v for name, l, v in s if name == "castor_role"}
        assert set(roles) == {"leader", "follower", "candidate", "pre_candidate"}, roles
        assert sum(roles.values()) == 1
        assert roles["leader" if n == leader else "follower"] == 1, roles
        # Every node wrote the election's entries to its log: fsyncs were timed.
        assert value(s, "castor_fsync_duration_seconds_bucket", le="+Inf") >= 1
        assert value(s, "castor_fsync_duration_seconds_count") >= 1
        assert value(s, "castor_fsync_duration_seconds_sum") is not None
        assert value(s, "castor_apply_duration_seconds_count") is not None
        assert value(s, "castor_slow_fsyncs_total") is not None
        assert value(s, "castor_leader_changes_total") >= 1
        for other in cluster.names:
            if other != n:
                assert value(s, "castor_peer_connected", peer=other) is not None
                assert value(s, "castor_peer_round_trip_seconds", peer=other) is not None
                assert value(s, "castor_peer_send_queue_depth", peer=other) is not None
                assert value(s, "castor_peer_messages_dropped_total", peer=other) is not None
        assert value(s, "castor_peer_connected", peer=n) is None, "a node lists itself as a peer"
        for name in ("castor_pending_reads", "castor_pending_writes", "castor_log_bytes", "castor_sessions",
                     "castor_snapshots_taken_total", "castor_snapshots_installed_total"):
            assert value(s, name) is not None, name
    assert sorted(value(scraped[n], "castor_is_leader") for n in cluster.names) == [0, 0, 1]
    assert value(scraped[leader], "castor_is_leader") == 1

    # HEAD: the headers and the length of the body, without the body.
    status, hdrs, data = cluster.http(leader, "HEAD", "/metrics")
    assert status == 200 and data == b"" and int(hdrs["content-length"]) > 0

    # Writes move the proposal and request counters, and time the puts.
    before = scraped[leader]
    accepted = value(before, "castor_proposals_total", outcome="accepted")
    assert accepted is not None
    for outcome in ("dropped", "failed"):
        assert value(before, "castor_proposals_total", outcome=outcome) is not None, outcome
    puts_before = value(before, "castor_requests_total", op="put", code="OK") or 0
    for i in range(5):
        status, _, data = cluster.http(leader, "PUT", f"/v1/kv/metrics/{i}", b"x")
        assert status == 200, data
    after = metrics(cluster, leader)
    assert value(after, "castor_proposals_total", outcome="accepted") >= accepted + 5
    assert value(after, "castor_requests_total", op="put", code="OK") >= puts_before + 5
    assert all("op" in l and "code" in l for name, l, _ in after if name == "castor_requests_total")
    buckets = [(l["le"], v) for name, l, v in after
               if name == "castor_request_duration_seconds_bucket" and l.get("op") == "put"]
    assert len(buckets) >= 2 and buckets[-1] == ("+Inf", value(after, "castor_request_duration_seconds_count", op="put"))
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "histogram buckets are not cumulative"
    assert value(after, "castor_request_duration_seconds_count", op="put") >= 5

    # Peers ping each other: the smoothed round trip becomes a positive number of seconds.
    def rtts_measured():
        for n in cluster.names:
            s = metrics(cluster, n)
            for other in cluster.names:
                if other != n:
                    v = value(s, "castor_peer_round_trip_seconds", peer=other)
                    if not v or v <= 0 or v > 5 or value(s, "castor_peer_connected", peer=other) != 1:
                        return False
        return True
    wait_until("every castor_peer_round_trip_seconds > 0 and every peer connected", rtts_measured)


# ---- /health and /status ----

def test_health_is_200_on_a_healthy_cluster_and_503_with_a_reason_without_a_leader(cluster):
    leader = cluster.wait_for_leader()
    for n in cluster.names:
        status, hdrs, data = cluster.http(n, "GET", "/health")
        assert status == 200, (n, data)
        assert hdrs["content-type"].startswith("application/json")
        j = js(data)
        assert j["healthy"] is True and "reason" not in j, j
        assert j["name"] == n and j["leader"] == ids(cluster)[leader], j
    ok(cluster, "PUT", "/v1/kv/before", b"quorum")

    # The leader alone: check-quorum makes it step down, so it sees no leader at all.
    for n in cluster.names:
        if n != leader:
            cluster.kill(n)
    status, _, data = wait_until("/health on the lone node answers 503",
                                 lambda: (lambda r: r if r[0] == 503 else None)(cluster.http(leader, "GET", "/health")))
    j = js(data)
    assert j["healthy"] is False, j
    assert isinstance(j["reason"], str) and "leader" in j["reason"], j
    status, _, data = cluster.http(leader, "GET", "/status")
    assert status == 200
    st = js(data)
    assert st["healthy"] is False and st["reason"], st
    assert st["leader"]["id"] == 0 and st["role"] != "leader", st

    # Without a leader: a write is refused (no one to redirect to), a linearizable read is not
    # answered from local state, a serializable read is.
    status, hdrs, data = cluster.http(leader, "PUT", "/v1/kv/after", b"x")
    assert status in (421, 503), (status, data)
    if status == 503:
        assert hdrs.get("retry-after") == "1", hdrs
        assert js(data)["code"] in ("UNAVAILABLE", "DROPPED"), data
    else:
        assert js(data)["code"] == "NOT_LEADER" and js(data)["leader"] == 0, data
    status, _, data = cluster.http(leader, "GET", "/v1/kv/before", timeout_s=15)
    assert status != 200, data
    status, _, data = cluster.http(leader, "GET", "/v1/kv/before?serializable&raw")
    assert (status, data) == (200, b"quorum")


def test_status_describes_the_node_its_leader_and_its_peers(cluster):
    leader = cluster.wait_for_leader()
    probe = ok(cluster, "PUT", "/v1/kv/status/probe", b"1")["header"]["revision"]
    wait_applied(cluster, probe)
    for n in cluster.names:
        status, hdrs, data = cluster.http(n, "GET", "/status")
        assert status == 200 and hdrs["content-type"].startswith("application/json")
        j = js(data)
        assert j["name"] == n and j["id"] == ids(cluster)[n] and j["cluster_id"] == "castor", j
        assert j["role"] == ("leader" if n == leader else "follower"), j
        assert j["term"] >= 1
        assert j["leader"] == {"id": ids(cluster)[leader], "name": leader}, j
        assert probe <= j["applied"] <= j["commit"], j
        assert j["last_index"] >= j["commit"], j
        assert j["healthy"] is True and "reason" not in j, j
        assert j["addresses"] == {"client": cluster.endpoint(n), "peer": f"127.0.0.1:{cluster.peer_port[n]}",
                                  "http": cluster.http_address(n)}, j
        others = [o for o in cluster.names if o != n]
        assert [p["name"] for p in j["peers"]] == others, j["peers"]
        for p in j["peers"]:
            assert p["id"] == ids(cluster)[p["name"]]
            assert p["peer_address"] == f"127.0.0.1:{cluster.peer_port[p['name']]}"
            assert isinstance(p["rtt_ms"], (int, float)) and p["rtt_ms"] >= 0
            assert isinstance(p["connected"], bool)
            if n == leader:
                assert p["match"] >= 1 and p["next"] > p["match"], p
            else:
                assert "match" not in p and "next" not in p, p

    # Once connected, each peer's HTTP address and a measured round trip show.
    def peers_known(n):
        peers = js(cluster.http(n, "GET", "/status")[2])["peers"]
        good = all(p["connected"] and p["http_address"] == cluster.http_address(p["name"]) and 0 < p["rtt_ms"] < 5000
                   for p in peers)
        return peers if good else None
    for n in cluster.names:
        wait_until(f"{n}'s /status shows every peer connected, with its http_address and rtt_ms",
                   lambda: peers_known(n), describe=lambda: (
                       {o: cluster.http_address(o) for o in cluster.names},
                       [{k: p[k] for k in ("name", "connected", "http_address", "rtt_ms")}
                        for p in js(cluster.http(n, "GET", "/status")[2])["peers"]]))


# ---- the KV API ----

def test_put_then_get_round_trips_value_revisions_and_header(cluster):
    leader = cluster.wait_for_leader()
    put = ok(cluster, "PUT", "/v1/kv/model/serving", b"v42")
    check_header(put["header"], cluster, leader)
    got = ok(cluster, "GET", "/v1/kv/model/serving")
    assert got["key"] == "model/serving" and got["value"] == "v42", got
    assert got["create_revision"] == got["mod_revision"] == put["header"]["revision"] and got["version"] == 1, (put, got)
    check_header(got["header"], cluster, leader)
    assert got["header"]["revision"] >= got["mod_revision"]

    put2 = ok(cluster, "PUT", "/v1/kv/model/serving", b"v43")
    got2 = ok(cluster, "GET", "/v1/kv/model/serving")
    assert got2["value"] == "v43" and got2["version"] == 2, got2
    assert got2["create_revision"] == got["create_revision"], got2
    assert got2["mod_revision"] == put2["header"]["revision"] > got["mod_revision"], (put2, got2)

    # ?prev_kv on a put returns the state it replaced.
    put3 = ok(cluster, "PUT", "/v1/kv/model/serving?prev_kv", b"v44")
    assert put3["prev_kv"]["value"] == "v43" and put3["prev_kv"]["mod_revision"] == got2["mod_revision"], put3

    # Absent: 404 NOT_FOUND with a header.
    j = error(cluster, "GET", "/v1/kv/model/absent", want_status=404, want_code="NOT_FOUND")
    assert "header" in j, j

    # ?raw: the bytes alone.
    status, hdrs, data = call(cluster, "GET", "/v1/kv/model/serving?raw")
    assert (status, data) == (200, b"v44") and hdrs["content-type"] == "application/octet-stream", hdrs

    # Bytes that are not UTF-8 come back as value_base64 (and key_base64); ?raw gives them as is.
    ok(cluster, "PUT", "/v1/kv/bin", b"\xff\x00")
    got = ok(cluster, "GET", "/v1/kv/bin")
    assert got["value_base64"] == b64(b"\xff\x00") and "value" not in got and got["key"] == "bin", got
    status, _, data = call(cluster, "GET", "/v1/kv/bin?raw")
    assert (status, data) == (200, b"\xff\x00")
    ok(cluster, "PUT", "/v1/kv/%FF%FEk", b"odd key")
    listed = ok(cluster, "GET", "/v1/kv/%FF?prefix")
    assert [kv.get("key_base64") for kv in listed["kvs"]] == [b64(b"\xff\xfek")], listed
    assert "key" not in listed["kvs"][0] and listed["kvs"][0]["value"] == "odd key", listed

    # Keys in paths are percent-decoded: a%2Fb and a/b are the same key.
    ok(cluster, "PUT", "/v1/kv/a%2Fb", b"slash")
    assert ok(cluster, "GET", "/v1/kv/a/b")["value"] == "slash"
    ok(cluster, "PUT", "/v1/kv/with%20space", b"sp")
    assert ok(cluster, "GET", "/v1/kv/with%20space")["key"] == "with space"

    # HTTP/1.1 keep-alive: several requests, one connection.
    host, port = cluster.http_address(leader).split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for i in range(3):
            conn.request("PUT", f"/v1/kv/keepalive/{i}", body=f"v{i}".encode())
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
            conn.request("GET", f"/v1/kv/keepalive/{i}?raw")
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, f"v{i}".encode())
    finally:
        conn.close()

    # ?serializable on a follower: its local state, which catches up with the write.
    follower = next(n for n in cluster.names if n != leader)
    def local():
        status, _, data = cluster.http(follower, "GET", "/v1/kv/model/serving?serializable")
        return js(data) if status == 200 and js(data)["value"] == "v44" else None
    j = wait_until("a serializable read on a follower sees the write", local)
    assert j["header"]["node"] == ids(cluster)[follower], j


def test_prefix_listing_keys_count_limit_and_delete(cluster):
    for k, v in (("list/a", "1"), ("list/b", "2"), ("list/c", "3"), ("lisz", "z")):
        ok(cluster, "PUT", f"/v1/kv/{k}", v)
    j = ok(cluster, "GET", "/v1/kv/list/?prefix")
    assert [(kv["key"], kv["value"]) for kv in j["kvs"]] == [("list/a", "1"), ("list/b", "2"), ("list/c", "3")], j
    assert j["count"] == 3 and j["more"] is False and "header" in j, j
    assert all(kv["version"] == 1 and kv["create_revision"] == kv["mod_revision"] >= 1 for kv in j["kvs"]), j

    j = ok(cluster, "GET", "/v1/kv/list/?prefix&keys")
    assert [kv["key"] for kv in j["kvs"]] == ["list/a", "list/b", "list/c"], j
    assert all("value" not in kv and "value_base64" not in kv for kv in j["kvs"]), j

    j = ok(cluster, "GET", "/v1/kv/list/?prefix&count")
    assert j["count"] == 3 and j["kvs"] == [], j

    j = ok(cluster, "GET", "/v1/kv/list/?prefix&limit=2")
    assert [kv["key"] for kv in j["kvs"]] == ["list/a", "list/b"] and j["more"] is True, j

    j = ok(cluster, "GET", "/v1/kv/list/?prefix&serializable")
    assert [kv["key"] for kv in j["kvs"]] == ["list/a", "list/b", "list/c"], j

    j = ok(cluster, "GET", "/v1/kv/?prefix")  # byte order: '/' sorts before 'z'
    assert [kv["key"] for kv in j["kvs"]] == ["list/a", "list/b", "list/c", "lisz"] and j["count"] == 4, j

    # DELETE: 1, then 0 once absent (still 200); ?prev_kv; ?prefix.
    assert ok(cluster, "DELETE", "/v1/kv/list/a")["deleted"] == 1
    assert ok(cluster, "DELETE", "/v1/kv/list/a")["deleted"] == 0
    j = ok(cluster, "DELETE", "/v1/kv/list/b?prev_kv")
    assert j["deleted"] == 1 and j["prev_kv"]["value"] == "2" and j["prev_kv"]["key"] == "list/b", j
    ok(cluster, "PUT", "/v1/kv/list/d", "4")
    assert ok(cluster, "DELETE", "/v1/kv/list/?prefix")["deleted"] == 2
    j = ok(cluster, "GET", "/v1/kv/list/?prefix")
    assert j["kvs"] == [] and j["count"] == 0, j
    assert ok(cluster, "GET", "/v1/kv/lisz")["value"] == "z"


def test_compare_and_swap_with_cas_on_put_and_delete(cluster):
    # ?cas=0: only if absent.
    first = ok(cluster, "PUT", "/v1/kv/lock?cas=0", b"me")
    r1 = ok(cluster, "GET", "/v1/kv/lock")
    assert r1["value"] == "me" and r1["mod_revision"] == first["header"]["revision"], (first, r1)
    j = error(cluster, "PUT", "/v1/kv/lock?cas=0", b"you", want_status=409, want_code="FAILED_PRECONDITION")
    assert j["current"]["value"] == "me" and j["current"]["mod_revision"] == r1["mod_revision"], j
    assert "header" in j

    # ?cas=<mod_revision>: with the right one it swaps, with a stale one it is 409 and `current`.
    ok(cluster, "PUT", f"/v1/kv/lock?cas={r1['mod_revision']}", b"me2")
    r2 = ok(cluster, "GET", "/v1/kv/lock")
    assert r2["value"] == "me2" and r2["mod_revision"] > r1["mod_revision"] and r2["version"] == 2, r2
    j = error(cluster, "PUT", f"/v1/kv/lock?cas={r1['mod_revision']}", b"stale",
              want_status=409, want_code="FAILED_PRECONDITION")
    assert j["current"]["value"] == "me2" and j["current"]["mod_revision"] == r2["mod_revision"], j
    assert ok(cluster, "GET", "/v1/kv/lock")["value"] == "me2"

    # ?cas on an absent key that is not 0: 409, no current state, nothing written.
    j = error(cluster, "PUT", "/v1/kv/nolock?cas=5", b"x", want_status=409, want_code="FAILED_PRECONDITION")
    assert j["current"] is None, j
    error(cluster, "GET", "/v1/kv/nolock", want_status=404, want_code="NOT_FOUND")

    # DELETE ?cas: stale refused, current applied.
    j = error(cluster, "DELETE", f"/v1/kv/lock?cas={r1['mod_revision']}", want_status=409,
              want_code="FAILED_PRECONDITION")
    assert j["current"]["mod_revision"] == r2["mod_revision"], j
    assert ok(cluster, "GET", "/v1/kv/lock")["value"] == "me2"
    assert ok(cluster, "DELETE", f"/v1/kv/lock?cas={r2['mod_revision']}")["deleted"] == 1
    error(cluster, "GET", "/v1/kv/lock", want_status=404, want_code="NOT_FOUND")
    # Absent again: ?cas=0 creates it anew.
    ok(cluster, "PUT", "/v1/kv/lock?cas=0", b"again")
    r3 = ok(cluster, "GET", "/v1/kv/lock")
    assert r3["value"] == "again" and r3["version"] == 1 and r3["create_revision"] > r2["mod_revision"], r3


def test_a_write_on_a_follower_is_redirected_to_the_leader_with_307(cluster):
    leader = cluster.wait_for_leader()
    follower = next(n for n in cluster.names if n != leader)

    def redirected(method, path, body=None):
        status, hdrs, data = cluster.http(follower, method, path, body)
        if status == 421:  # the follower does not know the leader's HTTP address yet
            return None
        assert status == 307, (method, path, status, data)
        return hdrs, js(data)

    for method, path, body in (("PUT", "/v1/kv/redir%2Fkey?prev_kv", b"through the leader"),
                               ("DELETE", "/v1/kv/redir/other?prev_kv", None),
                               ("POST", "/v1/txn", json.dumps({"success": [{"put": {"key": "redir/txn", "value": "t"}}]}))):
        hdrs, j = wait_until(f"{method} {path} on {follower} (leader {leader}) answers 307",
                             lambda: redirected(method, path, body),
                             describe=lambda: cluster.http(follower, method, path, body))
        assert hdrs["location"] == cluster.http_url(leader) + path, hdrs
        assert j["code"] == "NOT_LEADER" and j["leader"] == ids(cluster)[leader], j
        # Following it by hand: same method, same body, on the leader.
        loc = urlsplit(hdrs["location"])
        status, _, data = http_request(loc.netloc, method, loc.path + "?" + loc.query if loc.query else loc.path, body)
        assert status == 200, data
    # Nothing was written by the follower itself, and the leader applied each write once.
    got = ok(cluster, "GET", "/v1/kv/redir/key")
    assert got["value"] == "through the leader" and got["version"] == 1, got
    assert ok(cluster, "GET", "/v1/kv/redir/txn")["value"] == "t"


def test_txn_runs_the_success_or_the_failure_branch(cluster):
    ok(cluster, "PUT", "/v1/kv/model/serving", b"v42")
    rev = ok(cluster, "GET", "/v1/kv/model/serving")["mod_revision"]
    promote = {"compares": [{"key": "model/serving", "target": "mod_revision", "op": "==", "value": rev}],
               "success": [{"put": {"key": "model/serving", "value": "v43"}}, {"put": {"key": "schema", "value": "s9"}}],
               "failure": [{"get": {"key": "model/serving"}}]}
    j = ok(cluster, "POST", "/v1/txn", json.dumps(promote))
    assert j["succeeded"] is True and len(j["responses"]) == 2 and all(list(r) == ["put"] for r in j["responses"]), j
    assert "header" in j and j["header"]["revision"] > rev, j
    assert ok(cluster, "GET", "/v1/kv/model/serving")["value"] == "v43"
    assert ok(cluster, "GET", "/v1/kv/schema")["value"] == "s9"

    # The same txn again: the compare is stale, the failure branch's get answers.
    j = ok(cluster, "POST", "/v1/txn", json.dumps(promote))
    assert j["succeeded"] is False and len(j["responses"]) == 1, j
    cur = j["responses"][0]["get"]
    assert cur["key"] == "model/serving" and cur["value"] == "v43" and cur["mod_revision"] > rev, j
    assert ok(cluster, "GET", "/v1/kv/schema")["version"] == 1

    # key_base64 / value_base64 in, and out where the bytes are not UTF-8; value compares.
    k, v = b"\xfe\xffbin", b"\x00\x01\xff"
    j = ok(cluster, "POST", "/v1/txn", json.dumps({
        "compares": [{"key_base64": b64(k), "target": "version", "op": "==", "value": 0}],
        "success": [{"put": {"key_base64": b64(k), "value_base64": b64(v)}}]}))
    assert j["succeeded"] is True, j
    j = ok(cluster, "POST", "/v1/txn", json.dumps({
        "compares": [{"key_base64": b64(k), "target": "value", "op": "==", "value_base64": b64(v)},
                     {"key": "schema", "target": "value", "op": "!=", "value": "s8"},
                     {"key": "schema", "target": "create_revision", "op": "<", "value": 1 << 40},
                     {"key": "schema", "target": "version", "op": ">", "value": 0}],
        "success": [{"get": {"key_base64": b64(k)}},
                    {"range": {"key": "model/", "prefix": True, "limit": 1}},
                    {"delete": {"key": "schema", "prev_kv": True}},
                    {"delete_range": {"key": "model/", "prefix": True}}]}))
    assert j["succeeded"] is True, j
    got, rng, deleted, deleted_range = j["responses"]
    assert got["get"]["key_base64"] == b64(k) and got["get"]["value_base64"] == b64(v), got
    assert "key" not in got["get"] and "value" not in got["get"], got
    assert [kv["key"] for kv in rng["range"]["kvs"]] == ["model/serving"] and rng["range"]["count"] == 1, rng
    assert rng["range"]["more"] is False, rng
    assert deleted["delete"]["deleted"] == 1 and deleted["delete"]["prev_kv"]["value"] == "s9", deleted
    assert deleted_range["delete_range"]["deleted"] == 1, deleted_range
    error(cluster, "GET", "/v1/kv/schema", want_status=404, want_code="NOT_FOUND")
    # A compare on `value` whose bytes differ: the (empty) failure branch.
    j = ok(cluster, "POST", "/v1/txn", json.dumps({
        "compares": [{"key_base64": b64(k), "target": "value", "op": "==", "value": "other"}],
        "success": [{"delete": {"key_base64": b64(k)}}]}))
    assert j["succeeded"] is False and j["responses"] == [], j
    assert ok(cluster, "GET", "/v1/kv/%FE%FFbin")["value_base64"] == b64(v)


# ---- castorctl check and JSON logs ----

def castorctl(cluster, *args):
    return subprocess.run([str(BUILD / "tools" / "castorctl"), "--endpoints", ",".join(cluster.endpoints),
                           "--timeout", "2s", *args], capture_output=True, text=True, timeout=60)


def test_castorctl_check_passes_on_a_healthy_cluster_and_names_an_unreachable_node(cluster):
    leader = cluster.wait_for_leader()
    r = castorctl(cluster, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, r.stdout
    for n, line in zip(cluster.names, lines):
        assert line.startswith(cluster.endpoint(n) + ", " + n + ",") and line.endswith(", healthy"), line
        assert f"leader {leader}" in line, line

    victim = next(n for n in cluster.names if n != leader)
    cluster.kill(victim)
    r = castorctl(cluster, "check")
    assert r.returncode == 4, r.stdout + r.stderr
    out = r.stdout + r.stderr
    victim_lines = [l for l in out.splitlines() if cluster.endpoint(victim) in l]
    assert victim_lines and not any(l.endswith("healthy") for l in victim_lines), out
    for n in cluster.names:
        if n != victim:
            assert any(l.startswith(cluster.endpoint(n) + ", " + n + ",") and l.endswith(", healthy")
                       for l in out.splitlines()), out
    r = castorctl(cluster, "-w", "json", "check")
    assert r.returncode == 4, r.stdout + r.stderr
    rows = {j["endpoint"]: j for j in map(json.loads, r.stdout.strip().splitlines())}
    assert set(rows) == set(cluster.endpoints), rows
    assert "healthy" not in rows[cluster.endpoint(victim)] and rows[cluster.endpoint(victim)]["error"], rows
    assert all(rows[cluster.endpoint(n)]["healthy"] is True for n in cluster.names if n != victim), rows


def test_json_logs_are_one_object_per_line_with_node_and_term(tmp_path):
    c = Cluster(tmp_path, extra_args=["--log-format", "json", "--slow-fsync-ms", "0"])
    try:
        leader = c.start_all()
        status, _, data = c.http(leader, "PUT", "/v1/kv/logged", b"1")
        assert status == 200, data
        # --slow-fsync-ms 0: every Raft log write counts as slow.
        assert value(metrics(c, leader), "castor_slow_fsyncs_total") >= 1
    finally:
        c.stop_all()
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
    events = {}
    for n in c.names:
        lines = c.log(n).splitlines()
        assert lines, f"{n} logged nothing"
        events[n] = []
        for line in lines:
            try:
                j = json.loads(line)
            except ValueError:
                raise AssertionError(f"{n}: not a JSON line: {line!r}")
            assert isinstance(j, dict) and set(j) == {"time", "level", "node", "term", "msg"}, line
            assert j["node"] == n and isinstance(j["term"], int) and j["term"] >= 0, line
            assert stamp.match(j["time"]) and j["level"] in ("trace", "debug", "info", "warning", "error",
                                                              "critical"), line
            assert isinstance(j["msg"], str) and j["msg"], line
            events[n].append(j)
    became = [j for j in events[leader] if "now leader" in j["msg"]]
    assert became and all(j["term"] >= 1 for j in became), [j["msg"] for j in events[leader]]
    assert any("slow fsync" in j["msg"] and j["level"] == "warning" for n in c.names for j in events[n]), events

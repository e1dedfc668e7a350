"""Hostile HTTP on a real cluster (docs/HTTP.md, "Limits and refusals"): oversize trailers and
chunk extensions, transfer codings that would frame a body two ways, and half-closed clients.

Each test checks that the node stays up (its process alive, /health 200), that the refusal is
named (status and JSON error body), that data written before reads back unchanged, and that
castor_rejected_total counts the reason. One cluster serves the whole module; the tests compare
counters before and after, so they do not depend on each other.
"""
import socket
import subprocess

import pytest

from cluster import running
from hostile import KiB, MiB, HostileCluster, assert_node_serves, rejected
from http_calls import call, js, parse_raw_response


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running(HostileCluster(tmp_path_factory.mktemp("bad_input_http"))) as c:
        yield c


def put(cluster, key, data):
    status, _, body = call(cluster, "PUT", f"/v1/kv/{key}", data)
    assert status == 200, (key, status, body)


def half_closed(address, data: bytes, timeout_s=5.0) -> bytes:
    """Sends `data`, shuts down the sending side, and returns all the server answers until it
    closes. A server that refuses part way may stop reading before `data` is all sent."""
    host, port = address.rsplit(":", 1)
    out = b""
    with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while chunk := s.recv(65536):
            out += chunk
    return out


def send(cluster, name, raw):
    """(status, headers, body) of the answer to `raw` on node `name`."""
    return parse_raw_response(half_closed(cluster.http_address(name), raw))


def exits(cluster, name, grace=1.0):
    """Whether node `name` has exited, or does within `grace` seconds."""
    try:
        cluster.procs[name].wait(timeout=grace)
        return True
    except subprocess.TimeoutExpired:
        return False


def refused(cluster, name, raw, status, code, reason):
    """Sends `raw` to node `name` and checks the named refusal, its count, and that the node
    serves on; returns the response body's JSON."""
    key, data = f"before/{reason.replace(' ', '-')}", b"intact"
    put(cluster, key, data)
    before = rejected(cluster, name, "http", reason)
    raw_answer = half_closed(cluster.http_address(name), raw)
    assert raw_answer or not exits(cluster, name), f"{name} died:\n{cluster.log(name)[-3000:]}"
    got_status, hdrs, body = parse_raw_response(raw_answer)
    assert got_status == status, (reason, got_status, body)
    assert hdrs.get("content-type") == "application/json", hdrs
    j = js(body)
    assert j["code"] == code and reason in j["message"], j
    assert rejected(cluster, name, "http", reason) == before + 1, reason
    assert_node_serves(cluster, name, key, data)
    return j


def chunked_put(key, chunk, extension=b"", trailers=b"", coding=b"chunked"):
    return (b"PUT /v1/kv/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n%x%s\r\n%s\r\n0\r\n%s\r\n"
            % (key.encode(), coding, len(chunk), extension, chunk, trailers))


def test_a_64_kib_trailer_field_is_431_and_the_node_stays_up(cluster):
    # 64 KiB in one trailer field made Beast throw std::length_error out of castord's event
    # loop: one request ended the node, with nothing in its log.
    name = cluster.wait_for_leader()
    for size in (64 * KiB, 65_000):
        trailer = b"X-Checksum: " + b"a" * size + b"\r\n"
        j = refused(cluster, name, chunked_put("t/big", b"v", trailers=trailer), 431, "TOO_LARGE",
                    "trailer too large")
        assert "8192" in j["message"], j
    assert "http port: trailer too large" in cluster.log(name)  # once a second at most
    # A small trailer is fine, and the value is the body's.
    status, _, body = send(cluster, name, chunked_put("t/small", b"v", trailers=b"X-Checksum: 1\r\n"))
    assert status == 200, body
    assert call(cluster, "GET", "/v1/kv/t/small?raw")[2] == b"v"
    assert call(cluster, "GET", "/v1/kv/t/big")[0] == 404


def test_a_16_mib_chunk_extension_is_413_without_holding_it_in_memory(cluster):
    name = cluster.wait_for_leader()
    peak = cluster.peak_rss(name)
    refused(cluster, name, chunked_put("ext/big", b"v", extension=b";e=" + b"e" * (16 * MiB)), 413,
            "TOO_LARGE", "chunk extension too large")
    assert cluster.peak_rss(name) - peak < 4 * MiB, "the extension was buffered"
    assert call(cluster, "GET", "/v1/kv/ext/big")[0] == 404
    status, _, body = send(cluster, name, chunked_put("ext/small", b"v", extension=b";name=value"))
    assert status == 200, body


def test_transfer_codings_other_than_a_last_chunked_are_refused_and_smuggle_nothing(cluster):
    name = cluster.wait_for_leader()
    # What follows the header is a second request. Taken for "no body" (as Beast took "chunked,
    # gzip"), it was served: smuggled past whatever read the body as chunked in front.
    hidden = b"PUT /v1/kv/smuggled/key HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbad"
    for coding in (b"chunked, gzip", b"gzip", b"chunked, chunked"):
        head = b"PUT /v1/kv/te/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n" % coding
        refused(cluster, name, head + hidden, 400, "INVALID_ARGUMENT", "bad transfer-encoding")
    refused(cluster, name, chunked_put("te/x", b"v", coding=b"gzip, chunked"), 501, "INVALID_ARGUMENT",
            "unsupported transfer-encoding")
    for headers in (b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                    b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"):
        raw = b"PUT /v1/kv/te/x HTTP/1.1\r\nHost: x\r\n%s\r\n3\r\nabc\r\n0\r\n\r\n" % headers
        refused(cluster, name, raw, 400, "INVALID_ARGUMENT", "content-length with transfer-encoding")
    assert call(cluster, "GET", "/v1/kv/smuggled/key")[0] == 404
    assert call(cluster, "GET", "/v1/kv/te/x")[0] == 404
    # Plain chunked still works.
    status, _, data = send(cluster, name, chunked_put("te/ok", b"fine"))
    assert status == 200, data
    assert call(cluster, "GET", "/v1/kv/te/ok?raw")[2] == b"fine"


def test_a_half_closed_client_still_gets_its_answers(cluster):
    leader = cluster.wait_for_leader()
    follower = next(n for n in cluster.names if n != leader)
    put(cluster, "half/read", b"before")
    # A write and a linearizable read (a ReadIndex round on a follower): both answers come
    # after the client has finished sending.
    status, _, body = send(cluster, leader,
                           b"PUT /v1/kv/half/write HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnew")
    assert status == 200 and js(body)["header"]["revision"] > 0, body
    status, _, body = send(cluster, follower, b"GET /v1/kv/half/write?raw HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, body) == (200, b"new")
    assert_node_serves(cluster, leader, "half/read", b"before")
    assert_node_serves(cluster, follower, "half/read", b"before")

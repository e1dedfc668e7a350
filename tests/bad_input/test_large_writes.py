"""Large writes never stop replication: a Raft entry always fits one peer frame, and a leader
whose commit index stops moving while entries wait says so on /health."""
import json
import subprocess
import threading
import time

from castor_client import Client
from castor_client.proto import kv_pb2
from castor_client.wire import KIND_REQUEST, Connection, ConnectionLost, frame
from hostile import HostileCluster

MiB = 1 << 20


# The smallest frame castord accepts with requests of at most 100 KB: any batch of more than
# about two dozen such puts in one entry would be too large for the followers; castord puts
# two at most in one.
SMALL_FRAMES = ["--request-bytes-max", "100000", "--value-bytes-max", "90000", "--frame-bytes-max", str(MiB + (64 << 10))]
WRITERS, PUTS_EACH, VALUE = 40, 2, 45000


def _put_frames(writer):
    """Sessionless puts (as the HTTP API writes them), pipelined on one connection."""
    frames = b""
    for j in range(PUTS_EACH):
        i = writer * PUTS_EACH + j
        req = kv_pb2.ClientRequest(request_id=i + 1, write=kv_pb2.WriteRequest(
            client_id=0, seq=i + 1, put=kv_pb2.PutRequest(key=b"big/%03d" % i, value=bytes([65 + i % 26]) * VALUE)))
        frames += frame(KIND_REQUEST, req.SerializeToString())
    return frames


def _writer(cluster, leader, w, start, answers):
    conn = Connection("127.0.0.1", cluster.client_port[leader], "castor", 5.0)
    try:
        frames = _put_frames(w)
        start.wait()
        conn.sock.sendall(frames)
        for _ in range(PUTS_EACH):
            _, payload = conn.recv(30.0)
            r = kv_pb2.ClientResponse.FromString(payload)
            answers[r.request_id] = kv_pb2.ErrorCode.Name(r.code)
    except ConnectionLost as e:
        answers[-w] = f"connection lost: {e}"
    finally:
        conn.close()


def test_concurrent_large_puts_all_commit_and_the_cluster_keeps_writing(tmp_path):
    cluster = HostileCluster(tmp_path, extra_args=SMALL_FRAMES)
    try:
        cluster.start_all()
        leader = cluster.wait_for_leader()
        start, answers = threading.Barrier(WRITERS), {}
        threads = [threading.Thread(target=_writer, args=(cluster, leader, w, start, answers))
                   for w in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {i: a for i, a in answers.items() if a != "OK"} == {}
        assert len(answers) == WRITERS * PUTS_EACH
        c = cluster.client()
        assert c.put(b"after", b"small").ok
        assert c.get(b"big/%03d" % 0).response.get.kv.value == b"A" * VALUE
        commit = cluster.status(cluster.wait_for_leader()).commit
        assert commit < WRITERS * PUTS_EACH, f"{commit} entries for {WRITERS * PUTS_EACH} puts: nothing was batched"
        deadline = time.monotonic() + 10
        while any(cluster.status(n).applied < commit for n in cluster.names):
            assert time.monotonic() < deadline, "a follower did not apply the large entries"
            time.sleep(0.05)
    finally:
        cluster.stop_all()


def test_a_leader_whose_followers_refuse_its_entries_reports_unhealthy(tmp_path):
    # A rolling change gone wrong: the followers' frames are smaller than what n1 proposes.
    small = ["--request-bytes-max", "100000", "--value-bytes-max", "90000", "--frame-bytes-max", str(MiB + (64 << 10))]
    cluster = HostileCluster(tmp_path, node_args={"n1": ["--value-bytes-max", "1400000"], "n2": small, "n3": small})
    try:
        cluster.start_all()
        cluster.make_leader("n1")
        status, _, body = cluster.http("n1", "GET", "/health")
        assert status == 200, body
        c = Client([cluster.endpoint("n1")], timeout_s=1.0)
        r = c.put(b"too/big/for/them", b"x" * 1300000)
        c.close()
        assert not r.ok, "a write the followers cannot take was acknowledged"
        deadline = time.monotonic() + 15
        while True:
            status, _, body = cluster.http("n1", "GET", "/health")
            if status == 503:
                break
            assert time.monotonic() < deadline, f"/health stayed {status}: {body!r}"
            time.sleep(0.2)
        assert "has not moved" in json.loads(body)["reason"], body
    finally:
        cluster.stop_all()


def test_a_frame_limit_too_small_for_the_largest_entry_is_refused_at_start(tmp_path):
    cluster = HostileCluster(tmp_path, nodes=1, extra_args=["--request-bytes-max", str(4 * MiB)])
    out = subprocess.run(cluster.args("n1"), capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "--frame-bytes-max" in out.stderr + out.stdout and "--request-bytes-max" in out.stderr + out.stdout

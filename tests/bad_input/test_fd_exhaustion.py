"""A node out of file descriptors (docs/PROMISES.md 6): connections past its open-files limit wait
in the listen backlog while the node tries again every 100 ms instead of spinning on accept; it
counts them, stays up, and serves again once they close. castord raises its soft limit to the
hard limit at start and says when even that is below what its own connection limits may need."""
import os
import socket
import time

from castor_client.proto import net_pb2
from castor_client.wire import KIND_HELLO, MAGIC, PROTOCOL_VERSION, frame
from hostile import HostileCluster, rejected
from http_calls import wait_until

SOFT, HARD = 64, 128
# Past the limit, then more waiting in the backlog. (Opening until refused would take long:
# with the backlog full the kernel drops a SYN rather than refusing it, and the client retries.)
ATTACK = 200


def cpu_seconds(pid):
    """User plus system CPU time of process `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soft_fd_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        return int(next(l for l in f if l.startswith("Max open files")).split()[3])


def test_out_of_file_descriptors_the_node_waits_counts_and_serves_again(tmp_path):
    c = HostileCluster(tmp_path, nodes=1, prefix=["prlimit", f"--nofile={SOFT}:{HARD}", "--"])
    attack = []
    try:
        c.start_all()
        pid = c.procs["n1"].pid
        assert soft_fd_limit(pid) == HARD, "castord did not raise its soft limit to the hard limit"
        log = c.log("n1")
        assert f"open-files limit (RLIMIT_NOFILE) is {HARD}" in log and "LimitNOFILE=" in log, log[-3000:]
        client = c.client()
        assert client.put(b"precious", b"kept").ok

        # Clients that said Hello: each holds a descriptor until its idle timeout (5 minutes).
        hello = net_pb2.Hello(magic=MAGIC, protocol_version=PROTOCOL_VERSION, cluster_id="castor",
                              role=net_pb2.Hello.CLIENT, node_name="attacker")
        for _ in range(ATTACK):
            s = socket.create_connection(("127.0.0.1", c.client_port["n1"]), timeout=5)
            s.sendall(frame(KIND_HELLO, hello.SerializeToString()))
            attack.append(s)
        wait_until("the node runs out of descriptors", lambda: "Too many open files" in c.log("n1"))
        before = cpu_seconds(pid)
        time.sleep(2)
        used = cpu_seconds(pid) - before
        assert used < 0.5, f"{used:.2f} s of CPU in 2 s out of descriptors: the accept loop spins"
        # A client connected before is served throughout.
        got = client.get(b"precious")
        assert got.ok and got.response.get.kv.value == b"kept"

        for s in attack:
            s.close()
        assert rejected(c, "n1", "client", "out of file descriptors") > 0
        fresh = c.client()
        assert fresh.put(b"after", b"the attack").ok
        got = fresh.get(b"precious")
        assert got.ok and got.response.get.kv.value == b"kept"
    finally:
        for s in attack:
            s.close()
        c.stop_all()

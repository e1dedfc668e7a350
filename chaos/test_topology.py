"""Real namespaces, real packets: the topology is sealed and the nemesis cuts what it says.

Skipped, with the reason, when not root or without `ip netns` (failed instead with
CASTOR_REQUIRE_CHAOS=1: conftest.py). Every wait is bounded.
"""

import os
import subprocess
import sys
import threading
import time

import pytest

from castor_chaos.nemesis import Nemesis, isolate, one_way
from castor_chaos.topology import CLIENT, NodeProcess, Topology, list_namespaces

pytestmark = pytest.mark.needs_namespaces

PORT = 7000
ECHO_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.settimeout(2)
    try: c.sendall(c.recv(64))
    except OSError: pass
    c.close()
"""
ECHO_CLIENT = """
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[3])
while True:
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5) as s:
            s.sendall(b"ping"); s.settimeout(0.5)
            sys.exit(0 if s.recv(4) == b"ping" else 1)
    except OSError:
        if time.monotonic() > deadline: sys.exit(1)
        time.sleep(0.05)
"""
UDP_RECEIVE_ONE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
try: print(s.recv(64).decode(), flush=True)
except socket.timeout: print("nothing", flush=True)
"""
UDP_SEND = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10):
    try: s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
    except OSError: pass
    time.sleep(0.1)
"""


def tcp_echo(topo, src, dst, patience_s=3.0):
    """Can ``src`` open a TCP connection to ``dst``'s echo server and get its bytes back?"""
    done = topo.exec(src, [sys.executable, "-c", ECHO_CLIENT, topo.address(dst), str(PORT),
                           str(patience_s)], timeout_s=patience_s + 5, check=False)
    return done.returncode == 0


def udp_delivered(topo, src, dst, tmp_path):
    """Does a datagram from ``src`` reach ``dst``? One-way faults need a one-way probe."""
    log = tmp_path / f"udp-{src}-{dst}-{time.monotonic_ns()}.log"
    receiver = topo.spawn(dst, [sys.executable, "-c", UDP_RECEIVE_ONE, "7001", "2"], log_path=log)
    topo.exec(src, [sys.executable, "-c", UDP_SEND, topo.address(dst), "7001"], timeout_s=5)
    receiver.wait(timeout=5)
    return log.read_text().strip() == "hello"


def host_links():
    return {line.split(":")[1].strip() for line in
            subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout.splitlines()}


@pytest.fixture(scope="module")
def topo():
    with Topology(f"t{os.getpid()}", nodes=3) as topology:
        for node in topology.nodes:
            topology.spawn(node, [sys.executable, "-c", ECHO_SERVER, str(PORT)])
        yield topology


@pytest.fixture
def nemesis(topo):
    nemesis = Nemesis(topo)
    yield nemesis
    nemesis.heal()


def test_every_host_reaches_an_echo_server_in_n1(topo):
    assert tcp_echo(topo, CLIENT, "n1")
    assert tcp_echo(topo, "n2", "n1")


def test_no_namespace_has_a_default_route_and_the_host_gained_no_link(topo):
    assert topo.default_routes() == {}
    assert len(list_namespaces(topo.prefix)) == 5, "three nodes, the client and the bridge"
    for host in topo.hosts:
        routes = topo.exec(host, ["ip", "route", "show"]).stdout
        assert routes.strip() == f"{topo.subnet}.0/24 dev eth0 proto kernel scope link src {topo.address(host)}"
    assert not {link for link in host_links() if link.startswith(("v-", "eth0@", "br0"))}


def test_isolating_n1_cuts_it_from_the_other_nodes_only(topo, nemesis):
    nemesis.partition(isolate(topo.nodes, "n1"))
    assert not tcp_echo(topo, "n2", "n1", patience_s=1)
    assert not tcp_echo(topo, "n1", "n3", patience_s=1)
    assert tcp_echo(topo, "n3", "n2")
    assert tcp_echo(topo, CLIENT, "n1"), "clients are never partitioned"
    nemesis.heal()
    assert tcp_echo(topo, "n2", "n1")


def test_one_way_drop_works_in_one_direction_only(topo, nemesis, tmp_path):
    nemesis.partition(one_way(["n1"], ["n2"]))
    assert not udp_delivered(topo, "n1", "n2", tmp_path)
    assert udp_delivered(topo, "n2", "n1", tmp_path)
    nemesis.heal()
    assert udp_delivered(topo, "n1", "n2", tmp_path)


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def eventually(predicate, timeout_s=2.0):
    """Signals are delivered asynchronously: poll, within a bound."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_kill_pause_resume_restart_act_on_the_pid_inside_the_namespace(topo):
    node = NodeProcess(topo, "n2", ["sleep", "30"])
    node.start()
    nemesis = Nemesis(topo, {"n2": node})
    first = node.pid
    namespace_inode = os.stat(f"/run/netns/{topo.namespace('n2')}").st_ino
    # `ip netns exec` enters the namespace, then execs: the same pid, inside, soon after start.
    assert eventually(lambda: os.readlink(f"/proc/{first}/ns/net") == f"net:[{namespace_inode}]")
    nemesis.pause(["n2"])
    assert eventually(lambda: proc_state(first) == "T")
    nemesis.resume(["n2"])
    assert eventually(lambda: proc_state(first) in ("S", "R"))
    nemesis.kill(["n2"])
    assert not node.running() and not os.path.exists(f"/proc/{first}")
    nemesis.restart(["n2"])
    assert node.running() and node.pid != first
    node.kill()


def test_teardown_leaves_nothing_even_when_the_body_fails():
    links_before = host_links()
    topology = Topology(f"u{os.getpid()}", nodes=3)
    with pytest.raises(RuntimeError):
        with topology:
            sleeper = topology.spawn("n1", ["sleep", "30"])
            assert len(list_namespaces(topology.prefix)) == 5
            raise RuntimeError("a test failed inside the topology")
    assert list_namespaces(topology.prefix) == []
    assert sleeper.poll() is not None, "its processes were killed"
    assert host_links() == links_before
    topology.teardown()  # Idempotent: a second teardown is a no-op.


def test_setup_clears_leftovers_of_a_crashed_run_with_the_same_name():
    first = Topology(f"v{os.getpid()}", nodes=1)
    first.setup()
    leftover = first.spawn("n1", ["sleep", "30"])
    with Topology(f"v{os.getpid()}", nodes=2) as second:
        assert leftover.wait(timeout=5) is not None
        assert len(list_namespaces(second.prefix)) == 4
    assert list_namespaces(first.prefix) == []

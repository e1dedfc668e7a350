"""Peer messages inconsistent in themselves (raft/message_check.h): a bug in one node must not
stop the others. An AppendEntries whose entries did not follow its `index` hit an assertion and
ended the follower. Here a forger that passes the peer handshake as the leader sends such
messages to a follower, which refuses each by name and counts it, and goes on following."""
import socket
import struct

from castor_client.proto import net_pb2  # also puts the generated modules (raft_pb2) on the path
from castor_client.wire import KIND_HELLO, KIND_RAFT, MAGIC, PROTOCOL_VERSION, frame
from hostile import assert_node_serves, rejected
from http_calls import ids, wait_until
from raft import raft_pb2


def as_peer(cluster, name, node_id):
    """A connection to node `name`'s peer port that introduced itself as member `node_id`."""
    sock = socket.create_connection(("127.0.0.1", cluster.peer_port[name]), timeout=5)
    hello = net_pb2.Hello(magic=MAGIC, protocol_version=PROTOCOL_VERSION, cluster_id="castor",
                          node_id=node_id, role=net_pb2.Hello.PEER, node_name="forger")
    sock.sendall(frame(KIND_HELLO, hello.SerializeToString()))
    head = sock.recv(5, socket.MSG_WAITALL)
    length, kind = struct.unpack(">IB", head)
    reply = net_pb2.Hello.FromString(sock.recv(length - 1, socket.MSG_WAITALL))
    assert kind == KIND_HELLO and not reply.refused, reply
    return sock


def forged_messages(leader_id, follower_id, term, last):
    """Appends and answers that no correct node sends, each breaking one rule of the check."""
    app = dict(type=raft_pb2.MSG_APP, to=follower_id, term=term, log_term=term, commit=last)
    entry = raft_pb2.Entry
    return {
        # The entries claim indexes that do not follow `index` (the assertion that killed it).
        "does not follow": raft_pb2.Message(
            **app, index=last, entries=[entry(term=term, index=last + 5, data=b"x")]),
        # Two entries with the same index.
        "repeats an index": raft_pb2.Message(
            **app, index=last, entries=[entry(term=term, index=last + 1), entry(term=term, index=last + 1)]),
        # An entry from a term after the message's own.
        "entry from a later term": raft_pb2.Message(
            **app, index=last, entries=[entry(term=term + 7, index=last + 1)]),
        # An index no cluster reaches.
        "index beyond 2^63": raft_pb2.Message(**app, index=1 << 63),
        # A rejection whose hint lies above the index it rejects.
        "hint above the index": raft_pb2.Message(
            type=raft_pb2.MSG_APP_RESP, to=follower_id, term=term, index=3, reject=True, reject_hint=9),
    }


def test_inconsistent_peer_messages_are_refused_counted_and_the_follower_keeps_following(cluster):
    leader = cluster.wait_for_leader()
    follower = next(n for n in cluster.names if n != leader)
    c = cluster.client()
    assert c.put(b"before", b"intact").ok
    status = cluster.status(follower)
    before = rejected(cluster, follower, "peer", "invalid message")
    messages = forged_messages(ids(cluster)[leader], ids(cluster)[follower], status.term, status.commit)
    forger = as_peer(cluster, follower, ids(cluster)[leader])
    for m in messages.values():
        setattr(m, "from", ids(cluster)[leader])
        forger.sendall(frame(KIND_RAFT, m.SerializeToString()))
    wait_until(f"{follower} refuses the {len(messages)} forged messages",
               lambda: rejected(cluster, follower, "peer", "invalid message") == before + len(messages),
               describe=lambda: rejected(cluster, follower, "peer", "invalid message") - before)
    forger.close()
    assert "refused a MSG_APP from n" in cluster.log(follower)
    # Nothing of the forgeries reached the log: the follower still follows the real leader.
    assert c.put(b"after", b"replicated").ok
    assert cluster.status(follower).term == status.term, "the forgeries changed the follower's term"
    wait_until(f"{follower} applies the next write", lambda: cluster.status(follower).applied > status.applied)
    assert_node_serves(cluster, follower, "before", b"intact")
    assert_node_serves(cluster, follower, "after", b"replicated")

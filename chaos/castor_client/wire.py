"""Framing and the Hello handshake (net/frame.h, net/hello.h), over a blocking socket."""
import socket
import struct

from castor_client.proto import net_pb2

MAGIC = 0x43415354
PROTOCOL_VERSION = 1
KIND_HELLO, KIND_RAFT, KIND_REQUEST, KIND_RESPONSE = 1, 2, 3, 4


class ConnectionLost(Exception):
    """The connection closed or failed; whatever was sent on it may or may not have arrived."""


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload) + 1, kind) + payload


class Connection:
    """One client connection to one node: a Hello exchange, then request/response frames."""

    def __init__(self, host: str, port: int, cluster_id: str, timeout_s: float):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as e:
            raise ConnectionLost(f"cannot connect to {host}:{port}: {e}") from e
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        hello = net_pb2.Hello(magic=MAGIC, protocol_version=PROTOCOL_VERSION, cluster_id=cluster_id,
                              node_id=0, role=net_pb2.Hello.CLIENT, node_name="python")
        self.send(KIND_HELLO, hello.SerializeToString())
        kind, payload = self.recv(timeout_s)
        reply = net_pb2.Hello.FromString(payload)
        if kind != KIND_HELLO or reply.magic != MAGIC:
            raise ConnectionLost(f"{host}:{port} did not answer with a Castor Hello")
        if reply.refused:
            raise ConnectionLost(f"{host}:{port} refused the connection: {reply.refused}")
        self.node_id = reply.node_id

    def send(self, kind: int, payload: bytes) -> None:
        try:
            self.sock.sendall(frame(kind, payload))
        except OSError as e:
            raise ConnectionLost(str(e)) from e

    def recv(self, timeout_s: float):
        """The next frame as (kind, payload); ConnectionLost when none comes within `timeout_s`."""
        got = self.recv_within(timeout_s)
        if got is None:
            raise ConnectionLost("timed out")
        return got

    def recv_within(self, timeout_s: float):
        """The next frame, or None when none arrives within `timeout_s`: the connection stays
        usable (a frame half read is kept for the next call)."""
        self.sock.settimeout(max(timeout_s, 0.001))
        try:
            while True:
                if len(self.buf) >= 4:
                    n = struct.unpack(">I", self.buf[:4])[0]
                    if len(self.buf) >= 4 + n:
                        kind, payload = self.buf[4], self.buf[5:4 + n]
                        self.buf = self.buf[4 + n:]
                        return kind, payload
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionLost("connection closed by the node")
                self.buf += data
        except socket.timeout:
            return None
        except OSError as e:
            raise ConnectionLost(str(e)) from e

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

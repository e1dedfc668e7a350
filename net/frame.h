// Frames: how every Castor connection cuts its byte stream into messages (docs/DESIGN.md, "The wire").
//
//   u32 length (big-endian; counts the kind byte and the payload) | u8 kind | payload
//
// A length of 0, a length over the configured maximum, or an unknown kind is an error that
// closes the connection; the payload is protobuf bytes whose parsing is the caller's.
//
// What it does NOT do: close the connection (its owner does, on an error from next()), parse the
// payload, or check that a kind belongs on this connection. append_frame does not check the maximum.
// Performs no I/O. Not thread-safe; one FrameReader per connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/base/status.h"

namespace castor::net {

enum class FrameKind : uint8_t {
  kHello = 1,     // net.pb.Hello, first on every connection
  kRaft = 2,      // raft.pb.Message, between peers
  kRequest = 3,   // a client request (kv.pb), client -> node
  kResponse = 4,  // a client response (kv.pb), node -> client
  kPing = 5,      // net.pb.Ping, a peer's keep-alive on its outgoing connection
  kPong = 6,      // net.pb.Pong, the answer to a Ping on the same connection
};

inline constexpr uint32_t kMagic = 0x43415354;  // "CAST"
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kFrameBytesMaxDefault = 4u << 20;
inline constexpr size_t kFrameHeaderBytes = 5;

struct Frame {
  FrameKind kind;
  std::string payload;
};

// Appends one encoded frame to `out`.
void append_frame(std::string& out, FrameKind kind, std::string_view payload);

class FrameReader {
 public:
  explicit FrameReader(uint32_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}

  // Bytes received from the socket.
  void feed(const char* data, size_t size);
  // The next complete frame; nullopt when more bytes are needed; kTooLarge or
  // kInvalidArgument when the stream is malformed (the connection must close: the reader
  // stays in the error).
  Result<std::optional<Frame>> next();
  // Bytes received but not yet returned as frames.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  uint32_t frame_bytes_max_;
  std::string buf_;
  size_t pos_ = 0;
  std::optional<Status> error_;
};

}  // namespace castor::net

// ClientWatchStream: a watch's answers to a binary-protocol client, as parts of the answer to
// its WatchRequest on that connection (net/client_listener.h, "Streams").
//
// What it does NOT do: decide what to send (kv/server/watch_hub.h does) or buffer: every answer
// is queued on the connection at once, and queued_bytes() tells the hub how much waits there.
// Threading: the server's io thread, as the connection's Respond.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "kv/kv.pb.h"
#include "kv/server/watch_hub.h"
#include "net/client_listener.h"

namespace castor::kv {

class ClientWatchStream : public WatchStream {
 public:
  // `header` fills each answer's header (term, leader, node, revision) as every answer has.
  ClientWatchStream(net::ClientListener::Respond respond, std::function<void(pb::ClientResponse&)> header)
      : respond_(std::move(respond)), header_(std::move(header)) {}
  // The hub forgets a watch whose client is gone without a last answer: the connection must
  // not wait for one (net/client_listener.h, "Streams"). A stream that never started (its watch
  // was refused, and the refusal was the request's answer) has nothing to end.
  ~ClientWatchStream() override {
    if (started_ && !finished_) respond_.abandon();
  }
  ClientWatchStream(const ClientWatchStream&) = delete;
  ClientWatchStream& operator=(const ClientWatchStream&) = delete;

  // The answer's encoding is shared with other watchers: the ClientResponse around it is
  // encoded here without it, and the watch field appended as bytes (protobuf's encoding of a
  // message is the concatenation of its fields', in any order).
  void send(uint64_t request_id, const WatchAnswer& answer) override {
    pb::ClientResponse r;
    r.set_request_id(request_id);
    header_(r);
    started_ = true;
    std::string bytes = r.SerializeAsString();
    append_message_field(bytes, pb::ClientResponse::kWatchFieldNumber, answer.encoded);
    respond_.part(std::move(bytes));
  }
  void finish(pb::ClientResponse answer) override {
    header_(answer);
    finished_ = true;
    respond_(answer.SerializeAsString());
  }
  uint64_t queued_bytes() const override { return respond_.queued_bytes(); }
  bool open() const override { return respond_.open(); }

 private:
  // Appends field `number` holding the message encoded as `encoded`: protobuf's tag (wire type
  // length-delimited), the length, the bytes.
  static void append_message_field(std::string& out, int number, const std::string& encoded) {
    using google::protobuf::io::CodedOutputStream;
    using WireFormat = google::protobuf::internal::WireFormatLite;
    uint8_t head[10];  // two varints of 32 bits, at most 5 bytes each
    uint8_t* end = CodedOutputStream::WriteTagToArray(
        WireFormat::MakeTag(number, WireFormat::WIRETYPE_LENGTH_DELIMITED), head);
    end = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(encoded.size()), end);
    out.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
    out += encoded;
  }

  net::ClientListener::Respond respond_;
  std::function<void(pb::ClientResponse&)> header_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace castor::kv

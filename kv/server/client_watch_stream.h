// ClientWatchStream: a watch's answers to a binary-protocol client, as parts of the answer to
// its WatchRequest on that connection (net/client_listener.h, "Streams").
//
// What it does NOT do: decide what to send (kv/server/watch_hub.h does) or buffer: every answer
// is queued on the connection at once, and queued_bytes() tells the hub how much waits there.
// Threading: the server's io thread, as the connection's Respond.
#pragma once

#include <functional>
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

  void send(pb::ClientResponse answer) override {
    header_(answer);
    started_ = true;
    respond_.part(answer.SerializeAsString());
  }
  void finish(pb::ClientResponse answer) override {
    header_(answer);
    finished_ = true;
    respond_(answer.SerializeAsString());
  }
  uint64_t queued_bytes() const override { return respond_.queued_bytes(); }
  bool open() const override { return respond_.open(); }

 private:
  net::ClientListener::Respond respond_;
  std::function<void(pb::ClientResponse&)> header_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace castor::kv

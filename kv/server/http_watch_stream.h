// HttpWatchStream: a watch's answers to an HTTP client, as lines of one streamed HTTP answer
// (kv/server/http_watch.h for the lines, net/http_respond.h for the stream). The first answer
// starts the stream (200, application/x-ndjson); a watch that ends before it started (never, as
// the hub answers `created` first, but a stream must not depend on it) is an HTTP error.
//
// What it does NOT do: decide what to send (kv/server/watch_hub.h does) or buffer: every line is
// queued on the connection at once, and queued_bytes() tells the hub how much waits there.
// Threading: the server's io thread.
#pragma once

#include <functional>
#include <utility>

#include "kv/kv.pb.h"
#include "kv/server/http_api.h"
#include "kv/server/http_watch.h"
#include "kv/server/watch_hub.h"
#include "net/http_respond.h"

namespace castor::kv {

class HttpWatchStream : public WatchStream {
 public:
  // `header` fills each answer's header (term, leader, node, revision) as every answer has.
  HttpWatchStream(net::HttpRespond respond, std::function<void(pb::ClientResponse&)> header)
      : respond_(std::move(respond)), header_(std::move(header)) {}

  void send(uint64_t request_id, const WatchAnswer& answer) override {
    pb::ClientResponse r;
    r.set_request_id(request_id);
    *r.mutable_watch() = answer.response;
    send_line(std::move(r));
  }
  void finish(pb::ClientResponse answer) override {
    if (!started_ && answer.code() != pb::OK) {
      header_(answer);
      return respond_(error_answer(answer));
    }
    send_line(std::move(answer));
    respond_.end();
  }
  uint64_t queued_bytes() const override { return respond_.queued_bytes(); }
  bool open() const override { return respond_.open(); }

 private:
  void send_line(pb::ClientResponse answer) {
    header_(answer);
    if (!started_) {
      started_ = true;
      respond_.start(net::HttpResponse{200, "application/x-ndjson", "", {{"Cache-Control", "no-cache"}}});
    }
    respond_.part(watch_line(answer));
  }

  net::HttpRespond respond_;
  std::function<void(pb::ClientResponse&)> header_;
  bool started_ = false;
};

}  // namespace castor::kv

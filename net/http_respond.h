// HttpRespond: the way back for the answer to one HTTP request. Either whole (operator(), once),
// or streamed: start() sends the status and headers, each part() is sent as it comes (HTTP/1.1
// chunked transfer coding, RFC 9112 section 7.1; in HTTP/1.0 the body ends when the connection
// closes), and end() finishes the body. A watch streams; everything else answers whole.
//
// Where the answer goes is an HttpResponder: HttpServer's connection, or, for tests and for code
// that wants one response, a function that gets the whole answer (a streamed one when it ends).
//
// What it does NOT do: buffer without bound or pace the sender. A streaming handler watches
// queued_bytes() and stops (or ends the answer) when its client does not read; open() turns false
// once the client is gone, and parts sent after that are dropped.
// Threading: operator() from any thread (HttpServer hops to its io thread); start, part, end,
// queued_bytes and open on the server's io thread only.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace castor::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // of a streamed answer: unused in start()'s head
  // Extra headers such as Location. A name that is not an RFC 9110 token, or a value with
  // CR, LF or NUL or over 32 KiB, is dropped with a logged warning rather than sent (header
  // injection); so is such a content_type.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Where one request's answer goes.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void answer(HttpResponse response) = 0;
  virtual void start(HttpResponse head) = 0;
  virtual void part(std::string data) = 0;
  virtual void end() = 0;
  virtual uint64_t queued_bytes() const = 0;
  virtual bool open() const = 0;
};

// Collects a streamed answer into one response for a function that wants it whole.
class WholeResponder : public HttpResponder {
 public:
  explicit WholeResponder(std::function<void(HttpResponse)> whole) : whole_(std::move(whole)) {}
  void answer(HttpResponse response) override { whole_(std::move(response)); }
  void start(HttpResponse head) override { head_ = std::move(head); }
  void part(std::string data) override { head_.body += data; }
  void end() override {
    ended_ = true;
    whole_(std::move(head_));
  }
  uint64_t queued_bytes() const override { return 0; }
  bool open() const override { return !ended_; }

 private:
  std::function<void(HttpResponse)> whole_;
  HttpResponse head_;
  bool ended_ = false;
};

class HttpRespond {
 public:
  explicit HttpRespond(std::shared_ptr<HttpResponder> to) : to_(std::move(to)) {}
  // A function that takes the whole answer (a streamed one when it ends).
  template <typename F>
  requires std::invocable<F&, HttpResponse> &&
      (!std::same_as<std::decay_t<F>, HttpRespond>)HttpRespond(F whole)
      : to_(std::make_shared<WholeResponder>(std::move(whole))) {}

  // The whole answer. Call it, or start(), exactly once per request.
  void operator()(HttpResponse response) const { to_->answer(std::move(response)); }
  // A streamed answer: `head`'s status, content type and headers (its body is ignored).
  void start(HttpResponse head) const { to_->start(std::move(head)); }
  // The next piece of a started answer's body; an empty piece is not sent.
  void part(std::string data) const {
    if (!data.empty()) to_->part(std::move(data));
  }
  // Ends a started answer's body. When every copy of a started HttpRespond is gone, the body
  // ends too, so a stream is never left open by a holder that went away.
  void end() const { to_->end(); }
  // Bytes of parts queued and not yet written to the client.
  uint64_t queued_bytes() const { return to_->queued_bytes(); }
  // False once the client is gone (or the answer ended).
  bool open() const { return to_->open(); }
  // The same for every copy of one request's HttpRespond: an identity for its answer.
  const void* id() const { return to_.get(); }

 private:
  std::shared_ptr<HttpResponder> to_;
};

}  // namespace castor::net

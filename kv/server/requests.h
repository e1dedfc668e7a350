// Requests: a node's front door. Every client request of every surface (a binary-protocol
// frame, an HTTP request already turned into a ClientRequest) enters here, is counted and timed
// once (castor_requests_total, castor_request_duration_seconds), checked against kv::Limits
// (kv/machine/limits.h) and handed to the path that answers it:
//   get, range                 -> RequestsHost::read (linearizable or serializable)
//   write, register_client     -> RequestsHost::write (a write without a session is tagged here
//                                 first, kv.proto: the node finds its answer by that tag)
//   status                     -> answered at once with RequestsHost::status
//   transfer_leader            -> RequestsHost::transfer
//   watch, watch_cancel        -> the WatchHub (kv/server/watch_hub.h), which answers many times,
//                                 through the stream of the request's surface
// A new RPC is a new case in route() (docs/HACKING.md, "Adding an RPC").
//
// What it does NOT do: wait for anything (the paths keep their own waiters: Writes, Reads,
// Transfers), fill in answers' headers (RequestsHost::answer does) or decide leadership.
// Threading: not thread-safe; the server's io thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "kv/kv.pb.h"
#include "kv/machine/limits.h"
#include "kv/server/pending.h"
#include "kv/server/server_metrics.h"
#include "kv/server/watch_hub.h"
#include "net/client_listener.h"
#include "net/http_respond.h"

namespace castor::kv {

// What Requests needs of the node that hosts it.
class RequestsHost {
 public:
  virtual ~RequestsHost() = default;
  // True once the node stops: every request is then refused UNAVAILABLE.
  virtual bool stopping() const = 0;
  // Fills in an answer's header (term, leader, node, revision) and sends it.
  virtual void answer(const Respond& respond, pb::ClientResponse r) const = 0;
  virtual void fill_header(pb::ClientResponse& r) const = 0;
  // The paths of valid requests; each answers exactly once through `respond`.
  virtual void read(pb::ClientRequest req, Respond respond) = 0;
  virtual void write(const pb::ClientRequest& req, Respond respond) = 0;
  virtual void transfer(const pb::ClientRequest& req, Respond respond) = 0;
  virtual pb::StatusResponse status() const = 0;
};

class Requests {
 public:
  // The watch hub's clock.
  using Clock = WatchHub::Clock;

  // `first_sessionless_tag`: random, so that no earlier run of this node chose the same tags.
  Requests(const Limits& limits, RequestsHost& host, ServerMetrics& metrics, WatchHub& watches,
           uint64_t first_sessionless_tag);

  // One frame of the binary protocol; `respond` sends frames back on its connection.
  void frame(const std::string& payload, net::ClientListener::Respond respond);
  // GET /v1/watch/<key>, already a watch request (kv/server/http_watch.h): its answers stream
  // as lines on `respond`, a refusal is an HTTP error. Ended by closing the connection.
  void http_watch(const pb::ClientRequest& req, net::HttpRespond respond);
  // One parsed request with one answer (every kind but watch and watch_cancel).
  void handle(pb::ClientRequest req, Respond send);
  // Starts the watch `req` on `connection` (any identity shared by the watches one client may
  // cancel by name), answering on `stream`; or cancels one when `req` is a watch_cancel. A
  // refusal (and a cancel's answer) goes to `reply` instead, once.
  void watch(const pb::ClientRequest& req, const void* connection, std::shared_ptr<WatchStream> stream,
             const Respond& reply);

 private:
  // Sends a valid request down its path. By reference: a moved message loses the size
  // validate() cached, which Writes relies on.
  void route(pb::ClientRequest& req, Respond respond);
  void cancel_watch(const pb::ClientRequest& req, const void* connection, const Respond& reply);

  const Limits& limits_;
  RequestsHost& host_;
  ServerMetrics& metrics_;
  WatchHub& watches_;
  uint64_t sessionless_tag_;  // the next tag of a write without a session (odd: never 0)
};

}  // namespace castor::kv

#include "kv/server/requests.h"

#include <utility>

#include "kv/server/client_watch_stream.h"
#include "kv/server/error_response.h"
#include "kv/server/http_watch_stream.h"

namespace castor::kv {

Requests::Requests(const Limits& limits, RequestsHost& host, ServerMetrics& metrics, WatchHub& watches,
                   uint64_t first_sessionless_tag)
    : limits_(limits),
      host_(host),
      metrics_(metrics),
      watches_(watches),
      sessionless_tag_(first_sessionless_tag | 1) {}

void Requests::frame(const std::string& payload, net::ClientListener::Respond respond) {
  pb::ClientRequest req;
  const bool parsed = req.ParseFromString(payload);
  Respond send = [respond](pb::ClientResponse r) { respond(r.SerializeAsString()); };
  if (!parsed) {
    return host_.answer(send,
                        error_response(0, Code::kInvalidArgument, "request does not parse as ClientRequest"));
  }
  if (req.has_watch() || req.has_watch_cancel()) {
    // A watch answers many times: its answers are parts of one answer on the connection.
    auto stream =
        std::make_shared<ClientWatchStream>(respond, [this](pb::ClientResponse& r) { host_.fill_header(r); });
    return watch(req, respond.connection(), std::move(stream), send);
  }
  handle(std::move(req), std::move(send));
}

void Requests::http_watch(const pb::ClientRequest& req, net::HttpRespond respond) {
  auto stream =
      std::make_shared<HttpWatchStream>(respond, [this](pb::ClientResponse& r) { host_.fill_header(r); });
  // Each HTTP watch is a connection of its own to the hub: it ends with its HTTP answer.
  const void* connection = respond.id();
  watch(req, connection, std::move(stream), [respond](pb::ClientResponse r) { respond(error_answer(r)); });
}

void Requests::handle(pb::ClientRequest req, Respond send) {
  const RequestOp op = request_op_of(req);
  const auto start = Clock::now();
  Respond respond = [this, op, start, send = std::move(send)](pb::ClientResponse r) {
    metrics_.request(op, r.code(), Clock::now() - start);
    send(std::move(r));
  };
  if (host_.stopping()) {
    return host_.answer(respond,
                        error_response(req.request_id(), Code::kUnavailable, "node is shutting down"));
  }
  if (req.has_write() && req.write().client_id() == 0) {
    // A write without a session (kv.proto): this node tags it to find its answer.
    req.mutable_write()->set_seq(sessionless_tag_);
    sessionless_tag_ += 2;
  }
  if (Status v = validate(req, limits_); !v.is_ok()) {
    return host_.answer(respond, error_response(req.request_id(), v.code(), v.message()));
  }
  route(req, std::move(respond));
}

void Requests::route(pb::ClientRequest& req, Respond respond) {
  switch (req.request_case()) {
    case pb::ClientRequest::kGet:
    case pb::ClientRequest::kRange:
      return host_.read(std::move(req), std::move(respond));
    case pb::ClientRequest::kWrite:
    case pb::ClientRequest::kRegisterClient:
      return host_.write(req, std::move(respond));
    case pb::ClientRequest::kStatus: {
      pb::ClientResponse r;
      r.set_request_id(req.request_id());
      *r.mutable_status() = host_.status();
      return host_.answer(respond, std::move(r));
    }
    case pb::ClientRequest::kTransferLeader:
      return host_.transfer(req, std::move(respond));
    case pb::ClientRequest::kWatch:
    case pb::ClientRequest::kWatchCancel:
      // Watches take watch() (they answer many times); this path has one answer.
      return host_.answer(respond,
                          error_response(req.request_id(), Code::kInvalidArgument,
                                         "a watch answers many times: send it on the binary protocol "
                                         "or to GET /v1/watch/"));
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  host_.answer(respond, error_response(req.request_id(), Code::kInvalidArgument, "request has no body"));
}

void Requests::watch(const pb::ClientRequest& req, const void* connection,
                     std::shared_ptr<WatchStream> stream, const Respond& reply) {
  const RequestOp op = request_op_of(req);
  const auto start = Clock::now();
  // Counted once: when the watch starts (or is refused), not per answer.
  auto refuse = [&](Code code, const std::string& why) {
    metrics_.request(op, static_cast<pb::ErrorCode>(code), Clock::now() - start);
    host_.answer(reply, error_response(req.request_id(), code, why));
  };
  if (host_.stopping()) return refuse(Code::kUnavailable, "node is shutting down");
  if (Status v = validate(req, limits_); !v.is_ok()) return refuse(v.code(), v.message());
  if (req.has_watch_cancel()) return cancel_watch(req, connection, reply);
  if (!req.has_watch()) return refuse(Code::kInvalidArgument, "not a watch request");
  Status s = watches_.add(connection, req.request_id(), req.watch(), std::move(stream), start);
  if (!s.is_ok()) return refuse(s.code(), s.message());
  metrics_.request(op, pb::OK, Clock::now() - start);
}

void Requests::cancel_watch(const pb::ClientRequest& req, const void* connection, const Respond& reply) {
  const auto start = Clock::now();
  const uint64_t name = req.watch_cancel().watch_request_id();
  pb::ClientResponse r;
  r.set_request_id(req.request_id());
  if (watches_.cancel(connection, name)) {
    r.mutable_watch_cancel();
  } else {
    r = error_response(req.request_id(), Code::kNotFound,
                       "no watch of request_id " + std::to_string(name) + " on this connection");
  }
  metrics_.request(RequestOp::kWatchCancel, r.code(), Clock::now() - start);
  host_.answer(reply, std::move(r));
}

}  // namespace castor::kv

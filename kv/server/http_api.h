// HttpApi: Castor over HTTP (docs/HTTP.md): GET /metrics, GET /health, GET /status, the JSON
// KV API (/v1/kv/<key>, /v1/txn) and the watch stream (/v1/watch/<key>, http_watch.h), on top of
// a node reached through HttpApiHooks.
//
// It only translates: an HTTP request becomes the same pb::ClientRequest the binary API sends,
// which the node runs through the same path (validation, Raft, apply), and the answer becomes
// JSON with an HTTP status that fits its code (409 failed compare, 307/421 not leader, 503
// unavailable, 504 unknown outcome, 413 too large, ...). HTTP writes carry no session
// (client_id 0): each request is proposed once and never deduplicated.
//
// Bad input never reaches the node: bad JSON, an unknown query parameter (a typo such as
// `?cass=` must not turn a compare-and-swap into a plain put), a bad number, a bad method or
// an unknown path is answered here with a 4xx and a JSON error.
//
// What it does NOT do: parse HTTP or hold connections (net/http_server.h does), check requests
// against kv::Limits (the node does, as for a binary request), or forward one to the leader: it
// answers 307 or 421.
// Threading: serve_http and the hooks run on the node's io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kv/kv.pb.h"
#include "net/http_server.h"
#include "raft/base/json.h"
#include "raft/base/status.h"

namespace castor::kv {

struct HttpApiHooks {
  // Runs one request through the node; `answer` is called exactly once, on the io thread.
  std::function<void(pb::ClientRequest, std::function<void(pb::ClientResponse)>)> submit;
  // Starts the watch `request` (kv/server/http_watch.h), whose answers stream on `respond`.
  std::function<void(pb::ClientRequest request, net::HttpServer::Respond respond)> watch;
  std::function<std::string()> metrics;        // Prometheus text
  std::function<pb::StatusResponse()> status;  // this node's view, health included
  // The HTTP address ("host:port") of a member, "" when unknown: where NOT_LEADER redirects.
  std::function<std::string(uint64_t node)> http_address_of;
};

// `hooks` must outlive every answer still to come (the node keeps one for its lifetime).
void serve_http(const HttpApiHooks& hooks, net::HttpRequest request, net::HttpServer::Respond respond);

// The pieces, for tests.
// A POST /v1/txn body as a TxnRequest; kInvalidArgument says what is wrong and where.
Result<pb::TxnRequest> txn_from_json(std::string_view body);
// The HTTP status for a response code (NOT_LEADER: 421; serve_http makes it a 307 when it
// knows where the leader is).
int http_status_of(pb::ErrorCode code);
// A refusal (any code but NOT_LEADER, which serve_http redirects) as its HTTP error:
// {"code", "message", "header"} with http_status_of(code), and Retry-After on a 503.
net::HttpResponse error_answer(const pb::ClientResponse& refusal);
Json status_json(const pb::StatusResponse& status);

}  // namespace castor::kv

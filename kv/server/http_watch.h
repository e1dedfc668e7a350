// The HTTP face of Watch (docs/HTTP.md, "Watch"): GET /v1/watch/<key> as a WatchRequest, and each
// answer of the watch as one line of newline-delimited JSON, so that curl or any language's
// line reader can follow a key, a prefix or a range:
//   {"created":true,"revision":R}                       the watch starts after revision R
//   {"revision":R,"events":[...]}                       the events of whole revisions up to R
//   {"revision":R,"events":[...],"fragment":true}       ... of one revision too large for a line;
//                                                       its events continue on the next line
//   {"revision":R}                                      progress (with ?progress): nothing new up to R
//   {"canceled":true,"code":"TOO_SLOW","message":"...","revision":R[,"compact_revision":C]}
//                                                       the last line; watch again with ?rev=R+1
//
// A watch refused before it starts is an ordinary HTTP error (error_answer in http_api.h).
//
// What it does NOT do: hold the stream (kv/server/http_watch_stream.h does, in the node) or
// decide what to send (the watch hub does).
#pragma once

#include <string>

#include "kv/kv.pb.h"
#include "net/http_server.h"
#include "raft/base/status.h"

namespace castor::kv {

// The watch that GET /v1/watch/<key> asks for. Parameters: prefix (every key starting with
// <key>), end=K (the keys in [<key>, K)), rev=N (every change at revision N and later, as
// etcd's start revision; without it: changes after now), prev_kv, progress. kInvalidArgument
// names a bad or unknown parameter.
Result<pb::ClientRequest> watch_request(const net::HttpRequest& request, const std::string& key);

// One answer of a watch as its line, '\n' included.
std::string watch_line(const pb::ClientResponse& answer);

}  // namespace castor::kv

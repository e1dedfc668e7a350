#include "kv/server/http_watch.h"

#include "kv/client/kv_json.h"
#include "kv/server/http_params.h"
#include "raft/base/json.h"

namespace castor::kv {

Result<pb::ClientRequest> watch_request(const net::HttpRequest& req, const std::string& key) {
  if (Status s = check_params(req, {"prefix", "end", "rev", "prev_kv", "progress"}); !s.is_ok()) return s;
  const bool prefix = req.has_query("prefix");
  const auto end = req.query.find("end");
  if (prefix && end != req.query.end())
    return Status(Code::kInvalidArgument, "?prefix and ?end do not go together");
  if (!prefix && key.empty()) {
    return Status(Code::kInvalidArgument, "empty key (to watch every key, use GET /v1/watch/?prefix)");
  }
  auto rev = uint_param(req, "rev");
  if (!rev.is_ok()) return rev.status();
  if (rev->has_value() && **rev == 0) {
    return Status(Code::kInvalidArgument,
                  "?rev=0: revisions count from 1 (?rev=1 replays the whole history kept)");
  }
  pb::ClientRequest request;
  pb::WatchRequest* w = request.mutable_watch();
  w->set_key(key);
  w->set_prefix(prefix);
  if (end != req.query.end()) w->set_range_end(end->second);
  // ?rev=N asks for the changes at N and later (etcd's start revision); the protocol's
  // start_revision is the last revision NOT wanted.
  if (rev->has_value()) w->set_start_revision(**rev - 1);
  w->set_prev_kv(req.has_query("prev_kv"));
  w->set_progress_notify(req.has_query("progress"));
  return request;
}

std::string watch_line(const pb::ClientResponse& answer) {
  const pb::WatchResponse& w = answer.watch();
  Json j = Json::object();
  if (w.created()) j["created"] = true;
  if (w.canceled()) {
    j["canceled"] = true;
    j["code"] = pb::ErrorCode_Name(answer.code());
    j["message"] = answer.message();
  }
  j["revision"] = w.revision();
  if (w.compact_revision() != 0) j["compact_revision"] = w.compact_revision();
  if (w.events_size() > 0) {
    Json events = Json::array();
    for (const pb::Event& e : w.events()) events.push_back(event_json(e));
    j["events"] = std::move(events);
  }
  if (w.fragment()) j["fragment"] = true;
  return dump_json(j) + "\n";
}

}  // namespace castor::kv

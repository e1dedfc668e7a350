#include "kv/server/reads.h"

#include <optional>
#include <utility>

#include "kv/server/error_response.h"
#include "raft/base/assert.h"

namespace castor::kv {

void Reads::start(pb::ClientRequest req, Respond respond, raft::LogIndex applied) {
  const std::string context = contexts_.next();
  const uint64_t number = *contexts_.number_of(context);
  if (opt_.unsafe_local_reads) {
    // The planted bug: this node's own commit index, no heartbeat round to confirm it still
    // leads, so a deposed leader serves stale data (thesis 6.4 explains why that is wrong).
    add(number, std::move(req), std::move(respond));
    released_.emplace(host_.committed(), number);
    return serve_ready(applied);
  }
  Status s = host_.read_index(context);
  if (!s.is_ok()) {
    const Code code = s.code() == Code::kNotLeader ? Code::kUnavailable : s.code();
    return host_.answer(
        respond, error_response(req.request_id(), code, "no leader to confirm the read: " + s.message()));
  }
  add(number, std::move(req), std::move(respond));
}

void Reads::add(uint64_t number, pb::ClientRequest req, Respond respond) {
  const uint64_t request_id = req.request_id();  // read before req moves into the waiter
  const bool replaced =
      waiting_.add(number, waiting_for(opt_.deadline, request_id, std::move(respond), std::move(req)))
          .has_value();
  CASTOR_ASSERT(!replaced, "two reads share a read context (raft/read_context.h)");
}

void Reads::released(const std::vector<raft::ReadState>& reads) {
  for (const auto& rs : reads) {
    // An answer for another run's read (raft/read_context.h) names no read of ours.
    const std::optional<uint64_t> number = contexts_.number_of(rs.context);
    if (number && waiting_.contains(*number)) released_.emplace(rs.index, *number);
  }
}

void Reads::serve_ready(raft::LogIndex applied) {
  while (!released_.empty() && released_.begin()->first <= applied) {
    const uint64_t number = released_.begin()->second;
    released_.erase(released_.begin());
    if (std::optional<Waiting<pb::ClientRequest>> w = waiting_.take(number))
      host_.serve_read(w->extra, w->respond);
  }
  // The rest wait for entries applied but not yet committed, or about to be: no waiting for the
  // end of the state machine's commit interval.
  if (!released_.empty()) host_.commit_soon();
}

void Reads::drop_unreleased() {
  auto unreleased = [this](uint64_t number, const auto&) {
    for (const auto& [index, released] : released_) {
      if (released == number) return false;
    }
    return true;
  };
  for (auto& [number, w] : waiting_.take_if(unreleased)) {
    fail(host_, w, Code::kUnavailable, "leadership changed while confirming the read; retry");
  }
}

void Reads::fail_expired(std::chrono::steady_clock::time_point now) {
  for (auto& [number, w] : waiting_.take_expired(now)) {
    fail(host_, w, Code::kUnavailable, "deadline passed before the read was confirmed");
    std::erase_if(released_, [read = number](const auto& kv) { return kv.second == read; });
  }
}

}  // namespace castor::kv

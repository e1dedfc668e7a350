#include "kv/server/transfers.h"

#include "kv/server/error_response.h"
#include "raft/base/assert.h"

namespace castor::kv {

pb::ClientResponse Transfers::done(uint64_t request_id) {
  pb::ClientResponse r;
  r.set_request_id(request_id);
  r.mutable_transfer_leader();
  return r;
}

void Transfers::wait(uint64_t request_id, Respond respond, uint64_t target) {
  const bool replaced =
      pending_.add(next_++, waiting_for(timeout_, request_id, std::move(respond), target)).has_value();
  CASTOR_ASSERT(!replaced, "transfer numbers are unique");
}

std::vector<Transfers::Answer> Transfers::took_over(uint64_t leader) {
  std::vector<Answer> out;
  auto to_leader = [leader](uint64_t, const Waiting<uint64_t>& w) { return w.extra == leader; };
  for (auto& [number, w] : pending_.take_if(to_leader))
    out.emplace_back(std::move(w.respond), done(w.request_id));
  return out;
}

std::vector<Transfers::Answer> Transfers::expired(std::chrono::steady_clock::time_point now) {
  std::vector<Answer> out;
  for (auto& [number, w] : pending_.take_expired(now)) {
    out.emplace_back(std::move(w.respond), error_response(w.request_id, Code::kUnavailable,
                                                          "the target did not take over in time"));
  }
  return out;
}

}  // namespace castor::kv

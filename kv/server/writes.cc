#include "kv/server/writes.h"

#include <algorithm>
#include <optional>

#include "kv/server/error_response.h"
#include "raft/base/assert.h"

namespace castor::kv {

namespace {

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

void Writes::take(const pb::ClientRequest& req, Respond respond) {
  Waiting<> waiter = waiting_for(opt_.deadline, req.request_id(), std::move(respond));
  // An entry holds what fits one peer message (entry_bytes_max): a command that would push the
  // batch past it goes into the next entry.
  // (+64: the command's own fields and framing within the batch, well over what they take.)
  // validate() sized this request already (ByteSizeLong caches it), so it is not sized twice.
  CASTOR_ASSERT(req.GetCachedSize() > 0, "a write reached the batch without validate() sizing it");
  const uint64_t command_bytes = static_cast<uint64_t>(req.GetCachedSize()) + 64;
  if (batch_.commands_size() > 0 && batch_bytes_ + command_bytes > opt_.entry_bytes_max) flush();
  batch_bytes_ += command_bytes;
  pb::Command* c = batch_.add_commands();
  // Session expiry runs on these stamps (never on a replica's clock); keeping them monotone on
  // this leader keeps expiry monotone even if the wall clock steps back.
  last_stamp_ms_ = std::max(last_stamp_ms_, wall_ms());
  c->set_timestamp_ms(last_stamp_ms_);
  c->set_session_timeout_ms(opt_.session_timeout_ms);
  std::optional<Waiting<>> replaced;
  if (req.has_register_client()) {
    *c->mutable_register_client() = req.register_client();
    const uint64_t nonce = req.register_client().nonce();
    replaced = registrations_.add(nonce, std::move(waiter));
    batch_nonces_.push_back(nonce);
  } else {
    *c->mutable_write() = req.write();
    const WriteKey key{req.write().client_id(), req.write().seq()};
    replaced = writes_.add(key, std::move(waiter));
    batch_writes_.push_back(key);
  }
  if (replaced) fail(host_, *replaced, Code::kUnknown, "superseded by a retry");
  if (!flush_posted_) {
    flush_posted_ = true;
    host_.post([this] { flush(); });
  }
}

void Writes::flush() {
  flush_posted_ = false;
  if (batch_.commands_size() == 0) return;
  Result<raft::Proposal> p = host_.propose(batch_.SerializeAsString());
  const auto commands = static_cast<uint64_t>(batch_.commands_size());
  if (p.is_ok()) {
    metrics_.proposals_accepted.inc(commands);
    proposed_[p->index.value] = Proposed{p->term, std::move(batch_writes_), std::move(batch_nonces_)};
  } else {
    metrics_.proposals_dropped.inc(commands);
    // Refused before reaching the log: certainly not applied.
    fail_batch(batch_writes_, batch_nonces_, p.status().code(), p.status().message());
  }
  batch_.Clear();
  batch_bytes_ = 0;
  batch_writes_.clear();
  batch_nonces_.clear();
}

void Writes::answer_applied(std::vector<AppliedCommand> answers) {
  for (AppliedCommand& ac : answers) {
    // Nobody waits when another node proposed the command, or its client gave up.
    std::optional<Waiting<>> w = ac.response.has_register_client()
                                     ? registrations_.take(ac.response.register_client().nonce())
                                     : writes_.take({ac.client_id, ac.seq});
    if (!w) continue;
    ac.response.set_request_id(w->request_id);
    host_.answer(w->respond, std::move(ac.response));
  }
}

void Writes::forget_lost(const std::vector<raft::pb::Entry>& committed) {
  for (const auto& e : committed) {
    auto it = proposed_.find(e.index());
    if (it == proposed_.end()) continue;
    if (it->second.term.value != e.term()) {
      // Another leader's entry took this index: our batch was not applied here. It may still
      // be somewhere (a retry, a copy the new leader holds), so its fate is UNKNOWN.
      metrics_.proposals_failed.inc(fail_batch(it->second.writes, it->second.nonces, Code::kUnknown,
                                               "leadership changed before the write committed"));
    }
    proposed_.erase(it);
  }
}

void Writes::fail_expired(std::chrono::steady_clock::time_point now) {
  for (auto& [key, w] : writes_.take_expired(now)) {
    fail(host_, w, Code::kUnknown, "deadline passed before the write applied");
    metrics_.proposals_failed.inc();
  }
  for (auto& [nonce, w] : registrations_.take_expired(now)) {
    fail(host_, w, Code::kUnknown, "deadline passed");
  }
}

uint64_t Writes::fail_batch(const std::vector<WriteKey>& writes, const std::vector<uint64_t>& nonces,
                            Code code, const std::string& why) {
  uint64_t answered = 0;
  for (const WriteKey& k : writes) {
    if (std::optional<Waiting<>> w = writes_.take(k)) {
      fail(host_, *w, code, why);
      ++answered;
    }
  }
  for (uint64_t nonce : nonces) {
    if (std::optional<Waiting<>> w = registrations_.take(nonce)) {
      fail(host_, *w, code, why);
    }
  }
  return answered;
}

}  // namespace castor::kv

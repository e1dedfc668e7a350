#include "raft/outbox.h"

#include <utility>

#include "raft/base/assert.h"

namespace castor::raft {

void Outbox::start_from(const SoftState& soft, const pb::HardState& hard) {
  reported_soft_ = soft;
  reported_hard_ = hard;
}

void Outbox::send(pb::Message m, Role role) {
  // Thesis 10.2.1: a leader's outgoing traffic acknowledges nothing of its own unsynced state,
  // so it may leave before the leader's fsync. Everything else waits for the persist step.
  const pb::MessageType t = m.type();
  const bool early =
      (role == Role::kLeader && (t == pb::MSG_APP || t == pb::MSG_HEARTBEAT || t == pb::MSG_SNAP ||
                                 t == pb::MSG_TIMEOUT_NOW || t == pb::MSG_READ_INDEX_RESP)) ||
      (planted_bug_ == PlantedBug::kVoteBeforePersist && t == pb::MSG_VOTE_RESP);
  (early ? early_messages_ : messages_).push_back(std::move(m));
}

void Outbox::add_read(ReadState read) { reads_.push_back(std::move(read)); }

void Outbox::install_snapshot(pb::Snapshot snapshot) { snapshot_ = std::move(snapshot); }

bool Outbox::hard_state_changed(const pb::HardState& hard) const {
  return hard.term() != reported_hard_.term() || hard.vote() != reported_hard_.vote() ||
         hard.commit() != reported_hard_.commit();
}

bool Outbox::has_ready(const SoftState& soft, const pb::HardState& hard) const {
  return soft != reported_soft_ || hard_state_changed(hard) || snapshot_ || !messages_.empty() ||
         !early_messages_.empty() || !reads_.empty();
}

Ready Outbox::take(const SoftState& soft, const pb::HardState& hard) {
  CASTOR_ASSERT(!awaiting_advance_, "ready() called twice without advance()");
  Ready rd;
  if (soft != reported_soft_) {
    rd.soft_state = soft;
    reported_soft_ = soft;
  }
  if (hard_state_changed(hard)) {
    rd.hard_state = hard;
    reported_hard_ = hard;
  }
  rd.snapshot = snapshot_;
  rd.early_messages = std::move(early_messages_);
  rd.messages = std::move(messages_);
  rd.reads = std::move(reads_);
  early_messages_.clear();
  messages_.clear();
  reads_.clear();
  awaiting_advance_ = true;
  return rd;
}

void Outbox::advance(const Ready& rd) {
  awaiting_advance_ = false;
  // A newer snapshot may have arrived while the host installed this one (the leader compacted
  // past it); that one still waits for the next Ready.
  if (rd.snapshot && snapshot_ && snapshot_->meta().index() == rd.snapshot->meta().index()) {
    snapshot_.reset();
  }
}

}  // namespace castor::raft

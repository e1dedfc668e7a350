#include "raft/progress.h"

#include <algorithm>

namespace castor::raft {

void Progress::become_probe() {
  next = match + 1;
  state = State::kProbe;
  probe_sent = false;
  inflight_.clear();
}

void Progress::lost_entries(LogIndex last) {
  match = std::min(match, last);
  become_probe();
}

void Progress::become_replicate() {
  state = State::kReplicate;
  next = match + 1;
  probe_sent = false;
  inflight_.clear();
}

void Progress::become_snapshot(LogIndex index, Term term) {
  state = State::kSnapshot;
  snapshot_index = index;
  snapshot_term = term;
  snapshot_offset = 0;
  snapshot_offset_at_heartbeat = UINT64_MAX;
  probe_sent = false;
  inflight_.clear();
}

bool Progress::maybe_update(LogIndex n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  while (!inflight_.empty() && inflight_.front() <= n) inflight_.pop_front();
  return updated;
}

bool Progress::maybe_decrease_to(LogIndex rejected, LogIndex hint) {
  if (state == State::kReplicate) {
    // A rejection at or below match is stale (reordered or duplicated): ignore it.
    if (rejected <= match) return false;
    become_probe();
  } else if (next - 1 != rejected) {
    // Probing: only the rejection of the append we last sent counts.
    return false;
  }
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::sent_append(LogIndex last, bool had_entries) {
  if (state == State::kReplicate) {
    if (had_entries) {
      next = last + 1;
      inflight_.push_back(last);
    }
  } else if (state == State::kProbe) {
    probe_sent = true;
  }
}

void Progress::free_first_inflight() {
  if (!inflight_.empty()) inflight_.pop_front();
}

bool Progress::is_paused() const {
  switch (state) {
    case State::kProbe:
      return probe_sent;
    case State::kReplicate:
      return inflight_.size() >= inflight_max_;
    case State::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace castor::raft

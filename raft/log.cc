#include "raft/log.h"

#include <algorithm>

#include "raft/base/assert.h"

namespace castor::raft {

RaftLog::RaftLog(const LogReader& durable)
    : durable_(durable),
      unstable_offset_(durable.last_index() + 1),
      committed_(std::max(durable.hard_state().commit(), durable.snapshot_meta().index())),
      applied_(durable.snapshot_meta().index()) {
  CASTOR_ASSERT(committed_ <= durable.last_index(), "hard state commits past the end of the log");
}

LogIndex RaftLog::first_index() const {
  if (pending_snapshot_) return LogIndex(pending_snapshot_->index() + 1);
  return durable_.first_index();
}

LogIndex RaftLog::last_index() const { return unstable_offset_ + unstable_.size() - 1; }

std::optional<Term> RaftLog::term(LogIndex i) const {
  if (pending_snapshot_ && i.value <= pending_snapshot_->index()) {
    if (i.value == pending_snapshot_->index()) return Term(pending_snapshot_->term());
    return std::nullopt;
  }
  if (i >= unstable_offset_) {
    if (i > last_index()) return std::nullopt;
    return Term(unstable_[i - unstable_offset_].term());
  }
  return durable_.term(i);
}

bool RaftLog::is_up_to_date(LogIndex last, Term last_t) const {
  return last_t > last_term() || (last_t == last_term() && last >= last_index());
}

std::optional<std::vector<pb::Entry>> RaftLog::entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const {
  if (lo < first_index()) return std::nullopt;
  hi = std::min(hi, last_index() + 1);
  std::vector<pb::Entry> out;
  if (lo >= hi) return out;
  if (lo < unstable_offset_) {
    out = durable_.entries(lo, std::min(hi, unstable_offset_), bytes_max);
    if (LogIndex(out.back().index()) + 1 < std::min(hi, unstable_offset_)) return out;  // byte limit hit
  }
  uint64_t bytes = 0;
  for (const auto& e : out) bytes += e.data().size();
  for (LogIndex i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const pb::Entry& e = unstable_[i - unstable_offset_];
    bytes += e.data().size();
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::truncate_and_append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  const LogIndex after(entries.front().index());
  CASTOR_ASSERT(after > committed_, "an append would replace a committed entry");
  CASTOR_ASSERT(after <= last_index() + 1, "an append would leave a gap in the log");
  if (after <= unstable_offset_) {
    // Replaces the unstable tail and part of the durable log: the host overwrites that suffix.
    unstable_offset_ = after;
    unstable_.clear();
  } else {
    unstable_.resize(after - unstable_offset_);
  }
  unstable_.insert(unstable_.end(), entries.begin(), entries.end());
}

std::optional<LogIndex> RaftLog::find_conflict(const std::vector<pb::Entry>& entries) const {
  for (const auto& e : entries) {
    if (!match_term(LogIndex(e.index()), Term(e.term()))) return LogIndex(e.index());
  }
  return std::nullopt;
}

LogIndex RaftLog::find_conflict_by_term(LogIndex index, Term t) const {
  for (LogIndex i = std::min(index, last_index()); i.value > 0; i = i - 1) {
    std::optional<Term> ti = term(i);
    if (!ti || *ti <= t) return i;
  }
  return LogIndex(0);
}

void RaftLog::commit_to(LogIndex i) {
  if (i <= committed_) return;
  CASTOR_ASSERT(i <= last_index(), "commit index beyond the last entry");
  committed_ = i;
}

void RaftLog::applied_to(LogIndex i) {
  CASTOR_ASSERT(i >= applied_, "applied index must move forward");
  CASTOR_ASSERT(i <= committed_, "applied index must stay within commit");
  applied_ = i;
}

LogIndex RaftLog::stable_last() const { return std::min(durable_.last_index(), unstable_offset_ - 1); }

void RaftLog::stable_to(LogIndex i, Term t) {
  if (i < unstable_offset_ || i > last_index() || term(i) != t) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<long>(i - unstable_offset_ + 1));
  unstable_offset_ = i + 1;
}

void RaftLog::restore(const pb::SnapshotMeta& meta) {
  pending_snapshot_ = meta;
  unstable_.clear();
  unstable_offset_ = LogIndex(meta.index() + 1);
  committed_ = LogIndex(meta.index());
}

void RaftLog::snapshot_installed(LogIndex i) {
  if (!pending_snapshot_ || pending_snapshot_->index() != i.value) return;
  pending_snapshot_.reset();
  applied_ = i;
}

bool RaftLog::has_next_committed() const {
  return !pending_snapshot_ && std::min(committed_, stable_last()) > applied_;
}

std::vector<pb::Entry> RaftLog::next_committed(uint64_t bytes_max) const {
  if (!has_next_committed()) return {};
  const LogIndex hi = std::min(committed_, stable_last()) + 1;
  auto out = entries(applied_ + 1, hi, bytes_max);
  CASTOR_ASSERT(out.has_value(), "committed entries not yet handed out were compacted away by the host");
  return std::move(*out);
}

}  // namespace castor::raft

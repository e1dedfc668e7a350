#include "raft/memory_log.h"

#include "raft/base/assert.h"
#include "raft/base/crc32c.h"

namespace castor::raft {

MemoryLog::MemoryLog(pb::ConfState bootstrap_conf) {
  *snapshot_.mutable_meta()->mutable_conf() = std::move(bootstrap_conf);
}

LogIndex MemoryLog::last_index() const { return LogIndex(snapshot_.meta().index() + entries_.size()); }

std::optional<Term> MemoryLog::term(LogIndex i) const {
  const uint64_t snap = snapshot_.meta().index();
  if (i.value == snap) return Term(snapshot_.meta().term());
  if (i.value < snap || i > last_index()) return std::nullopt;
  return Term(entries_[i.value - snap - 1].term());
}

std::vector<pb::Entry> MemoryLog::entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const {
  CASTOR_ASSERT(lo >= first_index(), "entries range starts before the log");
  CASTOR_ASSERT(hi <= last_index() + 1, "entries range ends past the log");
  std::vector<pb::Entry> out;
  uint64_t bytes = 0;
  for (LogIndex i = lo; i < hi; ++i) {
    const pb::Entry& e = entries_[i.value - snapshot_.meta().index() - 1];
    bytes += e.data().size();
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(e);
  }
  return out;
}

std::string MemoryLog::snapshot_chunk(uint64_t offset, uint64_t bytes_max) const {
  const std::string& data = snapshot_.data();
  if (offset >= data.size()) return {};
  return data.substr(offset, bytes_max);
}

void MemoryLog::append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries) {
  if (hs) hard_state_ = *hs;
  if (entries.empty()) return;
  const LogIndex first(entries.front().index());
  CASTOR_ASSERT(first >= first_index(), "append rewrites the snapshot");
  CASTOR_ASSERT(first <= last_index() + 1, "append leaves a gap");
  entries_.resize(first.value - snapshot_.meta().index() - 1);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

void MemoryLog::install_snapshot(const pb::Snapshot& snapshot) {
  snapshot_ = snapshot;
  entries_.clear();
}

void MemoryLog::save_snapshot(pb::SnapshotMeta meta, std::string data) {
  const uint64_t old = snapshot_.meta().index();
  CASTOR_ASSERT(meta.index() >= old, "snapshot older than the current one");
  CASTOR_ASSERT(LogIndex(meta.index()) <= last_index(), "snapshot past the end of the log");
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(meta.index() - old));
  meta.set_data_bytes(data.size());
  meta.set_data_crc32c(crc32c_extend(0, data));
  *snapshot_.mutable_meta() = std::move(meta);
  snapshot_.set_data(std::move(data));
}

}  // namespace castor::raft

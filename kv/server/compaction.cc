#include "kv/server/compaction.h"

namespace castor::kv {

bool Compaction::due(raft::LogIndex applied, bool log_nearly_full) const {
  if (taking_ || waiting_) return false;  // one at a time, until it is compacted
  return applied >= snapshot_index_ + every_entries_ || (log_nearly_full && applied > snapshot_index_);
}

void Compaction::taken(SnapshotInfo info, std::string data) {
  taking_ = false;
  waiting_.emplace(info, std::move(data));
}

Result<bool> Compaction::compact(raft::LogIndex core_applied, raft::LmdbLog& log) {
  if (!waiting_ || waiting_->first.index > core_applied) return false;
  auto [info, data] = std::move(*waiting_);
  waiting_.reset();
  if (info.index.value <= log.snapshot_meta().index()) return false;  // a leader's was newer
  raft::pb::SnapshotMeta meta;
  meta.set_index(info.index.value);
  meta.set_term(info.term.value);
  *meta.mutable_conf() = log.conf_state();
  if (Status s = log.save_snapshot(meta, data); !s.is_ok()) return s;
  snapshot_index_ = info.index;
  return true;
}

}  // namespace castor::kv

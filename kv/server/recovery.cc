#include "kv/server/recovery.h"

#include <algorithm>

namespace castor::kv {

Status reconcile(const raft::LmdbLog& log, StateMachine& state, const std::filesystem::path& data_dir) {
  const uint64_t snap = log.snapshot_meta().index();
  if (state.applied_index().value < snap) {
    std::string data = log.snapshot_chunk(0, UINT64_MAX);
    bool done = false;
    auto restored = state.restore([&]() -> Result<std::string> {
      if (done) return std::string();
      done = true;
      return std::move(data);
    });
    if (!restored.is_ok()) return restored.status();
  }
  // The stored commit index may lag what was applied (the server defers commit-only hard
  // states, kv/server/server.cc), but every applied entry was durable in this log first.
  const uint64_t last = log.last_index().value;
  if (state.applied_index().value > std::max(last, snap)) {
    return Status(Code::kCorruption, "the state machine in " + data_dir.string() + " has applied index " +
                                         std::to_string(state.applied_index().value) +
                                         " past the log's last index " + std::to_string(last) +
                                         ": the log lost acknowledged entries. Move the data directory aside "
                                         "and let the node rejoin from its peers (docs/RUNBOOK.md).");
  }
  return Status::ok();
}

}  // namespace castor::kv

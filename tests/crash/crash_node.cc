#include "tests/crash/crash_node.h"

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "raft/storage/durable_dir.h"

namespace castor::crash {
namespace {

// Large enough that a restart applies its backlog in a few transactions, small enough that a
// backlog never has to be held in memory at once.
constexpr uint64_t kApplyChunkBytes = uint64_t{1} << 20;

}  // namespace

Result<CrashNode> open_node(const std::filesystem::path& dir, Unsafe unsafe) {
  std::error_code ec;
  const bool fresh = !std::filesystem::exists(dir / "log", ec) && !std::filesystem::exists(dir / "kv", ec);
  // Durably, as castord: on a disk that loses power (castor-crash --power-loss) a directory
  // whose name was never fsynced vanishes with every acknowledged entry in it.
  if (Status s = raft::create_dirs_durably(dir); !s.is_ok()) return s;

  auto log = open_log(dir, fresh, unsafe.skip_fsync);
  if (!log.is_ok()) return log.status();

  kv::StateMachineOptions so;
  so.data_dir = dir.string();
  so.unsafe_skip_dedup = unsafe.skip_dedup;
  auto state = kv::StateMachine::open(so);
  if (!state.is_ok()) return state.status();

  if (Status s = kv::reconcile(**log, **state, dir); !s.is_ok()) return s;
  return CrashNode{std::move(*log), std::move(*state)};
}

Result<std::unique_ptr<raft::LmdbLog>> open_log(const std::filesystem::path& dir, bool create_if_missing,
                                                bool unsafe_skip_fsync) {
  raft::LmdbLog::Options lo;
  lo.data_dir = dir;
  lo.create_if_missing = create_if_missing;
  lo.unsafe_skip_fsync = unsafe_skip_fsync;
  lo.bootstrap_conf.add_voters(1);
  return raft::LmdbLog::open(lo);
}

Status apply_committed(const raft::LmdbLog& log, kv::StateMachine& state) {
  const raft::LogIndex end(log.hard_state().commit() + 1);
  for (raft::LogIndex next = state.applied_index() + 1; next < end;) {
    // Never empty: entries() returns at least one entry however large.
    const std::vector<raft::pb::Entry> chunk = log.entries(next, end, kApplyChunkBytes);
    auto applied = state.apply(chunk);
    if (!applied.is_ok()) return applied.status();
    next = next + chunk.size();
  }
  return Status::ok();
}

}  // namespace castor::crash

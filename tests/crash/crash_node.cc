#include "tests/crash/crash_node.h"

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

namespace castor::crash {
namespace {

// Large enough that a restart applies its backlog in a few transactions, small enough that a
// backlog never has to be held in memory at once.
constexpr uint64_t kApplyChunkBytes = uint64_t{1} << 20;

}  // namespace

Result<CrashNode> open_node(const std::filesystem::path& dir, bool unsafe_skip_dedup) {
  std::error_code ec;
  const bool fresh = !std::filesystem::exists(dir / "log", ec) && !std::filesystem::exists(dir / "kv", ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "cannot create " + dir.string() + ": " + ec.message());

  raft::LmdbLog::Options lo;
  lo.data_dir = dir;
  lo.create_if_missing = fresh;
  lo.bootstrap_conf.add_voters(1);
  auto log = raft::LmdbLog::open(lo);
  if (!log.is_ok()) return log.status();

  kv::StateMachineOptions so;
  so.data_dir = dir.string();
  so.unsafe_skip_dedup = unsafe_skip_dedup;
  auto state = kv::StateMachine::open(so);
  if (!state.is_ok()) return state.status();

  if (Status s = kv::reconcile(**log, **state, dir); !s.is_ok()) return s;
  return CrashNode{std::move(*log), std::move(*state)};
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

#include "kv/server/health.h"

namespace castor::kv {

void CommitWatch::observe(bool waiting, uint64_t commit, Clock::time_point now) {
  if (!waiting || commit != commit_) {
    commit_ = commit;
    moved_at_ = now;
  }
}

std::optional<CommitWatch::Clock::duration> CommitWatch::stalled(bool waiting, uint64_t commit,
                                                                 Clock::time_point now,
                                                                 Clock::duration bound) const {
  if (!waiting || commit != commit_) return std::nullopt;
  const Clock::duration still = now - moved_at_;
  if (still <= bound) return std::nullopt;
  return still;
}

std::string unhealthy_reason(const HealthFacts& f) {
  if (f.stopping) return "shutting down";
  if (f.leader == 0) return "no leader (role " + std::string(raft::role_name(f.role)) + ")";
  if (f.commit > f.applied && f.commit - f.applied >= f.apply_lag_max) {
    return "applied index " + std::to_string(f.applied) + " trails commit index " + std::to_string(f.commit) +
           " by " + std::to_string(f.commit - f.applied) + " entries (bound " +
           std::to_string(f.apply_lag_max) + ")";
  }
  if (!f.storage_full.empty()) return f.storage_full;
  if (f.commit_stalled) {
    const auto stalled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*f.commit_stalled).count();
    return "the commit index " + std::to_string(f.commit) + " has not moved for " +
           std::to_string(stalled_ms) + " ms while " + std::to_string(f.last_index - f.commit) +
           " entries wait: the followers are not taking them (see castor_rejected_total and the peers' logs)";
  }
  return "";
}

}  // namespace castor::kv

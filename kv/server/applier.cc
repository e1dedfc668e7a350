#include "kv/server/applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "kv/server/failpoints.h"

namespace castor::kv {

using Clock = std::chrono::steady_clock;

Applier::Applier(StateMachine& sm, ServerMetrics& metrics, ApplierHost& host)
    : sm_(sm),
      metrics_(metrics),
      host_(host),
      applied_(sm.applied_index()),
      queue_([this](std::vector<raft::pb::Entry> entries) { apply_batch(entries); },
             [this] { commit_applied(); }, ApplyQueue::Options{}) {}

void Applier::apply(std::vector<raft::pb::Entry> committed) { queue_.apply(std::move(committed)); }

void Applier::install(const raft::pb::Snapshot& snapshot) {
  auto data = std::make_shared<std::string>(snapshot.data());
  queue_.run([this, data] {
    bool done = false;
    Result<SnapshotInfo> r = sm_.restore([&]() -> Result<std::string> {
      if (done) return std::string();
      done = true;
      return *data;
    });
    host_.post([this, r] {
      if (!r.is_ok()) return host_.apply_failed(r.status());
      metrics_.snapshots_installed.inc();
      spdlog::info("installed the leader's snapshot at index {}", r->index.value);
      move_applied(r->index, r->index);
    });
  });
}

void Applier::take_snapshot() {
  queue_.run([this] {
    // The state machine's last transactions reach the disk before the log forgets the
    // entries that produced them.
    Status synced = sm_.sync();
    std::string data;
    auto sink = [&data](std::string_view chunk) {
      data.append(chunk);
      return Status::ok();
    };
    Result<SnapshotInfo> info = synced.is_ok() ? sm_.snapshot(1 << 20, sink) : Result<SnapshotInfo>(synced);
    host_.post(
        [this, info, data = std::move(data)]() mutable { host_.snapshot_taken(info, std::move(data)); });
  });
}

// On the apply thread: the entries of one or more Readies, applied without committing.
void Applier::apply_batch(const std::vector<raft::pb::Entry>& entries) {
  failpoint("before-apply");
  // Writers are answered before the state machine's commit: the entries are committed, so the
  // Raft log already makes the answers durable (StateMachine::apply_uncommitted). Reads wait
  // for the applied index, which moves after the commit.
  Status s = sm_.apply_uncommitted(entries, [this](AppliedBatch batch) {
    if (batch.answers.empty() && batch.events.empty()) return;  // no-op and configuration entries
    host_.post([this, batch = std::move(batch)]() mutable { host_.batch_applied(std::move(batch)); });
  });
  if (!s.is_ok()) host_.post([this, s] { host_.apply_failed(s); });
}

// On the apply thread: what apply_batch applied since the last commit, durable and readable.
void Applier::commit_applied() {
  const auto start = Clock::now();
  Status s = sm_.commit();
  metrics_.apply.observe(std::chrono::duration<double>(Clock::now() - start).count());
  failpoint("after-apply");
  const raft::LogIndex applied = sm_.applied_index();
  host_.post([this, s, applied] {
    if (!s.is_ok()) return host_.apply_failed(s);
    move_applied(applied, std::nullopt);
  });
}

void Applier::move_applied(raft::LogIndex to, std::optional<raft::LogIndex> snapshot) {
  applied_ = std::max(applied_, to);
  host_.applied_moved(snapshot);
}

}  // namespace castor::kv

#include "raft/follower.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "raft/base/assert.h"

namespace castor::raft {

pb::Message Follower::append(const pb::Message& m) {
  pb::Message resp;
  resp.set_type(pb::MSG_APP_RESP);
  resp.set_to(m.from());
  const LogIndex prev(m.index());
  if (prev < log_.committed()) {
    // Everything up to our commit index is already the leader's; say so.
    resp.set_index(log_.committed().value);
    return resp;
  }
  if (!log_.match_term(prev, Term(m.log_term()))) {
    // Paper 5.3: the consistency check failed. Hint where our log could match.
    const LogIndex hint = log_.find_conflict_by_term(prev, Term(m.log_term()));
    resp.set_reject(true);
    resp.set_index(prev.value);
    resp.set_reject_hint(hint.value);
    resp.set_log_term(log_.term(hint).value_or(Term(0)).value);
    return resp;
  }
  std::vector<pb::Entry> entries(m.entries().begin(), m.entries().end());
  const LogIndex last_new = prev + entries.size();
  if (std::optional<LogIndex> conflict = log_.find_conflict(entries)) {
    CASTOR_ASSERT(*conflict > log_.committed(), "leader sent an entry conflicting with a committed one");
    std::vector<pb::Entry> tail(entries.begin() + static_cast<long>(*conflict - (prev + 1)), entries.end());
    if (planted_bug_ == PlantedBug::kKeepConflictingSuffix && *conflict <= log_.last_index()) {
      // Planted bug: keep our old entries after the new ones instead of truncating them.
      if (auto old = log_.entries(LogIndex(tail.back().index() + 1), log_.last_index() + 1, UINT64_MAX)) {
        tail.insert(tail.end(), old->begin(), old->end());
      }
    }
    log_.truncate_and_append(tail);
  }
  // Paper figure 2: commit = min(leaderCommit, index of last new entry).
  log_.commit_to(std::min(LogIndex(m.commit()), last_new));
  resp.set_index(last_new.value);
  return resp;
}

pb::Message Follower::heartbeat(const pb::Message& m) {
  // The leader sends min(its commit, our match), which our log is known to hold, unless this
  // node lost its disk and was restarted empty under the same id (docs/RUNBOOK.md): then the
  // leader's idea of our match is stale, and we commit only what we hold. Its appends will be
  // refused and it will fall back to sending a snapshot.
  log_.commit_to(std::min(LogIndex(m.commit()), log_.last_index()));
  pb::Message resp;
  resp.set_type(pb::MSG_HEARTBEAT_RESP);
  resp.set_to(m.from());
  if (LogIndex(m.commit()) > log_.last_index()) {
    // Tell the leader its idea of our log is wrong, or it would never send us anything again.
    resp.set_reject(true);
    resp.set_reject_hint(log_.last_index().value);
  }
  resp.set_read_round(m.read_round());
  return resp;
}

pb::Message Follower::snapshot_chunk(const pb::Message& m, std::optional<pb::Snapshot>& install) {
  const pb::SnapshotMeta& meta = m.snapshot_meta();
  SnapshotReceiver::Received got = receiver_.receive(meta, m.snapshot_offset(), m.snapshot_chunk());
  pb::Message resp;
  resp.set_to(m.from());
  if (!got.snapshot) {
    resp.set_type(pb::MSG_SNAP_RESP);
    resp.set_index(meta.index());
    resp.set_reject(got.reject);
    resp.set_snapshot_offset(got.offset);
    return resp;
  }

  // The whole snapshot is here (paper 7). The last chunk is answered like an append.
  resp.set_type(pb::MSG_APP_RESP);
  const LogIndex index(meta.index());
  if (index <= log_.committed()) {
    resp.set_index(log_.committed().value);
  } else if (log_.match_term(index, Term(meta.term()))) {
    // Our log already holds the snapshot's last entry: keep the log, just commit.
    log_.commit_to(index);
    resp.set_index(index.value);
  } else {
    log_.restore(meta);
    install = std::move(got.snapshot);
    resp.set_index(index.value);
  }
  return resp;
}

}  // namespace castor::raft

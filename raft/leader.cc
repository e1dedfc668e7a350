#include "raft/leader.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "raft/quorum.h"

namespace castor::raft {

Leader::Leader(Term term, const Config& cfg, const LogReader& durable, RaftLog& log,
               const std::vector<NodeId>& voters, Outbox& outbox, std::function<void(pb::Message)> send)
    : term_(term),
      cfg_(cfg),
      durable_(durable),
      log_(log),
      voters_(voters),
      outbox_(outbox),
      send_(std::move(send)) {
  for (NodeId v : voters_) {
    Progress pr(log_.last_index() + 1, cfg_.inflight_appends_max);
    // A new leader assumes every follower is alive, so check-quorum gives them a full timeout.
    pr.recent_active = true;
    progress_.emplace(v, pr);
  }
  progress_.at(cfg_.id).match = log_.stable_last();
  // Paper 5.4.2 / thesis 6.4: a no-op entry of the new term lets the leader commit (and learn
  // the commit index) without waiting for a client write.
  append_entry(pb::ENTRY_NOOP, {});
}

// ---------------------------------------------------------------------------------------------
// Requests

Result<Proposal> Leader::propose(std::string data) {
  if (transferee_ != kNoNode) return Status(Code::kDropped, "leadership transfer in progress");
  if (data.size() > cfg_.entry_bytes_max) {
    return Status(Code::kTooLarge, "an entry of " + std::to_string(data.size()) +
                                       " bytes exceeds entry_bytes_max " +
                                       std::to_string(cfg_.entry_bytes_max));
  }
  if (log_.last_index() - log_.committed() >= cfg_.uncommitted_entries_max) {
    return Status(Code::kDropped, "too many uncommitted entries");
  }
  append_entry(pb::ENTRY_NORMAL, std::move(data));
  return Proposal{log_.last_index(), term_};
}

void Leader::read(ReadRequest request) {
  if (cfg_.planted_bug == PlantedBug::kReadWithoutHeartbeat) {
    release_read(log_.committed(), std::move(request));
    return;
  }
  if (log_.term(log_.committed()) != term_) {
    reads_.hold(std::move(request));
  } else {
    reads_.add(log_.committed(), std::move(request));
  }
}

bool Leader::transfer_to(NodeId to) {
  const bool is_new = transferee_ != to;
  transferee_ = to;
  if (progress_.at(to).match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, true);
  }
  return is_new;
}

// ---------------------------------------------------------------------------------------------
// Messages in

void Leader::step(const pb::Message& m) {
  auto it = progress_.find(NodeId(m.from()));
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  switch (m.type()) {
    case pb::MSG_APP_RESP:
      pr.recent_active = true;
      handle_append_response(m, pr);
      break;
    case pb::MSG_HEARTBEAT_RESP:
      pr.recent_active = true;
      handle_heartbeat_response(m, pr);
      break;
    case pb::MSG_SNAP_RESP:
      pr.recent_active = true;
      handle_snapshot_response(m, pr);
      break;
    case pb::MSG_READ_INDEX:
      read({m.context(), NodeId(m.from())});
      break;
    default:
      break;
  }
}

void Leader::handle_append_response(const pb::Message& m, Progress& pr) {
  const NodeId from(m.from());
  if (m.reject()) {
    // Paper 5.3 with the conflict-term optimization: jump back past the follower's whole
    // conflicting term instead of one entry per round trip.
    LogIndex hint(m.reject_hint());
    if (m.log_term() > 0) hint = log_.find_conflict_by_term(hint, Term(m.log_term()));
    if (pr.maybe_decrease_to(LogIndex(m.index()), hint)) send_append(from, true);
    return;
  }
  const bool was_paused = pr.is_paused();
  if (!pr.maybe_update(LogIndex(m.index()))) {
    if (was_paused && !pr.is_paused()) send_appends_while_possible(from);
    return;
  }
  // The follower's log matches ours up to match: stream to it from there.
  if (pr.state == Progress::State::kProbe ||
      (pr.state == Progress::State::kSnapshot && pr.match >= pr.snapshot_index)) {
    pr.become_replicate();
  }
  if (maybe_commit()) {
    bcast_append(true);
  } else {
    send_appends_while_possible(from);
  }
  // Thesis 3.10: the target has caught up; tell it to campaign now.
  if (from == transferee_ && pr.match == log_.last_index()) send_timeout_now(from);
}

void Leader::handle_heartbeat_response(const pb::Message& m, Progress& pr) {
  const NodeId from(m.from());
  pr.probe_sent = false;
  if (m.reject() && LogIndex(m.reject_hint()) < pr.match) {
    pr.lost_entries(LogIndex(m.reject_hint()));
    send_append(from, true);
  } else if (pr.state == Progress::State::kSnapshot) {
    // The follower is alive. If no chunk was acknowledged since its previous heartbeat
    // answer, the chunk in flight was probably lost: resend from its last ack. (A slow
    // link thus gets at most one duplicate chunk per two heartbeats, not one per beat.)
    if (pr.snapshot_offset == pr.snapshot_offset_at_heartbeat) send_snapshot_chunk(from, pr);
    pr.snapshot_offset_at_heartbeat = pr.snapshot_offset;
  } else if (pr.match < log_.last_index()) {
    if (pr.state == Progress::State::kReplicate && pr.is_paused()) pr.free_first_inflight();
    send_append(from, true);
  }
  if (const uint64_t round = confirmed_round(m); round > pr.read_round_acked) {
    pr.read_round_acked = round;
    try_release_reads();
  }
}

void Leader::handle_snapshot_response(const pb::Message& m, Progress& pr) {
  if (pr.state != Progress::State::kSnapshot || m.index() != pr.snapshot_index.value) return;
  const NodeId from(m.from());
  if (m.reject()) {
    pr.snapshot_offset = 0;
    send_snapshot_chunk(from, pr);
  } else if (m.snapshot_offset() > pr.snapshot_offset) {
    // Only a strictly newer ack moves on, so a duplicated ack cannot multiply chunks.
    pr.snapshot_offset = m.snapshot_offset();
    send_snapshot_chunk(from, pr);
  }
}

// ---------------------------------------------------------------------------------------------
// Reads (thesis 6.4)

// The read round a heartbeat reply confirms: the round of the heartbeat it answers (thesis
// 6.4), never a later one, since the reply may have left before that round's reads arrived.
uint64_t Leader::confirmed_round(const pb::Message& reply) const {
  if (cfg_.planted_bug == PlantedBug::kAnyHeartbeatReplyConfirmsRead) return reads_.last_round();
  return reply.read_round();
}

void Leader::try_release_reads() {
  std::vector<uint64_t> acked;
  for (const auto& [id, pr] : progress_)
    acked.push_back(id == cfg_.id ? reads_.last_round() : pr.read_round_acked);
  for (auto& r : reads_.release_confirmed(std::move(acked))) release_read(r.index, std::move(r.request));
}

void Leader::release_read(LogIndex index, ReadRequest request) {
  if (request.from == cfg_.id) {
    outbox_.add_read({index, std::move(request.context)});
    return;
  }
  pb::Message m;
  m.set_type(pb::MSG_READ_INDEX_RESP);
  m.set_to(request.from.value);
  m.set_index(index.value);
  m.set_context(std::move(request.context));
  send_(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Time and the Ready cycle

void Leader::tick_heartbeat() {
  if (++heartbeat_elapsed_ < cfg_.heartbeat_interval_ticks) return;
  heartbeat_elapsed_ = 0;
  bcast_heartbeat();
}

bool Leader::quorum_active() {
  size_t active = 0;
  for (auto& [id, pr] : progress_) {
    if (id == cfg_.id || pr.recent_active) ++active;
    if (id != cfg_.id) pr.recent_active = false;
  }
  return active >= majority(voters_.size());
}

void Leader::flush() {
  if (needs_bcast_) {
    bcast_append(false);
    needs_bcast_ = false;
  }
  // Reads that arrived since the last Ready share one heartbeat round (thesis 6.4).
  if (reads_.flush() != 0) {
    if (voters_.size() == 1) {
      try_release_reads();
    } else {
      bcast_heartbeat();
    }
  }
}

void Leader::persisted() {
  // Thesis 10.2.1: the leader counts itself toward commit only once its own write is durable.
  if (progress_.at(cfg_.id).maybe_update(log_.stable_last()) && maybe_commit()) bcast_append(true);
}

// ---------------------------------------------------------------------------------------------
// Replication

void Leader::append_entry(pb::EntryType type, std::string data) {
  pb::Entry e;
  e.set_term(term_.value);
  e.set_index((log_.last_index() + 1).value);
  e.set_type(type);
  e.set_data(std::move(data));
  log_.truncate_and_append({std::move(e)});
  needs_bcast_ = true;
}

bool Leader::maybe_commit() {
  std::vector<LogIndex> matches;
  for (NodeId v : voters_) matches.push_back(progress_.at(v).match);
  const LogIndex index = quorum_index(std::move(matches));
  if (index <= log_.committed()) return false;
  // Paper 5.4.2: only an entry of the leader's own term commits by counting replicas.
  if (log_.term(index) != term_ && cfg_.planted_bug != PlantedBug::kCommitOldTermByCounting) return false;
  log_.commit_to(index);
  if (log_.term(index) == term_) reads_.own_term_committed(index);
  return true;
}

bool Leader::send_append(NodeId to, bool allow_empty) {
  Progress& pr = progress_.at(to);
  if (pr.is_paused()) return false;
  const LogIndex prev = pr.next - 1;
  const std::optional<Term> prev_term = log_.term(prev);
  auto entries = log_.entries(pr.next, log_.last_index() + 1, cfg_.append_bytes_max);
  if (!prev_term || !entries) {
    // Paper 7: what this follower needs is compacted away; send the snapshot instead.
    const pb::SnapshotMeta meta = durable_.snapshot_meta();
    pr.become_snapshot(LogIndex(meta.index()), Term(meta.term()));
    send_snapshot_chunk(to, pr);
    return true;
  }
  if (entries->empty() && !allow_empty) return false;
  pb::Message m;
  m.set_type(pb::MSG_APP);
  m.set_to(to.value);
  m.set_index(prev.value);
  m.set_log_term(prev_term->value);
  m.set_commit(log_.committed().value);
  const bool had_entries = !entries->empty();
  const LogIndex last = had_entries ? LogIndex(entries->back().index()) : prev;
  for (auto& e : *entries) *m.add_entries() = std::move(e);
  send_(std::move(m));
  pr.sent_append(last, had_entries);
  return true;
}

void Leader::send_appends_while_possible(NodeId to) {
  // Bounded: each append carries at least one entry and the window caps how many are unacked.
  while (progress_.at(to).next <= log_.last_index() && send_append(to, false)) {
  }
}

void Leader::send_snapshot_chunk(NodeId to, Progress& pr) {
  const pb::SnapshotMeta meta = durable_.snapshot_meta();
  if (meta.index() != pr.snapshot_index.value || meta.term() != pr.snapshot_term.value) {
    // The host took a newer snapshot since this stream began: start over with it.
    pr.become_snapshot(LogIndex(meta.index()), Term(meta.term()));
  }
  // A follower's bug may acknowledge bytes past the end. A chunk from there would be refused
  // unanswered (message_check.h) and stall the stream; from the end, it is a chunk of a stream
  // the follower does not hold, which it rejects, and the stream starts over (paper 7).
  pr.snapshot_offset = std::min(pr.snapshot_offset, meta.data_bytes());
  pb::Message m;
  m.set_type(pb::MSG_SNAP);
  m.set_to(to.value);
  *m.mutable_snapshot_meta() = meta;
  m.set_snapshot_offset(pr.snapshot_offset);
  m.set_snapshot_chunk(durable_.snapshot_chunk(pr.snapshot_offset, cfg_.snapshot_chunk_bytes_max));
  m.set_snapshot_done(pr.snapshot_offset + m.snapshot_chunk().size() >= meta.data_bytes());
  send_(std::move(m));
}

void Leader::send_timeout_now(NodeId to) {
  pb::Message m;
  m.set_type(pb::MSG_TIMEOUT_NOW);
  m.set_to(to.value);
  send_(std::move(m));
}

void Leader::bcast_append(bool allow_empty) {
  for (NodeId v : voters_) {
    if (v == cfg_.id) continue;
    if (allow_empty) {
      send_append(v, true);
    } else {
      send_appends_while_possible(v);
    }
  }
}

void Leader::bcast_heartbeat() {
  for (NodeId v : voters_) {
    if (v == cfg_.id) continue;
    const Progress& pr = progress_.at(v);
    pb::Message m;
    m.set_type(pb::MSG_HEARTBEAT);
    m.set_to(v.value);
    m.set_commit(std::min(pr.match, log_.committed()).value);
    m.set_read_round(reads_.last_round());
    send_(std::move(m));
  }
}

}  // namespace castor::raft

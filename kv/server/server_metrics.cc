#include "kv/server/server_metrics.h"

#include <algorithm>

#include "raft/ready.h"

namespace castor::kv {

const char* request_op_name(RequestOp op) {
  switch (op) {
    case RequestOp::kGet:
      return "get";
    case RequestOp::kRange:
      return "range";
    case RequestOp::kPut:
      return "put";
    case RequestOp::kDelete:
      return "delete";
    case RequestOp::kDeleteRange:
      return "delete_range";
    case RequestOp::kTxn:
      return "txn";
    case RequestOp::kRegister:
      return "register";
    case RequestOp::kStatus:
      return "status";
    case RequestOp::kTransferLeader:
      return "transfer_leader";
    case RequestOp::kWatch:
      return "watch";
    case RequestOp::kWatchCancel:
      return "watch_cancel";
    case RequestOp::kCount:
      break;
  }
  return "none";
}

RequestOp request_op_of(const pb::ClientRequest& request) {
  switch (request.request_case()) {
    case pb::ClientRequest::kGet:
      return RequestOp::kGet;
    case pb::ClientRequest::kRange:
      return RequestOp::kRange;
    case pb::ClientRequest::kRegisterClient:
      return RequestOp::kRegister;
    case pb::ClientRequest::kStatus:
      return RequestOp::kStatus;
    case pb::ClientRequest::kTransferLeader:
      return RequestOp::kTransferLeader;
    case pb::ClientRequest::kWatch:
      return RequestOp::kWatch;
    case pb::ClientRequest::kWatchCancel:
      return RequestOp::kWatchCancel;
    case pb::ClientRequest::kWrite:
      switch (request.write().op_case()) {
        case pb::WriteRequest::kPut:
          return RequestOp::kPut;
        case pb::WriteRequest::kDeleteKey:
          return RequestOp::kDelete;
        case pb::WriteRequest::kDeleteRange:
          return RequestOp::kDeleteRange;
        case pb::WriteRequest::kTxn:
          return RequestOp::kTxn;
        case pb::WriteRequest::OP_NOT_SET:
          break;
      }
      break;
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  return RequestOp::kCount;
}

namespace {
const std::vector<double> kLatency = Histogram::latency_buckets_seconds();
constexpr const char* kProposalsHelp =
    "Client writes: taken into the log (accepted); refused before the log (dropped); proposed but not "
    "applied as "
    "such, the entry replaced or the deadline passed (failed).";
}  // namespace

ServerMetrics::ServerMetrics()
    : fsync(registry_.histogram("castor_fsync_duration_seconds",
                                "One Raft log write and its fsync (a Ready's entries and hard state).",
                                kLatency)),
      apply(registry_.histogram("castor_apply_duration_seconds",
                                "One state-machine commit: the LMDB transaction of the entries applied since "
                                "the last, and its fsync.",
                                kLatency)),
      slow_fsyncs(
          registry_.counter("castor_slow_fsyncs_total", "Raft log writes slower than --slow-fsync-ms.")),
      leader_changes(
          registry_.counter("castor_leader_changes_total", "Times this node saw the leader change.")),
      proposals_accepted(
          registry_.counter("castor_proposals_total", kProposalsHelp, {{"outcome", "accepted"}})),
      proposals_dropped(
          registry_.counter("castor_proposals_total", kProposalsHelp, {{"outcome", "dropped"}})),
      proposals_failed(registry_.counter("castor_proposals_total", kProposalsHelp, {{"outcome", "failed"}})),
      snapshots_taken(
          registry_.counter("castor_snapshots_taken_total", "Snapshots this node took to compact its log.")),
      snapshots_installed(registry_.counter("castor_snapshots_installed_total",
                                            "Snapshots this node installed from a leader.")),
      watch{
          registry_.gauge("castor_watchers", "Watches this node serves."),
          registry_.counter("castor_watch_events_sent_total", "Events sent to watchers."),
          registry_.counter("castor_watch_answers_encoded_total",
                            "Watch answers built and encoded; watchers that get the same events share one."),
          registry_.counter("castor_watches_cancelled_total",
                            "Watches this node ended for its own reasons: the client did not read (slow) or "
                            "its start is older than the history kept (compacted).",
                            {{"reason", "slow"}}),
          registry_.counter("castor_watches_cancelled_total",
                            "Watches this node ended for its own reasons: the client did not read (slow) or "
                            "its start is older than the history kept (compacted).",
                            {{"reason", "compacted"}}),
          registry_.histogram("castor_watch_delay_seconds",
                              "From a change applying on this node to its event being queued for a watcher "
                              "that was up to date.",
                              kLatency)} {
  for (size_t i = 0; i < durations_.size(); ++i) {
    durations_[i] = &registry_.histogram("castor_request_duration_seconds",
                                         "Client requests from arrival to answer, on the node that answered.",
                                         kLatency, {{"op", request_op_name(static_cast<RequestOp>(i))}});
  }
}

void ServerMetrics::request(RequestOp op, pb::ErrorCode code, std::chrono::steady_clock::duration took) {
  if (op == RequestOp::kCount) return;
  durations_[static_cast<size_t>(op)]->observe(std::chrono::duration<double>(took).count());
  Counter*& c = requests_[{op, code}];
  if (c == nullptr) {
    c = &registry_.counter("castor_requests_total", "Answered client requests by operation and outcome code.",
                           {{"op", request_op_name(op)}, {"code", pb::ErrorCode_Name(code)}});
  }
  c->inc();
}

void ServerMetrics::add_node_gauges(const pb::StatusResponse& first) {
  auto gauge = [this](const char* name, const char* help, std::function<double()> f,
                      const Labels& labels = {}) {
    registry_.gauge_callback(name, help, labels, std::move(f));
  };
  const pb::StatusResponse& s = scrape_.status;  // read at render time, never `first`
  gauge("castor_info", "Identifies the node: always 1.", [] { return 1.0; },
        {{"node", first.name()}, {"id", std::to_string(first.id())}, {"cluster", first.cluster_id()}});
  gauge("castor_term", "Current Raft term.", [&s] { return double(s.term()); });
  gauge(
      "castor_disk_below_reserve",
      "1 while the data directory's disk has less free space than --disk-reserve-bytes: writes are refused.",
      [this] { return scrape_.disk_low ? 1.0 : 0.0; });
  for (raft::Role role :
       {raft::Role::kLeader, raft::Role::kFollower, raft::Role::kCandidate, raft::Role::kPreCandidate}) {
    std::string label = raft::role_name(role);
    std::replace(label.begin(), label.end(), '-', '_');
    gauge("castor_role", "1 for this node's current Raft role.",
          [&s, role] { return s.role() == raft::role_name(role) ? 1.0 : 0.0; }, {{"role", label}});
  }
  gauge("castor_healthy", "1 when GET /health would answer 200 (a leader seen, applied close to commit).",
        [&s] { return s.healthy() ? 1.0 : 0.0; });
  gauge("castor_is_leader", "1 on the leader.",
        [&s] { return s.role() == raft::role_name(raft::Role::kLeader) ? 1.0 : 0.0; });
  gauge("castor_leader_id", "The leader this node follows; 0 when none.",
        [&s] { return double(s.leader()); });
  gauge("castor_commit_index", "Raft commit index on this node.", [&s] { return double(s.commit()); });
  gauge("castor_applied_index", "Index of the last entry the state machine applied.",
        [&s] { return double(s.applied()); });
  gauge("castor_last_log_index", "Index of the last entry in this node's log.",
        [&s] { return double(s.last_index()); });
  gauge("castor_snapshot_index", "Index of the snapshot the log starts after.",
        [&s] { return double(s.snapshot_index()); });
  gauge("castor_pending_reads", "Linearizable reads waiting for ReadIndex or apply.",
        [this] { return double(scrape_.pending_reads); });
  gauge("castor_pending_writes", "Writes proposed and not yet answered.",
        [this] { return double(scrape_.pending_writes); });
  gauge("castor_log_bytes", "Size of the Raft log's file on disk.", [&s] { return double(s.log_bytes()); });
  gauge("castor_sessions", "Open client sessions (exactly-once writes).",
        [&s] { return double(s.sessions()); });
  for (const pb::PeerStatus& peer : first.peers()) add_peer_gauges(peer);
}

void ServerMetrics::add_peer_gauges(const pb::PeerStatus& peer) {
  const Labels labels{{"peer", peer.name()}};
  // A peer's series read its entry of the scraped status; all zero if it were ever missing.
  auto read = [this, id = peer.id()](auto field) {
    return [this, id, field] {
      const pb::PeerStatus* p = scraped_peer(id);
      return p == nullptr ? 0.0 : double(field(*p));
    };
  };
  registry_.gauge_callback("castor_peer_connected", "1 while this node's connection to the peer is up.",
                           labels, read([](const pb::PeerStatus& p) { return p.connected() ? 1 : 0; }));
  registry_.gauge_callback("castor_peer_round_trip_seconds",
                           "Smoothed round-trip time of peer pings (0 until measured).", labels,
                           read([](const pb::PeerStatus& p) { return p.rtt_seconds(); }));
  registry_.gauge_callback("castor_peer_match_index",
                           "On the leader: the highest index known to be in the peer's log (0 elsewhere).",
                           labels, read([](const pb::PeerStatus& p) { return p.match(); }));
  registry_.gauge_callback("castor_peer_send_queue_depth", "Raft messages queued for the peer.", labels,
                           read([](const pb::PeerStatus& p) { return p.queue_depth(); }));
  registry_.counter_callback(
      "castor_peer_messages_dropped_total",
      "Raft messages dropped because the peer was not connected or its queue was full.", labels,
      read([](const pb::PeerStatus& p) { return p.dropped(); }));
}

const pb::PeerStatus* ServerMetrics::scraped_peer(uint64_t id) const {
  for (const pb::PeerStatus& p : scrape_.status.peers()) {
    if (p.id() == id) return &p;
  }
  return nullptr;
}

void ServerMetrics::count_rejected(const char* listener, const std::map<std::string, uint64_t>& rejected) {
  for (const auto& [reason, n] : rejected) {
    registry_.counter_callback("castor_rejected_total",
                               "Connections or requests refused for bad input, by listener and reason.",
                               {{"listener", listener}, {"reason", reason}}, [&rejected, reason = reason] {
                                 auto it = rejected.find(reason);
                                 return it == rejected.end() ? 0.0 : double(it->second);
                               });
  }
}

std::string ServerMetrics::render(NodeScrape now) {
  scrape_ = std::move(now);
  return registry_.render();
}

}  // namespace castor::kv

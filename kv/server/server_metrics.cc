#include "kv/server/server_metrics.h"

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
                                            "Snapshots this node installed from a leader.")) {
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

}  // namespace castor::kv

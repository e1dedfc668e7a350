// ServerMetrics: the metric families one node exports on GET /metrics (docs/HTTP.md lists them).
//
// Registered once when the node starts; the hot paths (log thread, apply thread, io thread)
// hold references and update them lock-free. Values that live elsewhere (term, indexes, peer
// queues) are gauge callbacks the server registers on the same registry, read at scrape time
// on the io thread.
//
// What it does NOT do: decide what is observed when; kv::Server does.
// Threading: the counters, gauges and histograms are safe from any thread (raft/base/metrics.h);
// request() and requests_total() look series up in a cache and belong to the io thread.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <string>

#include "kv/kv.pb.h"
#include "raft/base/metrics.h"

namespace castor::kv {

// The operations castor_request_duration_seconds and castor_requests_total are labelled with.
enum class RequestOp {
  kGet,
  kRange,
  kPut,
  kDelete,
  kDeleteRange,
  kTxn,
  kRegister,
  kStatus,
  kTransferLeader,
  kCount
};
const char* request_op_name(RequestOp op);
// Which RequestOp a request is; kCount for one with no body.
RequestOp request_op_of(const pb::ClientRequest& request);

class ServerMetrics {
  // First: the references below are initialized from it.
  Metrics registry_;

 public:
  ServerMetrics();

  Metrics& registry() { return registry_; }

  Histogram& fsync;  // one log write + fsync
  Histogram& apply;  // one state-machine commit
  Counter& slow_fsyncs;
  Counter& leader_changes;
  Counter& proposals_accepted;
  Counter& proposals_dropped;
  Counter& proposals_failed;
  Counter& snapshots_taken;
  Counter& snapshots_installed;

  // Records one answered request: its duration and its outcome code.
  void request(RequestOp op, pb::ErrorCode code, std::chrono::steady_clock::duration took);

 private:
  std::array<Histogram*, static_cast<size_t>(RequestOp::kCount)> durations_{};
  std::map<std::pair<RequestOp, pb::ErrorCode>, Counter*> requests_;
};

}  // namespace castor::kv

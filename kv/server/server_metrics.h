// ServerMetrics: the metric families one node exports on GET /metrics (docs/HTTP.md lists them).
//
// Registered once when the node starts; the hot paths (log thread, apply thread, io thread)
// hold references and update them lock-free. Values that live elsewhere (term, indexes, health,
// peers) are gauges read from one NodeScrape the server gathers as each scrape begins, so a
// scrape shows one moment and agrees with `castorctl status` taken at that moment.
//
// What it does NOT do: decide what is observed when; kv::Server does.
// Threading: the counters, gauges and histograms are safe from any thread (raft/base/metrics.h);
// request(), add_node_gauges(), count_rejected() and render() belong to the io thread.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <string>

#include "kv/kv.pb.h"
#include "kv/server/watch_hub.h"
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
  kWatch,
  kWatchCancel,
  kCount
};
const char* request_op_name(RequestOp op);
// Which RequestOp a request is; kCount for one with no body.
RequestOp request_op_of(const pb::ClientRequest& request);

// What the node gauges show, gathered on the io thread as a scrape begins.
struct NodeScrape {
  pb::StatusResponse status;  // the node's own view, as `castorctl status` shows it
  bool disk_low = false;      // below --disk-reserve-bytes
  uint64_t pending_reads = 0;
  uint64_t pending_writes = 0;
};

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
  WatchMetrics watch;

  // Records one answered request: its duration and its outcome code.
  void request(RequestOp op, pb::ErrorCode code, std::chrono::steady_clock::duration took);

  // Registers the node's gauges (role, term, indexes, health, one set per peer in `first`'s
  // peers), read from the NodeScrape each render() is given. Once, when the node starts.
  void add_node_gauges(const pb::StatusResponse& first);
  // Gives each reason in `rejected` (which must outlive this object) its castor_rejected_total
  // series; reasons appear at runtime, so the server calls it before each render().
  void count_rejected(const char* listener, const std::map<std::string, uint64_t>& rejected);
  // The exposition text, the node gauges showing `now`.
  std::string render(NodeScrape now);

 private:
  void add_peer_gauges(const pb::PeerStatus& peer);
  const pb::PeerStatus* scraped_peer(uint64_t id) const;

  NodeScrape scrape_;
  std::array<Histogram*, static_cast<size_t>(RequestOp::kCount)> durations_{};
  std::map<std::pair<RequestOp, pb::ErrorCode>, Counter*> requests_;
};

}  // namespace castor::kv

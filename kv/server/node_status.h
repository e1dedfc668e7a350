// node_status: one node's view of itself and the cluster (pb::StatusResponse), what
// `castorctl status`, GET /status and the node's gauges (kv/server/server_metrics.h) show.
//
// What it does NOT do: decide health (kv/server/health.h; the verdict comes in as
// `unhealthy_reason`) or go through the log: it is this node's view, which may be stale.
// Threading: on the node's io thread, which owns the Raft core and the transport it reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kv/kv.pb.h"
#include "kv/server/server.h"
#include "net/peer_transport.h"
#include "raft/node.h"

namespace castor::kv {

// What the status is made of, at one moment.
struct NodeStatusSources {
  const ServerOptions& options;  // name, cluster, addresses, members
  uint64_t id = 0;               // this node's member number (index in options.members, from 1)
  const raft::Node& node;
  uint64_t applied = 0;
  uint64_t snapshot_index = 0;
  const net::PeerTransport* transport = nullptr;  // null before the node runs: peers show no link
  std::string http_address;                       // "" without HTTP
  std::string unhealthy_reason;                   // "" when healthy
  std::optional<uint64_t> sessions;               // none when the state machine could not count
  uint64_t log_bytes = 0;
};

pb::StatusResponse node_status(const NodeStatusSources& sources);

}  // namespace castor::kv

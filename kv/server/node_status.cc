#include "kv/server/node_status.h"

namespace castor::kv {
namespace {

// What the leader knows of a peer's log; nullptr on other nodes.
const raft::Progress* leader_progress(const raft::Node& node, uint64_t peer) {
  if (node.role() != raft::Role::kLeader) return nullptr;
  auto it = node.progress().find(raft::NodeId(peer));
  return it == node.progress().end() ? nullptr : &it->second;
}

void fill_peer(const NodeStatusSources& from, uint64_t peer, pb::PeerStatus* p) {
  const auto& [name, address] = from.options.members[peer - 1];
  p->set_id(peer);
  p->set_name(name);
  p->set_peer_address(address.to_string());
  if (from.transport != nullptr) {
    const net::PeerStats st = from.transport->stats(peer);
    p->set_http_address(st.http_address);
    p->set_connected(st.connected);
    p->set_rtt_seconds(st.rtt_seconds.value_or(0));
    p->set_queue_depth(st.queue_depth);
    p->set_dropped(st.dropped);
  }
  if (const raft::Progress* pr = leader_progress(from.node, peer)) {
    p->set_match(pr->match.value);
    p->set_next(pr->next.value);
  }
}

}  // namespace

pb::StatusResponse node_status(const NodeStatusSources& from) {
  const ServerOptions& opt = from.options;
  const raft::Node& node = from.node;
  pb::StatusResponse s;
  s.set_name(opt.name);
  s.set_id(from.id);
  s.set_role(raft::role_name(node.role()));
  s.set_term(node.term().value);
  const uint64_t leader = node.leader().value;
  s.set_leader(leader);
  if (leader >= 1 && leader <= opt.members.size()) s.set_leader_name(opt.members[leader - 1].first);
  s.set_commit(node.committed().value);
  s.set_applied(from.applied);
  s.set_last_index(node.last_index().value);
  s.set_snapshot_index(from.snapshot_index);
  s.set_client_address(opt.listen_client.to_string());
  s.set_peer_address(opt.listen_peer.to_string());
  s.set_http_address(from.http_address);
  s.set_cluster_id(opt.cluster_id);
  s.set_healthy(from.unhealthy_reason.empty());
  s.set_unhealthy_reason(from.unhealthy_reason);
  if (from.sessions) s.set_sessions(*from.sessions);
  s.set_log_bytes(from.log_bytes);
  for (uint64_t peer = 1; peer <= opt.members.size(); ++peer) {
    if (peer != from.id) fill_peer(from, peer, s.add_peers());
  }
  return s;
}

}  // namespace castor::kv

#include "kv/server/peer_intake.h"

#include <spdlog/spdlog.h>

namespace castor::kv {

bool PeerIntake::take(const raft::pb::Message& m) {
  if (disk_.low() && (m.type() == raft::pb::MSG_APP || m.type() == raft::pb::MSG_SNAP)) {
    disk_log_.warn("not taking entries or snapshots from n" + std::to_string(m.from()), disk_.message());
    return false;
  }
  if (Status s = node_.step(m); !s.is_ok()) {
    ++refused_["invalid message"];
    refused_log_.warn(
        "peer port: refused a " + raft::pb::MessageType_Name(m.type()) + " from n" + std::to_string(m.from()),
        s.message());
    return false;
  }
  if (node_.snapshots_refused() > refused_["snapshot checksum"]) {
    refused_["snapshot checksum"] = node_.snapshots_refused();
    spdlog::warn(
        "refused the snapshot at index {} from n{}: its data fails the checksum in its metadata; "
        "the log is untouched and the leader sends it again",
        m.snapshot_meta().index(), m.from());
  }
  return true;
}

}  // namespace castor::kv

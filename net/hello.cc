#include "net/hello.h"

#include "net/frame.h"

namespace castor::net {

pb::Hello make_hello(const std::string& cluster_id, uint64_t node_id, pb::Hello::Role role,
                     const std::string& name, const std::string& http_address) {
  pb::Hello h;
  h.set_magic(kMagic);
  h.set_protocol_version(kProtocolVersion);
  h.set_cluster_id(cluster_id);
  h.set_node_id(node_id);
  h.set_role(role);
  h.set_node_name(name);
  h.set_http_address(http_address);
  return h;
}

Status check_first_frame(const Result<Frame>& first, const std::string& cluster_id,
                         pb::Hello::Role expect_role, pb::Hello& hello) {
  if (!first.is_ok()) return first.status();
  if (first->kind != FrameKind::kHello || !hello.ParseFromString(first->payload)) {
    return Status(Code::kInvalidArgument, "the first frame is not a Hello");
  }
  return check_hello(hello, cluster_id, expect_role);
}

Status check_hello(const pb::Hello& got, const std::string& cluster_id, pb::Hello::Role expect_role) {
  if (got.magic() != kMagic) return Status(Code::kInvalidArgument, "not a Castor peer (bad magic)");
  if (got.protocol_version() != kProtocolVersion) {
    return Status(Code::kInvalidArgument, "protocol version " + std::to_string(got.protocol_version()) +
                                              ", this node speaks " + std::to_string(kProtocolVersion));
  }
  if (got.cluster_id() != cluster_id) {
    return Status(Code::kInvalidArgument,
                  "cluster id '" + got.cluster_id() + "', this node is in '" + cluster_id + "'");
  }
  if (got.role() != expect_role) {
    return Status(Code::kInvalidArgument, std::string("a ") + pb::Hello::Role_Name(got.role()) + " on the " +
                                              pb::Hello::Role_Name(expect_role) + " port");
  }
  if (expect_role == pb::Hello::PEER && got.node_id() == 0)
    return Status(Code::kInvalidArgument, "peer without a node id");
  return Status::ok();
}

}  // namespace castor::net

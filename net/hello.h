// The Hello handshake: the first frame on every connection names the protocol, the cluster
// and the sender, so that a stray client, a node of another cluster or a different protocol
// is turned away before it can say anything else (docs/DESIGN.md, "The wire").
//
// What it does NOT do: authenticate. A Hello names a cluster and a member; it proves neither
// (TLS and peer certificates are issue "TLS, mutual TLS between peers").
#pragma once

#include <string>

#include "net/frame.h"
#include "net/net.pb.h"
#include "raft/base/status.h"

namespace castor::net {

// `http_address` is the sender's HTTP API ("host:port"), which peers use to redirect HTTP
// clients to the leader; empty for a node without one and for clients.
pb::Hello make_hello(const std::string& cluster_id, uint64_t node_id, pb::Hello::Role role,
                     const std::string& name, const std::string& http_address = "");

// Checks a received Hello against what this end expects. `expect_role` is the role the other
// end must have. kInvalidArgument with the reason on any mismatch.
Status check_hello(const pb::Hello& got, const std::string& cluster_id, pb::Hello::Role expect_role);

// The first frame of an incoming connection, as the Hello it must be: its read error, "the first
// frame is not a Hello", or check_hello's verdict. Parses what it can into `hello`.
Status check_first_frame(const Result<Frame>& first, const std::string& cluster_id,
                         pb::Hello::Role expect_role, pb::Hello& hello);

}  // namespace castor::net

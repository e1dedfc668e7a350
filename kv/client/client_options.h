// ClientOptions: how a kv::Client finds the cluster and how long it keeps trying.
//
// What it does NOT do: check itself. kv::Client asserts only that `endpoints` is not empty and
// uses the other fields as given.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/frame.h"

namespace castor::kv {

struct ClientOptions {
  // Every node's client address. Any order: the client learns which node is which from the
  // Hello each node answers with.
  std::vector<net::Endpoint> endpoints;
  std::string cluster_id = "castor";
  std::string name = "castor-client";  // sent in the Hello, for the nodes' logs
  // Each call's deadline, counted from the call: every retry happens within it.
  std::chrono::milliseconds request_timeout{5000};
  // How long one attempt (connect, or one request on one node) may take before the client
  // tries another node. A node cut off from the majority keeps a request until its own
  // deadline; one election timeout (castord's default is 1 s) is long enough for a healthy
  // node and short enough to find the new leader well within request_timeout.
  std::chrono::milliseconds attempt_timeout{1000};
  // Waits between attempts when no node is known to lead: doubling from min to max, jittered.
  std::chrono::milliseconds backoff_min{10};
  std::chrono::milliseconds backoff_max{200};
  uint32_t frame_bytes_max = net::kFrameBytesMaxDefault;
  // A write gets a seq only while seq < lowest_outstanding_seq + seq_window_max. The node keeps
  // the answer of every applied seq at or above lowest_outstanding_seq, and refuses writes
  // beyond SessionOptions::session_responses_max (256) of them with RESOURCE_EXHAUSTED; this
  // window keeps the client under that bound, so writes beyond it wait here instead.
  uint64_t seq_window_max = 256;
  // Answers of a stream (a watch) that may wait unread in the client before the stream ends
  // with TOO_SLOW: the node's own bound for a watcher's unread answers (castord's
  // --watch-queued-bytes-max default, 8 MiB), so a caller that does not keep up costs the
  // client no more than it costs the node. A watch then resumes from its last revision.
  uint64_t stream_queued_bytes_max = uint64_t{8} << 20;
};

}  // namespace castor::kv

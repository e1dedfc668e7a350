// Watch: the changes to a key, a prefix or a range as one unbroken stream that survives losing
// the node it watches through (docs/PROMISES.md, "Watch"). The C++ twin of the Python client's
// chaos/castor_client/watch.py, with the same rules:
//
//   - next() returns the events of one or more whole revisions, in revision order, each
//     revision once: a revision the node split into `fragment`s is joined first.
//   - When the node goes away (its connection breaks, it is silent for `silence` although it
//     was asked for progress answers every second, or it ends the watch with UNAVAILABLE,
//     TOO_SLOW, RESOURCE_EXHAUSTED or OK) the watch starts again on the next endpoint from the
//     last revision next() returned, so the caller misses nothing and sees nothing twice.
//   - A node whose history does not reach back that far answers COMPACTED and the watch moves
//     on; only when every endpoint has said so (with no events in between) does next() fail
//     with kCompacted, and floor() says the highest revision any of them can start from.
//   - A refusal of the watch itself (INVALID_ARGUMENT, TOO_LARGE: no node would take it) fails
//     next() with the node's code and message, at once.
// Each attempt uses a connection of its own, so that leaving a silent node closes nothing of
// anyone else's.
//
// What it does NOT do: give up while nodes are unreachable (next() keeps trying, one endpoint
// after another, until events come, it fails as above, or cancel() is called); check the
// request (the node does); read the current state (after kCompacted, read it, then watch from
// its revision).
// Threading: every method runs on the io_context given at construction, which must run on one
// thread. One next() at a time; cancel() may run while next() waits. Destroy the Watch only
// when no next() is running on it.
#pragma once

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kv/client/client_connection.h"
#include "kv/client/client_options.h"
#include "kv/kv.pb.h"
#include "raft/base/status.h"

namespace castor::kv {

struct WatchOptions {
  // `key` alone: that key. With `prefix`: every key starting with it (every key when empty).
  // With a `range_end`: the keys in [key, range_end).
  std::string key;
  std::string range_end;
  bool prefix = false;
  // Every change with a revision above this (kv.proto's start_revision). Unset: above the
  // revision of the first node that takes the watch, when it takes it.
  std::optional<uint64_t> start_revision;
  bool prev_kv = false;  // events carry the key's state before the change
  // A node that sends nothing for this long is taken for gone. It sends a progress answer
  // whenever a second passes with nothing else, so three seconds allow for two lost.
  std::chrono::milliseconds silence{3000};
  // The pause before the next endpoint after one failed or ended, so that a cluster with no
  // node to serve the watch is not hammered with connections.
  std::chrono::milliseconds resume_pause{50};
};

// What next() returns.
struct WatchEvents {
  std::vector<pb::Event> events;  // whole revisions, ascending; empty only when `ended`
  uint64_t revision = 0;          // every matching change up to here has been returned
  bool ended = false;             // cancel() ended the watch: nothing more comes
};

class Watch {
 public:
  using Clock = std::chrono::steady_clock;

  // `client.endpoints` must not be empty; of the rest, the watch uses cluster_id, name,
  // frame_bytes_max, attempt_timeout (to connect, and to cancel) and stream_queued_bytes_max.
  Watch(boost::asio::io_context& io, ClientOptions client, WatchOptions options);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // The next events, waiting for them as long as it takes; `ended` once cancelled. Fails with
  // kCompacted or the node's refusal as described above, and after that returns the same.
  boost::asio::awaitable<Result<WatchEvents>> next();
  // Ends the watch: tells the node (a WatchCancelRequest, or closing the connection when the
  // node does not confirm within attempt_timeout) and makes next() return `ended`. Returns at
  // once (a signal handler may call it); telling the node goes on, holding nothing of the
  // Watch, so the Watch may be destroyed as soon as next() has returned.
  void cancel();

  // Every change up to here has been returned; unset until a node said where "now" is.
  std::optional<uint64_t> revision() const { return revision_; }
  // How often the watch moved to another endpoint.
  uint64_t resumes() const { return resumes_; }
  // The Raft id of the node it watches through now; 0 between nodes.
  uint64_t node() const { return conn_ ? conn_->node_id() : 0; }
  // After kCompacted: the highest revision any node can start a watch from.
  uint64_t floor() const { return floor_; }

 private:
  // Opens the watch on the next endpoint, after the pause that is due; on failure the next
  // call tries the one after.
  boost::asio::awaitable<void> start();
  // Leaves the node watched through; what was returned so far stands.
  void lose(const std::string& why);
  // One answer of the node: the events it completes, if any. May end the watch there.
  std::optional<WatchEvents> receive(pb::ClientResponse& response);
  // The events of `w` (moved out of it) joined with the fragments before them, once a revision
  // is whole.
  std::optional<WatchEvents> join(pb::WatchResponse& w);
  // The node's last answer: resume elsewhere, or fail.
  void ended(const pb::ClientResponse& response);
  // Sends `cancel` on `conn`; closes it unless the node confirms by `until`.
  static boost::asio::awaitable<void> tell_node(std::shared_ptr<ClientConnection> conn,
                                                pb::ClientRequest cancel, Clock::time_point until);

  boost::asio::io_context& io_;
  const ClientOptions client_;
  const WatchOptions options_;
  pb::WatchRequest request_;  // without start_revision, which each attempt sets
  std::optional<uint64_t> revision_;
  uint64_t resumes_ = 0;
  uint64_t floor_ = 0;
  std::optional<Status> failed_;
  bool cancelling_ = false;

  size_t next_endpoint_ = 0;
  size_t endpoint_ = 0;  // of conn_
  uint64_t next_request_id_ = 1;
  std::shared_ptr<ClientConnection> conn_;
  std::shared_ptr<ClientConnection::Stream> stream_;
  Clock::time_point heard_;     // the last answer on stream_
  Clock::time_point retry_at_;  // no attempt before this
  boost::asio::steady_timer pause_;
  std::vector<pb::Event> pending_;        // a revision whose fragments are still arriving
  std::map<size_t, uint64_t> compacted_;  // endpoint -> its floor, while every node refuses
};

}  // namespace castor::kv

// Server: one Castor node. It wires raft::Node, the durable log (raft::LmdbLog), the state
// machine (StateMachine) and the network (net::PeerTransport, net::ClientListener, and the
// HTTP API of kv/server/http_api.h on net::HttpServer), and runs
// the Ready loop (docs/DESIGN.md, "A node"):
//
//   io thread:    owns raft::Node, the sockets and the timers. On every event it takes a Ready,
//                 sends its early messages (leader appends go out while the leader's own fsync
//                 runs, thesis 10.2.1), hands the writes to the log thread, and when they are
//                 durable sends the remaining messages, hands committed entries to the apply
//                 thread, and calls advance(). Client writes that arrive together become one
//                 proposal (one entry); everything proposed while an fsync runs shares the next.
//   log thread:   LmdbLog appends, one fsynced transaction per Ready (group commit).
//   apply thread: StateMachine::apply, one LMDB transaction per batch of committed entries;
//                 answers go back to the io thread, which replies to the clients.
//
// Linearizable reads use ReadIndex (thesis 6.4) on any node; they are answered once this
// node has applied the read index. A write is answered when it is applied: OK, or the
// command's own error; UNKNOWN when its fate cannot be known (its entry was replaced by another
// leader's, or the request deadline passed first).
//
// What it does NOT do: parse flags (castord does), or keep running after a failed log write
// (it stops: docs/STYLE.md, "Fail-stop").
// Threading: open() and run() from the main thread; stop() from any thread or a signal watcher.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kv/machine/history.h"
#include "kv/machine/limits.h"
#include "kv/machine/sessions.h"
#include "kv/server/watch_hub.h"
#include "net/endpoint.h"
#include "raft/base/status.h"

namespace castor::kv {

struct ServerOptions {
  std::string name;  // this node's name in `members`
  std::string cluster_id = "castor";
  std::string data_dir;
  net::Endpoint listen_client;
  net::Endpoint listen_peer;
  std::optional<net::Endpoint> listen_http;  // metrics, health, status, JSON KV API (docs/HTTP.md)
  // Every member's name and peer address, in --initial-cluster order; ids are 1, 2, 3, ...
  std::vector<std::pair<std::string, net::Endpoint>> members;

  uint32_t heartbeat_ms = 100;  // one Raft tick
  uint32_t election_ms = 1000;  // a multiple of heartbeat_ms
  // A snapshot is taken, and the log compacted, after this many applied entries.
  uint64_t snapshot_entries = 10000;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds client_idle_timeout{300000};
  // Client connections at once; at the limit the idlest makes room (net::ClientListener).
  size_t client_connections_max = 4096;
  // A client connection whose answers are not taken for this long is closed ("slow reader").
  std::chrono::milliseconds client_write_timeout{30000};
  // A Raft log write slower than this is logged and counted (castor_slow_fsyncs_total).
  std::chrono::milliseconds slow_fsync{100};
  // GET /health fails when the applied index trails the commit index by this many entries.
  uint64_t health_apply_lag_max = 1000;
  uint32_t frame_bytes_max = 4u << 20;
  uint64_t log_map_bytes_max = uint64_t{16} << 30;
  // Free space the data directory's disk keeps: below it a leader refuses writes and a
  // follower takes no more entries, until space is freed (kv/server/disk_space.h). 0: no reserve.
  uint64_t disk_reserve_bytes = uint64_t{64} << 20;
  Limits limits;
  SessionOptions sessions;
  HistoryOptions history;  // what the state machine keeps for watches to start from
  WatchHubOptions watch;   // how many watches, how much each may leave unread
  // Test-only unsafe switches, so the chaos harness can show it catches what they break:
  // serve linearizable reads at this node's own commit index without the ReadIndex round (a
  // deposed leader then serves stale data), and apply duplicate writes again instead of
  // answering them from the session cache, and give every write in one Raft entry the entry's
  // index as its revision (StateMachineOptions::unsafe_revision_per_entry), and commit the Raft
  // log without fsync (LmdbLog::Options::unsafe_skip_fsync).
  bool unsafe_local_reads = false;
  bool unsafe_skip_dedup = false;
  bool unsafe_revision_per_entry = false;
  bool unsafe_skip_fsync = false;
};

// The most file descriptors a node of these options may hold open at once: one per client and
// HTTP connection up to the listeners' limits, two per peer (a link each way), and its own files.
// castord warns at start when its open-files limit is lower.
uint64_t fds_needed(const ServerOptions& options);

class Server {
 public:
  // Opens (or creates, for a new member) the data directory and checks it: CORRUPTION with a
  // message saying what to do when it is damaged; INVALID_ARGUMENT for bad options.
  static Result<std::unique_ptr<Server>> open(ServerOptions options);
  ~Server();

  // Binds its ports (UNAVAILABLE naming the address when taken), then serves until stop().
  Status run();
  // Asks run() to return: closes the listeners, finishes in-flight log writes, joins threads.
  void stop();
  // The node's current Raft term, for log lines; safe from any thread.
  uint64_t term() const;

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace castor::kv

// WatchHub: every watch a node serves (docs/DESIGN.md, "Watch"; kv.proto, WatchRequest).
//
// A watcher asks for the changes to a key range after a start revision. The hub sends them in
// revision order, each once, with no gap, then every new change as it applies, until the watch
// ends. Where the events come from:
//   - the history in the state machine (kv/machine/history.h), read a page at a time, for a
//     watcher that starts in the past: catching up;
//   - the tail: the events the apply side published (publish()) that the state machine has
//     not yet committed, and so cannot yet be read from its history;
//   - publish() itself, for a watcher that is up to date: live.
// Every event comes from an applied entry, so a watcher never sees an uncommitted change.
//
// A watch ends, with its stream's last answer saying why, when:
//   - the client cancels it (OK) or its connection closes (nothing sent);
//   - its start is below the history this node keeps (COMPACTED, with where it starts);
//   - its client does not read: more than `queued_bytes_max` of answers wait on its stream
//     (TOO_SLOW); the hub never buffers for it, so a slow watcher costs the node only what
//     its connection queues, and never delays the apply side;
//   - the node installs a snapshot that skips revisions the watcher has not seen, or stops
//     (UNAVAILABLE).
// Every last answer carries the revision the watcher has all changes up to, to resume from.
//
// What it does NOT do: parse requests or check their sizes (the server validates), apply
// anything, or hold events for a watcher that cannot take them.
// Threading: not thread-safe; the server's io thread owns it and its streams.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/history.h"
#include "kv/machine/key_range.h"
#include "raft/base/metrics.h"
#include "raft/base/status.h"

namespace castor::kv {

// One answer to a watch and its encoding. Watchers that get the same events at once share one
// (every up-to-date watcher of a prefix does): a change is copied and encoded once per node,
// not once per watcher.
struct WatchAnswer {
  explicit WatchAnswer(pb::WatchResponse r) : response(std::move(r)), encoded(response.SerializeAsString()) {}
  pb::WatchResponse response;
  std::string encoded;  // response.SerializeAsString()
};

// Where one watch's answers go: a client connection's stream (net/client_listener.h) or an
// HTTP response being streamed.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Queues one answer to the watch `request_id` names (the server fills the header).
  virtual void send(uint64_t request_id, const WatchAnswer& answer) = 0;
  // Queues the last answer; nothing is sent after it.
  virtual void finish(pb::ClientResponse answer) = 0;
  // Bytes queued for the client and not yet taken by it.
  virtual uint64_t queued_bytes() const = 0;
  // False once the client is gone: the watch ends without a word.
  virtual bool open() const = 0;
};

// Where the hub reads the past: StateMachine::read_history in the node.
using HistoryReader = std::function<Result<HistoryPage>(uint64_t after, uint64_t page_bytes_max)>;

struct WatchHubOptions {
  uint64_t watchers_max = 10'000;                   // per node
  uint64_t watchers_per_connection_max = 1'000;     // per client connection
  uint64_t queued_bytes_max = uint64_t{8} << 20;    // a watcher's unread answers before TOO_SLOW
  uint64_t answer_bytes_max = uint64_t{512} << 10;  // events per answer (a revision may split)
  std::chrono::steady_clock::duration progress_interval = std::chrono::seconds(1);
};

// What the hub counts (kv/server/server_metrics.h registers them).
struct WatchMetrics {
  Gauge& watchers;
  Counter& events_sent;
  // Answers built and encoded; far fewer than answers sent when watchers share them.
  Counter& answers_encoded;
  Counter& cancelled_slow;
  Counter& cancelled_compacted;
  // From an event's arrival from the apply side to its answer being queued for a watcher that
  // was up to date; once per watcher and revision.
  Histogram& delay;
};

class WatchHub {
 public:
  using Clock = std::chrono::steady_clock;

  // `revision`: the node's store revision now (everything up to it is in its history).
  WatchHub(WatchHubOptions options, HistoryReader history, uint64_t revision, WatchMetrics metrics);
  ~WatchHub();

  // Starts a watch on `connection` (any identity shared by the watches of one client
  // connection) named `request_id` there. Answers `created` on `stream`, or returns why not:
  // RESOURCE_EXHAUSTED at a limit, INVALID_ARGUMENT for a request_id in use on the connection.
  // A start below the history kept is not refused here: the stream ends with COMPACTED.
  Status add(const void* connection, uint64_t request_id, const pb::WatchRequest& request,
             std::shared_ptr<WatchStream> stream, Clock::time_point now);
  // Ends a watch of `connection` (OK); false when it has no watch of that name.
  bool cancel(const void* connection, uint64_t request_id);

  // The apply side applied `events` (ascending revisions, from one batch), up to `revision`.
  // Taken by value: the events move into the tail, no copy on the apply path's way.
  void publish(std::vector<pb::Event> events, uint64_t revision, Clock::time_point now);
  // The state machine committed through `revision`: its history holds it.
  void committed(uint64_t revision);
  // The state machine was replaced by a snapshot at `revision`.
  void snapshot_installed(uint64_t revision);
  // Catches up watchers behind, sends progress, forgets closed streams. Call often (each tick
  // and after publish) and whenever streams drain.
  void turn(Clock::time_point now);
  // Ends every watch (UNAVAILABLE: the node stops).
  void close_all();

  size_t watchers() const { return watchers_.size(); }

 private:
  struct Watcher;
  class Answers;
  class SharedAnswers;
  struct Revision {
    uint64_t revision = 0;
    std::vector<pb::Event> events;
    std::vector<uint64_t> sizes;  // each event's ByteSizeLong, computed once
    Clock::time_point published_at;
  };
  // Sends `w` what it lacks, from the history or the tail, while its stream has room. Answers
  // from the tail are shared through `shared` (one per publish or turn: its keys point into the
  // tail, which must not change while it lives).
  void catch_up(Watcher& w, Clock::time_point now, SharedAnswers& shared);
  // Whether every published revision from `next` on is in the tail.
  bool tail_covers(uint64_t next) const;
  void send_from_tail(Watcher& w, Clock::time_point now, SharedAnswers& shared);
  // One page of the history to `w`; false when there was nothing to send (or the watch ended).
  bool send_from_history(Watcher& w, Clock::time_point now);
  bool send(Watcher& w, const WatchAnswer& answer, Clock::time_point now);
  void end(Watcher& w, Code code, const std::string& why, uint64_t compact_revision = 0);
  void forget_ended();
  void trim_tail();

  WatchHubOptions opt_;
  HistoryReader history_;
  std::map<uint64_t, std::unique_ptr<Watcher>> watchers_;  // by hub id
  std::map<std::pair<const void*, uint64_t>, uint64_t> by_name_;
  std::map<const void*, uint64_t> per_connection_;
  uint64_t next_id_ = 1;
  std::deque<Revision> tail_;
  uint64_t published_;  // the store revision the apply side reached
  uint64_t committed_;  // ... and the state machine's history holds
  WatchMetrics metrics_;
};

}  // namespace castor::kv

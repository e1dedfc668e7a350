// ReadyLoop: the host's side of the Ready contract (raft/ready.h, docs/DESIGN.md, "The Ready contract"),
// written once for castord (kv::Server) and the simulator (tests/sim), so that the simulator checks the loop
// castord runs rather than a simpler one of its own.
//
// One turn, drive():
//   - while a persist is outstanding, only hands out entries committed meanwhile: they are
//     durable here already (Node::take_committed), so they apply without waiting for the fsync;
//   - otherwise takes the next Ready: soft state, early messages, then the committed entries go
//     to apply before the persist (they are durable, and the commit index is volatile state,
//     paper figure 2) unless the Ready installs a snapshot, which must replace the state first;
//   - a hard state that only moves the commit index is deferred to ride with the next write
//     that must be durable anyway (etcd's MustSync);
//   - hands what must be durable to the host's persist(), which may finish at once or later;
// and once the host reports it persisted: the messages (acknowledgements of what was just made
// durable), the snapshot's install, the released reads, then Node::advance.
//
// Pure and single-threaded: the host calls drive() and persisted() from one thread, and runs
// persist() wherever it likes (castord: a log thread) as long as it reports back on that one.
// It does NOT do any I/O, decide when to snapshot or compact, or know about the state machine.
#pragma once

#include <optional>
#include <vector>

#include "raft/base/status.h"
#include "raft/node.h"
#include "raft/raft.pb.h"
#include "raft/ready.h"

namespace castor::raft {

// What the loop asks of its host. Every call comes from within drive() or persisted().
class ReadyHost {
 public:
  virtual ~ReadyHost() = default;
  virtual void on_soft_state(const SoftState& ss) = 0;
  virtual void send(const pb::Message& m) = 0;
  // Committed entries (never none), in order, each exactly once.
  virtual void apply(std::vector<pb::Entry> committed) = 0;
  // Make `rd.snapshot` (install it in the log), then `rd.hard_state` and `rd.entries` durable in
  // one write, and call ReadyLoop::persisted() when done, at once or later; `rd` stays valid and
  // unchanged until then. Nothing else of the loop runs meanwhile but drive()'s hand-outs.
  virtual void persist(const Ready& rd) = 0;
  // The leader's snapshot, now in the log, replaces the state machine (before later entries
  // apply).
  virtual void install_snapshot(const pb::Snapshot& snapshot) = 0;
  // Reads Raft confirmed; each may be served once the host has applied its index.
  virtual void reads_released(std::vector<ReadState> reads) = 0;
  // A persist failed: what reached the disk is unknown, so the node must stop.
  virtual void fatal(const Status& s) = 0;
  // A turn ended with Node::advance: the host may serve reads, compact, or drive again.
  virtual void turn_finished() = 0;
};

// Planted bugs of the loop, for the simulator to show it catches them (test-only).
enum class LoopBug {
  kNone,
  // Sends the Ready's messages (append acknowledgements, vote grants) before its persist.
  kAckBeforeFsync,
  // Applies the Ready's new entries as they arrive, before they are committed.
  kApplyBeforeCommit,
};

class ReadyLoop {
 public:
  // `written` is the hard state the log holds now.
  ReadyLoop(Node& node, ReadyHost& host, pb::HardState written, LoopBug bug = LoopBug::kNone)
      : node_(node), host_(host), written_(std::move(written)), bug_(bug) {}
  ReadyLoop(const ReadyLoop&) = delete;
  ReadyLoop& operator=(const ReadyLoop&) = delete;

  // One turn (see above). A host calls it after feeding the node events, until has_work() is
  // false; calling it with nothing to do is harmless.
  void drive();
  // The host finished the persist it was handed: finishes the turn (or reports `s` as fatal).
  void persisted(const Status& s);

  bool persisting() const { return in_flight_.has_value(); }
  // A Ready is waiting and no persist is outstanding.
  bool has_work() const { return !persisting() && node_.has_ready(); }

 private:
  void defer_commit_only_hard_state(Ready& rd);
  void finish(Ready rd);

  Node& node_;
  ReadyHost& host_;
  pb::HardState written_;
  std::optional<pb::HardState> deferred_;
  std::optional<Ready> in_flight_;  // handed to persist(), until persisted()
  LoopBug bug_;
};

}  // namespace castor::raft

// Simulation: a whole Raft cluster in one process, driven by one seed.
//
// 3 or 5 raft::Node objects, each hosted like castord hosts it (persist, send, apply, serve
// reads, advance) over a MemoryLog that survives simulated crashes. A simulated network drops,
// duplicates, delays (now and then past an election timeout) and reorders messages, and makes
// symmetric and one-way partitions; messages across a cut or to a node that is down are lost or
// held back until they can be delivered. Nodes
// crash (at random, and on purpose at the moments bugs hide: right after granting a vote,
// appending, winning an election, or committing entries of earlier terms) and pause (as under
// SIGSTOP, resuming with a stale view); new leaders land on the minority side of cuts. A
// quarter of the seeds draw a general weather, a quarter the same with one kind of crash made
// frequent, and half a calm weather focused on the story one rare bug needs (focus_on_*).
// A virtual clock drives ticks. Clients propose writes and ask for linearizable reads; hosts
// take snapshots and compact. Invariants are checked after every step.
//
// A run has a chaos phase (faults on) and a liveness phase (everything healed: a leader must
// emerge, fresh proposals must commit everywhere, and the run must have done a minimum of work,
// all within a bound).
//
// Deterministic: the seed decides everything. Performs no I/O except the trace, written to the
// stream given in Options. Not thread-safe.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "raft/config.h"
#include "raft/memory_log.h"
#include "raft/node.h"
#include "raft/ready_loop.h"
#include "tests/sim/invariants.h"

namespace castor::sim {

struct Options {
  uint64_t seed = 1;
  int nodes = 3;
  // Virtual time is counted in units; a node ticks every kUnitsPerTick units.
  uint64_t chaos_units = 4000;
  // The liveness bound, in ticks after healing: a leader and every fresh proposal applied on
  // every node within it.
  uint64_t liveness_ticks_max = 400;
  // The least work a run must do to count as clean: a run that committed or read next to
  // nothing checked next to nothing. The liveness phase keeps the clients going until then.
  uint64_t committed_min = 20;
  uint64_t reads_min = 5;
  raft::PlantedBug planted_bug = raft::PlantedBug::kNone;
  // A planted bug of the host, not the core: every run of a node names its reads 1, 2, ... as
  // castord did before raft/read_context.h, so an answer meant for a read of the previous run
  // can release a read of this one. `castor-sim --plant reuse-read-contexts`.
  bool reuse_read_contexts = false;
  // A planted bug of the Ready loop (raft/ready_loop.h).
  raft::LoopBug loop_bug = raft::LoopBug::kNone;
  std::ostream* trace = nullptr;  // a readable line per event when set
};

struct Outcome {
  std::vector<std::string> violations;
  bool liveness_failed = false;
  std::string liveness_reason;
  uint64_t steps = 0;
  uint64_t committed = 0;
  uint64_t reads_served = 0;
  bool ok() const { return violations.empty() && !liveness_failed; }
  // The property the first violation breaks (the invariant's name, as the violation begins),
  // or "" when there is none.
  std::string property() const;
};

class Simulation {
 public:
  static constexpr uint64_t kUnitsPerTick = 10;
  // How long a cut may hold a message back: a TCP connection gives up eventually, too.
  static constexpr uint64_t kHoldMaxUnits = 50 * kUnitsPerTick;
  // The shortest pause: one election timeout.
  static constexpr uint64_t kPauseMinUnits = 10 * kUnitsPerTick;

  explicit Simulation(const Options& options);
  ~Simulation();
  Outcome run();

 private:
  struct Host;
  class LoopHost;
  struct InFlight {
    uint64_t deliver_at;
    uint64_t seq;
    uint64_t sent_at;
    raft::pb::Message msg;
    bool operator>(const InFlight& o) const {
      return std::tie(deliver_at, seq) > std::tie(o.deliver_at, o.seq);
    }
  };
  // How faulty this seed's world is, drawn once per seed.
  struct Faults {
    double drop = 0, duplicate = 0;
    uint64_t delay_max_units = 1;
    // Now and then a message is slow enough to outlast an election timeout.
    double slow = 0;
    uint64_t slow_max_units = 1;
    double crash = 0, crash_mid_ready = 0, crash_leader_on_commit = 0, restart_quickly = 0;
    // A leader dies, and what it sent in that moment with it, right after its commit index
    // passed entries of earlier terms: the moment of paper 5.4.2 (figure 8), where a leader
    // that counted replicas of an old entry hands a committed entry to no one.
    double crash_leader_on_old_commit = 0;
    // A new leader finds itself on the minority side of a cut (alone, or with a few followers)
    // for one election timeout plus up to minority_max_units: what it takes in meanwhile
    // spreads to no majority, and leaves logs that differ in their tails.
    double leader_in_minority = 0;
    uint64_t minority_max_units = 0;
    // Crashes at the moments the planted bugs need: a Ready that grants a vote or appends
    // entries (before or after its persist), a leader right after its election, and a node
    // right after asking for a read.
    double crash_on_vote = 0, crash_on_append = 0, crash_new_leader = 0, crash_on_read = 0;
    // How often a crash is the machine's: what the node sent in its last moment, still in its
    // kernel's buffers, is lost with it.
    double crash_loses_sends = 0;
    // A node stops (as under SIGSTOP, mostly the leader) for kPauseMinUnits plus up to
    // pause_max_units, then resumes where it was; messages and a client's read wait for it.
    double pause = 0;
    uint64_t pause_max_units = 0;
    // How often a persist finishes later rather than at once (as castord's log thread does),
    // letting messages, ticks and proposals reach the node between ready() and advance().
    double persist_later = 0;
    double partition = 0, heal = 0;
    // How often a message across a cut or to a node that is down is held (as a peer link's
    // queue holds it) rather than lost: it is delivered once the cut heals or the node is back,
    // if that is within kHoldMaxUnits.
    double hold = 0;
    // A held message is tried again within this long, as a peer link reconnecting with backoff
    // does: from a tick to two election timeouts, so that it may arrive well after the cut
    // healed or the node came back.
    uint64_t retry_max_units = 1;
    double propose = 0, read = 0, transfer = 0;
    uint64_t snapshot_every = 10;
    uint64_t append_bytes_max = 24;
    uint32_t inflight_max = 4;
    bool pre_vote = true, check_quorum = true;
  };

  void step();
  void deliver_due();
  void client_actions();
  void ask_read(int i);
  void faults();
  void pause(int i);
  void resume(int i);
  bool paused(int i) const;
  bool undeliverable(InFlight& f);
  double crash_chance(int i, const raft::Ready& rd) const;
  bool grants_vote(int i, const raft::Ready& rd) const;
  void lose_last_sends(raft::NodeId from);
  void crash(int i, const char* where);
  void restart(int i);
  void handle_ready(int i);
  void persist(int i, const raft::Ready& rd);
  void write_log(int i, const raft::Ready& rd);
  void complete_persist(int i);
  void finish_persist_due();
  void turn_finished(int i);
  void apply(int i, const raft::pb::Entry& e);
  void serve_reads(int i);
  void maybe_snapshot(int i);
  void send(const raft::pb::Message& m);
  void check_step();
  bool liveness();
  bool enough_work() const;
  int leader_index() const;
  bool blocked(uint64_t from, uint64_t to) const;
  void cut_off_minority(int leader);
  double uniform(double lo, double hi);
  void draw_weather();
  void no_faults();
  void calm(const char* name);
  void focus_on_split_tails();
  void focus_on_stale_reads();
  void focus_on_reads_across_restarts();
  void focus_on_lost_votes();
  void focus_on_lost_acks();
  void trace(const std::string& line);
  raft::Config config_for(int i) const;

  Options opt_;
  std::mt19937_64 rng_;
  Faults f_;
  Invariants inv_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> net_;
  std::vector<std::vector<bool>> cut_;  // cut_[from][to]: messages from -> to are lost
  // Cuts that heal by themselves: nodes on `side` and the rest cannot talk until `until`.
  struct TimedCut {
    std::vector<bool> side;  // by node id
    uint64_t until;
  };
  std::vector<TimedCut> timed_cuts_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t next_proposal_ = 1;
  uint64_t next_read_ = 1;
  uint64_t steps_ = 0;
  uint64_t reads_served_ = 0;
  std::map<std::string, uint64_t> markers_applied_;  // liveness marker -> index it was applied at
  std::string context_;                              // what the simulation is doing, for violation messages
};

// The planted bugs by name (`castor-sim --plant NAME`): the core's (raft::PlantedBug), the
// Ready loop's (raft::LoopBug) and the host's (reuse-read-contexts), each with the properties
// (Outcome::property) the simulator must find broken: one, or two where the bug breaks two
// promises at once (ack-before-fsync).
struct PlantedBugInfo {
  std::string name;
  std::vector<std::string> properties;
  bool breaks(const std::string& property) const;
  std::string properties_text() const;  // "a or b"
};
std::vector<PlantedBugInfo> planted_bugs();
// Sets the bug `name` in `options`; false when there is no such bug.
bool plant(const std::string& name, Options& options);
// The name of the bug planted in `options`, or "" when none is.
std::string planted_name(const Options& options);

}  // namespace castor::sim

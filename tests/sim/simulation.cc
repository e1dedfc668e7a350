#include "tests/sim/simulation.h"

#include <algorithm>
#include <array>
#include <functional>
#include <ostream>
#include <set>
#include <utility>

#include "raft/base/assert.h"
#include "raft/read_context.h"

namespace castor::sim {

using raft::pb::Message;

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64 step: a cheap, well-spread hash for the applied-history chain.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// The simulated state machine's snapshot: applied index, history chain, and filler derived
// from the chain, so that a chunk lost or misplaced in transfer is caught on restore.
constexpr size_t kFillerWords = 6;

std::string encode_snapshot(uint64_t applied, uint64_t chain) {
  std::string out;
  auto put = [&out](uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(applied);
  put(chain);
  for (size_t k = 0; k < kFillerWords; ++k) put(mix(chain, k));
  return out;
}

std::optional<std::pair<uint64_t, uint64_t>> decode_snapshot(const std::string& data) {
  if (data.size() != (2 + kFillerWords) * sizeof(uint64_t)) return std::nullopt;
  auto get = [&data](size_t k) {
    uint64_t v;
    std::copy_n(data.data() + k * sizeof v, sizeof v, reinterpret_cast<char*>(&v));
    return v;
  };
  for (size_t k = 0; k < kFillerWords; ++k) {
    if (get(2 + k) != mix(get(1), k)) return std::nullopt;
  }
  return std::make_pair(get(0), get(1));
}

std::string describe(const Message& m) {
  std::string s = "n" + std::to_string(m.from()) + "->n" + std::to_string(m.to()) + " " +
                  raft::pb::MessageType_Name(m.type()) + " term=" + std::to_string(m.term());
  switch (m.type()) {
    case raft::pb::MSG_APP:
      s += " prev=" + std::to_string(m.index()) + "/" + std::to_string(m.log_term()) +
           " entries=" + std::to_string(m.entries_size()) + " commit=" + std::to_string(m.commit());
      break;
    case raft::pb::MSG_APP_RESP:
      s += " index=" + std::to_string(m.index()) +
           (m.reject() ? " REJECT hint=" + std::to_string(m.reject_hint()) : "");
      break;
    case raft::pb::MSG_VOTE:
    case raft::pb::MSG_PRE_VOTE:
      s += " last=" + std::to_string(m.index()) + "/" + std::to_string(m.log_term());
      break;
    case raft::pb::MSG_VOTE_RESP:
    case raft::pb::MSG_PRE_VOTE_RESP:
      s += m.reject() ? " REJECT" : " GRANT";
      break;
    case raft::pb::MSG_HEARTBEAT:
    case raft::pb::MSG_HEARTBEAT_RESP:
      s += " commit=" + std::to_string(m.commit()) + " round=" + std::to_string(m.read_round());
      break;
    case raft::pb::MSG_SNAP:
    case raft::pb::MSG_SNAP_RESP:
      s += " snap=" + std::to_string(m.snapshot_meta().index()) +
           " offset=" + std::to_string(m.snapshot_offset());
      break;
    default:
      break;
  }
  return s;
}

}  // namespace

// A host's side of the Ready loop: castord's loop (raft::ReadyLoop) driving the simulated log,
// state machine and network.
class Simulation::LoopHost : public raft::ReadyHost {
 public:
  LoopHost(Simulation& sim, int i) : sim_(sim), i_(i) {}
  void on_soft_state(const raft::SoftState& ss) override;
  void send(const raft::pb::Message& m) override { sim_.send(m); }
  void apply(std::vector<raft::pb::Entry> committed) override {
    for (const auto& e : committed) sim_.apply(i_, e);
  }
  void persist(const raft::Ready& rd) override { sim_.persist(i_, rd); }
  void install_snapshot(const raft::pb::Snapshot& snapshot) override;
  void reads_released(std::vector<raft::ReadState> reads) override;
  void fatal(const Status& s) override { sim_.inv_.fail("a persist failed: " + s.to_string()); }
  void turn_finished() override { sim_.turn_finished(i_); }

 private:
  Simulation& sim_;
  int i_;
};

struct Simulation::Host {
  raft::NodeId id;
  std::unique_ptr<raft::MemoryLog> log;  // survives crashes
  std::unique_ptr<raft::Node> node;      // null while crashed
  std::unique_ptr<LoopHost> loop_host;
  std::unique_ptr<raft::ReadyLoop> loop;  // null while crashed
  // A persist the loop handed over that finishes at this time (0: none outstanding).
  uint64_t persist_due = 0;
  // A crash decided inside a loop callback, carried out once the loop has returned.
  const char* crash_after_turn = nullptr;
  // Whether that crash is the machine's and certainly takes what was sent in this moment.
  bool crash_loses_sends = false;
  raft::LogIndex commit_seen;  // the commit index at the end of the last turn
  // The Ready being persisted later, and the node's role and term when the loop handed it over.
  const raft::Ready* persisting = nullptr;
  raft::Role role_at_persist = raft::Role::kFollower;
  raft::Term term_at_persist;
  uint64_t down_until = 0;
  uint64_t restarts = 0;
  // While paused (now < paused_until) the node does nothing; a client's read waits for it.
  uint64_t paused_until = 0;
  bool read_waiting = false;
  // The chance that this host dies around the persist under way (Simulation::crash_chance),
  // and whether that persist grants a vote.
  double crash_chance = 0;
  bool granting_vote = false;
  // The volatile state machine.
  raft::LogIndex applied;
  uint64_t chain = 0;
  // This run's read names (as castord's: a fresh incarnation per start), the reads asked here
  // (context -> the read's id across the simulation, and the index committed anywhere when it
  // was asked), and reads Raft has released that wait for apply.
  raft::ReadContexts contexts{0};
  struct Asked {
    uint64_t read_id;
    raft::LogIndex required;
  };
  std::map<std::string, Asked> asked;
  std::vector<raft::ReadState> released;
};

namespace {

// Every planted bug, by name, with the properties it breaks and how it is set.
struct Plant {
  const char* name;
  std::array<const char*, 2> properties;  // the second may be null
  void (*set)(Options&);
};
constexpr Plant kPlants[] = {
    {"commit-old-term",
     {"leader completeness"},
     [](Options& o) { o.planted_bug = raft::PlantedBug::kCommitOldTermByCounting; }},
    {"vote-before-persist",
     {"election safety"},
     [](Options& o) { o.planted_bug = raft::PlantedBug::kVoteBeforePersist; }},
    {"read-without-heartbeat",
     {"linearizable read"},
     [](Options& o) { o.planted_bug = raft::PlantedBug::kReadWithoutHeartbeat; }},
    {"any-reply-confirms-read",
     {"linearizable read"},
     [](Options& o) { o.planted_bug = raft::PlantedBug::kAnyHeartbeatReplyConfirmsRead; }},
    {"keep-conflicting-suffix",
     {"log matching"},
     [](Options& o) { o.planted_bug = raft::PlantedBug::kKeepConflictingSuffix; }},
    {"reuse-read-contexts", {"linearizable read"}, [](Options& o) { o.reuse_read_contexts = true; }},
    // Vote grants are acknowledgements too (paper 5.2 as well as 5.3).
    {"ack-before-fsync",
     {"leader completeness", "election safety"},
     [](Options& o) { o.loop_bug = raft::LoopBug::kAckBeforeFsync; }},
    {"apply-before-commit",
     {"apply order"},
     [](Options& o) { o.loop_bug = raft::LoopBug::kApplyBeforeCommit; }},
};

bool same_plant(const Options& a, const Options& b) {
  return a.planted_bug == b.planted_bug && a.reuse_read_contexts == b.reuse_read_contexts &&
         a.loop_bug == b.loop_bug;
}

}  // namespace

std::vector<PlantedBugInfo> planted_bugs() {
  std::vector<PlantedBugInfo> out;
  for (const Plant& p : kPlants) {
    PlantedBugInfo info{p.name, {}};
    for (const char* property : p.properties) {
      if (property != nullptr) info.properties.emplace_back(property);
    }
    out.push_back(std::move(info));
  }
  return out;
}

bool PlantedBugInfo::breaks(const std::string& property) const {
  return std::find(properties.begin(), properties.end(), property) != properties.end();
}

std::string PlantedBugInfo::properties_text() const {
  std::string out;
  for (const auto& p : properties) out += (out.empty() ? "" : " or ") + p;
  return out;
}

std::string Outcome::property() const {
  return violations.empty() ? "" : violations.front().substr(0, violations.front().find(':'));
}

bool plant(const std::string& name, Options& options) {
  for (const Plant& p : kPlants) {
    if (name == p.name) {
      p.set(options);
      return true;
    }
  }
  return false;
}

std::string planted_name(const Options& options) {
  for (const Plant& p : kPlants) {
    Options planted;
    p.set(planted);
    if (same_plant(planted, options)) return p.name;
  }
  return "";
}

double Simulation::uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng_);
}

Simulation::Simulation(const Options& options) : opt_(options), rng_(options.seed) {
  CASTOR_ASSERT(opt_.nodes >= 1, "at least 1 node");
  CASTOR_ASSERT(opt_.nodes <= 9, "at most 9 nodes");
  draw_weather();
  raft::pb::ConfState conf;
  for (int i = 1; i <= opt_.nodes; ++i) conf.add_voters(static_cast<uint64_t>(i));
  for (int i = 0; i < opt_.nodes; ++i) {
    auto h = std::make_unique<Host>();
    h->id = raft::NodeId(static_cast<uint64_t>(i + 1));
    h->log = std::make_unique<raft::MemoryLog>(conf);
    h->loop_host = std::make_unique<LoopHost>(*this, i);
    hosts_.push_back(std::move(h));
    restart(i);
  }
  cut_.assign(opt_.nodes + 1, std::vector<bool>(opt_.nodes + 1, false));
}

// This seed's faults (Faults), drawn once.
void Simulation::draw_weather() {
  // Each seed draws its own weather: every kind of fault is on or off, and when on, mild to
  // hostile. Seeds that focus on one fault find the bugs that fault exposes sooner.
  auto maybe = [&](double max) { return rng_() % 2 ? uniform(0, max) : 0.0; };
  f_.drop = maybe(0.2);
  f_.duplicate = maybe(0.05);
  f_.delay_max_units = 1 + rng_() % 30;
  f_.slow = maybe(0.1);
  f_.slow_max_units = kUnitsPerTick * (10 + rng_() % 30);  // one to four election timeouts
  f_.crash = maybe(0.01);
  f_.crash_mid_ready = maybe(0.05);
  f_.crash_leader_on_commit = maybe(0.2);
  // Every seed crashes some voters and pauses some nodes: these faults find bugs that nothing
  // else does, and they cost little time.
  f_.crash_on_vote = uniform(0, 1);
  f_.crash_on_append = maybe(0.1);
  f_.crash_new_leader = maybe(0.3);
  f_.crash_on_read = maybe(0.2);
  f_.crash_loses_sends = maybe(1);
  f_.pause = uniform(0, 0.004);
  f_.pause_max_units = kUnitsPerTick * (20 + rng_() % 60);  // in all, one to nine election timeouts
  f_.persist_later = maybe(0.8);
  f_.restart_quickly = uniform(0, 1);
  f_.partition = maybe(0.01);
  f_.heal = uniform(0.001, 0.01);
  f_.hold = uniform(0, 1);
  f_.retry_max_units = kUnitsPerTick * (1 + rng_() % 20);
  f_.propose = uniform(0.05, 0.5);
  f_.read = uniform(0.02, 0.3);
  f_.transfer = maybe(0.004);
  f_.snapshot_every = 3 + rng_() % 40;
  // One entry per append and a window of one make every replication step its own event.
  f_.append_bytes_max = std::vector<uint64_t>{1, 24, 4096}[rng_() % 3];
  f_.inflight_max = 1 + static_cast<uint32_t>(rng_() % 4);
  f_.pre_vote = rng_() % 3 != 0;
  f_.check_quorum = rng_() % 4 != 0;
  // Half the seeds draw a calm weather focused on the story a rare bug needs, a quarter the
  // general weather with one kind of crash made frequent, a quarter the general weather as is.
  switch (rng_() % 8) {
    case 0:
    case 1:
      focus_on_split_tails();
      break;
    case 2:
      focus_on_stale_reads();
      break;
    case 3:
      focus_on_reads_across_restarts();
      break;
    case 4:
      focus_on_lost_votes();
      break;
    case 5:
      focus_on_lost_acks();
      break;
    default:
      break;
  }
}

Simulation::~Simulation() = default;

// Turns off every fault that strikes on its own (messages, crashes, pauses, cuts, transfers);
// what remains is the network's ordinary delay and how persists, restarts and held messages
// behave.
void Simulation::no_faults() {
  f_.drop = f_.duplicate = f_.slow = f_.crash = f_.crash_mid_ready = f_.crash_leader_on_commit = 0;
  f_.crash_leader_on_old_commit = f_.leader_in_minority = 0;
  f_.crash_on_vote = f_.crash_on_append = f_.crash_new_leader = f_.crash_on_read = f_.pause = f_.partition =
      f_.transfer = 0;
}

// A calm focused weather (`name`): no faults but those it turns on, so that the story it sets
// up is not cut short.
void Simulation::calm(const char* name) {
  trace(std::string("weather: ") + name);
  no_faults();
}

// Paper 5.4.2 (figure 8): leaders that take entries on the minority side of a cut, one after
// another, so that logs differ in their tails; then a leader that commits old entries dies at
// once. Leadership moves on now and then, as a stable leader would end the story.
void Simulation::focus_on_split_tails() {
  calm("split tails");
  f_.leader_in_minority = uniform(0.5, 1);
  f_.minority_max_units = kUnitsPerTick * (20 + rng_() % 60);  // in all, three to eight election timeouts
  f_.crash_leader_on_old_commit = 1;
  f_.transfer = uniform(0.005, 0.02);
  f_.pre_vote = true;
  // Long tails, which take several appends to send; the dead leader stays away while the
  // others elect.
  f_.propose = uniform(0.3, 0.6);
  f_.append_bytes_max = std::min<uint64_t>(f_.append_bytes_max, 24);
  f_.restart_quickly = 0;
}

// Thesis 6.4: a leader paused while others elect and commit, that asks a read as it resumes
// while answers to its old heartbeats arrive late.
void Simulation::focus_on_stale_reads() {
  calm("stale reads");
  f_.pause = uniform(0.001, 0.004);
  f_.slow = uniform(0.05, 0.3);
  f_.read = uniform(0.1, 0.4);
}

// Thesis 6.4: reads asked right before a crash, whose answers arrive late, after the node that
// asked restarted and asked again.
void Simulation::focus_on_reads_across_restarts() {
  calm("reads across restarts");
  f_.slow = uniform(0.1, 0.3);
  f_.hold = uniform(0.5, 1);
  f_.read = uniform(0.1, 0.4);
  f_.crash_on_read = uniform(0.05, 0.15);
  f_.restart_quickly = 1;
}

// Paper 5.2: the seed's own weather, with voters that die around the persist of their vote
// more often.
void Simulation::focus_on_lost_votes() {
  trace("weather: lost votes");
  f_.crash_on_vote = uniform(0.5, 1);
  // New leaders that die at once make elections follow one another, each a chance; the vote
  // granted in its last moment must reach its candidate.
  f_.crash_new_leader = uniform(0.3, 0.8);
  f_.crash_loses_sends = 0;
  f_.pre_vote = true;
}

// Paper 5.3: the seed's own weather, with followers that die around the persist of entries
// they acknowledge, and leaders that die right after counting them, more often.
void Simulation::focus_on_lost_acks() {
  trace("weather: lost acks");
  f_.crash_on_append = uniform(0.2, 0.5);
  f_.crash_leader_on_commit = uniform(0.1, 0.4);
  // The acknowledgement sent in a follower's last moment must reach the leader.
  f_.crash_loses_sends = 0;
}

raft::Config Simulation::config_for(int i) const {
  raft::Config c;
  c.id = hosts_[i]->id;
  c.election_timeout_ticks = 10;
  c.heartbeat_interval_ticks = 1;
  c.random_seed = mix(mix(opt_.seed, static_cast<uint64_t>(i)), hosts_[i]->restarts);
  // Small bounds, so that batching, pipelining windows and chunking are all exercised.
  c.append_bytes_max = f_.append_bytes_max;
  c.inflight_appends_max = f_.inflight_max;
  c.apply_bytes_max = 24;
  c.snapshot_chunk_bytes_max = 24;
  c.uncommitted_entries_max = 64;
  c.pre_vote = f_.pre_vote;
  c.check_quorum = f_.check_quorum;
  c.planted_bug = opt_.planted_bug;
  return c;
}

void Simulation::trace(const std::string& line) {
  if (opt_.trace) *opt_.trace << "[t=" << now_ << "] " << line << "\n";
}

bool Simulation::blocked(uint64_t from, uint64_t to) const {
  auto across = [&](const TimedCut& c) { return now_ < c.until && c.side[from] != c.side[to]; };
  return cut_[from][to] || std::any_of(timed_cuts_.begin(), timed_cuts_.end(), across);
}

// Cuts the new leader off, with at most (n - 1) / 2 - 1 followers, from the rest.
void Simulation::cut_off_minority(int leader) {
  const uint64_t n = static_cast<uint64_t>(opt_.nodes);
  std::erase_if(timed_cuts_, [this](const TimedCut& c) { return now_ >= c.until; });
  TimedCut c{std::vector<bool>(n + 1, false), now_ + kPauseMinUnits + rng_() % f_.minority_max_units};
  c.side[leader + 1] = true;
  std::string who = "n" + std::to_string(leader + 1);
  for (uint64_t more = rng_() % std::max<uint64_t>(1, (n - 1) / 2); more > 0; --more) {
    const uint64_t b = 1 + rng_() % n;
    if (!c.side[b]) who += ", n" + std::to_string(b);
    c.side[b] = true;
  }
  trace("partition: " + who + " cut off until t=" + std::to_string(c.until));
  timed_cuts_.push_back(std::move(c));
}

int Simulation::leader_index() const {
  int found = -1;
  uint64_t best_term = 0;
  for (int i = 0; i < opt_.nodes; ++i) {
    const auto& n = hosts_[i]->node;
    if (n && n->role() == raft::Role::kLeader && n->term().value >= best_term) {
      best_term = n->term().value;
      found = i;
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

Outcome Simulation::run() {
  trace("seed " + std::to_string(opt_.seed) + ", " + std::to_string(opt_.nodes) +
        " nodes, drop=" + std::to_string(f_.drop) + " dup=" + std::to_string(f_.duplicate) + " delay<=" +
        std::to_string(f_.delay_max_units) + " snapshot every " + std::to_string(f_.snapshot_every));
  while (now_ < opt_.chaos_units && inv_.violations().empty()) step();
  Outcome out;
  if (inv_.violations().empty()) {
    if (!liveness()) out.liveness_failed = true;
  }
  out.violations = inv_.violations();
  out.liveness_reason = context_;
  out.steps = steps_;
  out.committed = inv_.max_commit().value;
  out.reads_served = reads_served_;
  return out;
}

void Simulation::step() {
  ++steps_;
  ++now_;
  finish_persist_due();
  deliver_due();
  for (int i = 0; i < opt_.nodes; ++i) {
    Host& h = *hosts_[i];
    if (!h.node) {
      if (now_ >= h.down_until) restart(i);
      continue;
    }
    if (h.paused_until != 0) {
      if (now_ < h.paused_until) continue;
      resume(i);
      if (!h.node) continue;
    }
    if ((now_ + static_cast<uint64_t>(i) * 3) % kUnitsPerTick == 0) {
      const raft::Role before = h.node->role();
      h.node->tick();
      if (h.node->role() != before) {
        trace("n" + std::to_string(h.id.value) + " tick: " + raft::role_name(before) + " -> " +
              raft::role_name(h.node->role()) + " term " + std::to_string(h.node->term().value));
      }
      handle_ready(i);
    }
  }
  client_actions();
  faults();
  check_step();
}

void Simulation::deliver_due() {
  while (!net_.empty() && net_.top().deliver_at <= now_) {
    InFlight f = net_.top();
    net_.pop();
    const int to = static_cast<int>(f.msg.to()) - 1;
    Host& h = *hosts_[to];
    if (undeliverable(f)) continue;
    if (paused(to)) {
      // A stopped process's socket buffers hold what arrives; it reads it all, in the order it
      // arrived, right after resuming (and after the client's read that waited, see resume).
      net_.push({h.paused_until + 1, seq_++, f.sent_at, std::move(f.msg)});
      continue;
    }
    trace("deliver " + describe(f.msg));
    // Every message here was sent by a Castor node: a refusal is a false one.
    if (Status s = h.node->step(f.msg); !s.is_ok()) {
      inv_.fail("false refusal: n" + std::to_string(f.msg.to()) + " refused " + describe(f.msg) + ": " +
                s.message());
    }
    handle_ready(to);
  }
}

// Whether a message due now cannot be delivered: its link is cut or its node is down. It is
// lost, or held (as a peer link's queue holds it) and tried again until kHoldMaxUnits pass.
bool Simulation::undeliverable(InFlight& f) {
  if (!blocked(f.msg.from(), f.msg.to()) && hosts_[f.msg.to() - 1]->node) return false;
  if (now_ >= f.sent_at + kHoldMaxUnits || std::uniform_real_distribution<double>(0, 1)(rng_) >= f_.hold)
    return true;
  net_.push({now_ + 1 + rng_() % f_.retry_max_units, seq_++, f.sent_at, std::move(f.msg)});
  return true;
}

void Simulation::send(const Message& m) {
  std::uniform_real_distribution<double> coin(0, 1);
  if (blocked(m.from(), m.to()) && coin(rng_) >= f_.hold) return;
  if (coin(rng_) < f_.drop) return;
  const int copies = coin(rng_) < f_.duplicate ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    const uint64_t delay = coin(rng_) < f_.slow ? f_.slow_max_units : f_.delay_max_units;
    net_.push({now_ + 1 + rng_() % delay, seq_++, now_, m});
  }
}

void Simulation::client_actions() {
  std::uniform_real_distribution<double> coin(0, 1);
  const int i = static_cast<int>(rng_() % static_cast<uint64_t>(opt_.nodes));
  Host& h = *hosts_[i];
  if (!h.node) return;
  if (paused(i)) {
    // The client's read waits in the socket until the node resumes (resume asks it).
    h.read_waiting = h.read_waiting || coin(rng_) < f_.read;
    return;
  }
  if (coin(rng_) < f_.propose) {
    const std::string data = "p" + std::to_string(next_proposal_++);
    auto r = h.node->propose(data);
    if (r.is_ok())
      trace("n" + std::to_string(h.id.value) + " propose " + data + " at " + std::to_string(r->index.value));
    handle_ready(i);
  }
  if (!h.node) return;  // the proposal's Ready may have crashed it
  if (coin(rng_) < f_.read) ask_read(i);
  if (h.node && coin(rng_) < f_.transfer && h.node->role() == raft::Role::kLeader) {
    const raft::NodeId to(1 + rng_() % static_cast<uint64_t>(opt_.nodes));
    trace("n" + std::to_string(h.id.value) + " transfer leadership to n" + std::to_string(to.value));
    (void)h.node->transfer_leadership(to);
    handle_ready(i);
  }
}

void Simulation::ask_read(int i) {
  Host& h = *hosts_[i];
  const std::string ctx = h.contexts.next();
  const uint64_t read_id = next_read_++;
  if (h.node->read_index(ctx).is_ok()) {
    h.asked[ctx] = {read_id, inv_.max_commit()};
    trace("n" + std::to_string(h.id.value) + " read " + std::to_string(read_id) +
          " (committed so far: " + std::to_string(inv_.max_commit().value) + ")");
  }
  handle_ready(i);
  // Thesis 6.4: a read's answer may outlive the run that asked for it, and must not release a
  // read of the next run.
  if (h.node && std::uniform_real_distribution<double>(0, 1)(rng_) < f_.crash_on_read) {
    crash(i, "right after asking for a read");
  }
}

void Simulation::faults() {
  std::uniform_real_distribution<double> coin(0, 1);
  if (coin(rng_) < f_.crash) {
    const int i = static_cast<int>(rng_() % static_cast<uint64_t>(opt_.nodes));
    if (hosts_[i]->node) crash(i, "at random");
  }
  if (coin(rng_) < f_.pause) {
    // Mostly the leader: a stale leader is where reads and commits go wrong.
    const int l = leader_index();
    const int i =
        (l >= 0 && rng_() % 4 != 0) ? l : static_cast<int>(rng_() % static_cast<uint64_t>(opt_.nodes));
    if (hosts_[i]->node && !paused(i)) pause(i);
  }
  if (coin(rng_) < f_.partition) {
    const uint64_t n = static_cast<uint64_t>(opt_.nodes);
    switch (rng_() % 3) {
      case 0: {  // random halves, symmetric
        std::vector<bool> side(n + 1);
        for (uint64_t a = 1; a <= n; ++a) side[a] = rng_() % 2;
        for (uint64_t a = 1; a <= n; ++a)
          for (uint64_t b = 1; b <= n; ++b) cut_[a][b] = side[a] != side[b];
        trace("partition: random halves");
        break;
      }
      case 1: {  // isolate one node (often the leader)
        const int l = leader_index();
        const uint64_t a = (l >= 0 && rng_() % 2) ? static_cast<uint64_t>(l + 1) : 1 + rng_() % n;
        for (uint64_t b = 1; b <= n; ++b) cut_[a][b] = cut_[b][a] = a != b;
        trace("partition: isolate n" + std::to_string(a));
        break;
      }
      default: {  // one way
        const uint64_t a = 1 + rng_() % n, b = 1 + rng_() % n;
        if (a != b) cut_[a][b] = true;
        trace("partition: one-way n" + std::to_string(a) + " -/-> n" + std::to_string(b));
        break;
      }
    }
  }
  if (coin(rng_) < f_.heal) {
    for (auto& row : cut_) std::fill(row.begin(), row.end(), false);
    trace("heal");
  }
}

// A machine crash: what `from` sent at this very moment never left it.
void Simulation::lose_last_sends(raft::NodeId from) {
  std::vector<InFlight> kept;
  for (; !net_.empty(); net_.pop()) {
    if (net_.top().msg.from() != from.value || net_.top().sent_at != now_) kept.push_back(net_.top());
  }
  for (auto& f : kept) net_.push(std::move(f));
}

bool Simulation::paused(int i) const { return now_ < hosts_[i]->paused_until; }

void Simulation::pause(int i) {
  Host& h = *hosts_[i];
  // At least an election timeout, so that the others may well move on without it.
  h.paused_until = now_ + kPauseMinUnits + rng_() % f_.pause_max_units;
  trace("n" + std::to_string(h.id.value) + " PAUSE until t=" + std::to_string(h.paused_until));
}

// The node goes on where it stopped (a persist under way finishes at the next step). A
// client's read that waited is asked before anything that arrived meanwhile is read, so a
// leader deposed while paused takes it with its stale view.
void Simulation::resume(int i) {
  Host& h = *hosts_[i];
  h.paused_until = 0;
  trace("n" + std::to_string(h.id.value) + " resume");
  if (std::exchange(h.read_waiting, false)) ask_read(i);
}

void Simulation::crash(int i, const char* where) {
  Host& h = *hosts_[i];
  trace("n" + std::to_string(h.id.value) + " CRASH " + where);
  h.paused_until = 0;
  h.read_waiting = false;
  if (std::exchange(h.crash_loses_sends, false) ||
      std::uniform_real_distribution<double>(0, 1)(rng_) < f_.crash_loses_sends)
    lose_last_sends(h.id);
  // A persist still outstanding is lost with the process, as an unfinished fsync is.
  h.loop.reset();
  h.persisting = nullptr;
  h.persist_due = 0;
  h.crash_after_turn = nullptr;
  h.node.reset();
  h.asked.clear();
  h.released.clear();
  // A quick restart lands in the same election; a slow one misses several. A node that died
  // granting a vote comes back quickly, while that election's other candidates still ask for
  // votes (paper 5.2: a vote forgotten then elects a second leader).
  const bool quick = std::exchange(h.granting_vote, false) ||
                     std::uniform_real_distribution<double>(0, 1)(rng_) < f_.restart_quickly;
  h.down_until = now_ + (quick ? 1 + rng_() % (2 * kUnitsPerTick) : kUnitsPerTick * (5 + rng_() % 30));
}

void Simulation::restart(int i) {
  Host& h = *hosts_[i];
  // The state machine restarts from the durable snapshot and replays the committed log.
  h.applied = raft::LogIndex(0);
  h.chain = 0;
  const raft::pb::SnapshotMeta meta = h.log->snapshot_meta();
  if (meta.index() > 0) {
    auto st = decode_snapshot(h.log->snapshot_chunk(0, UINT64_MAX));
    CASTOR_ASSERT(st.has_value(), "the durable snapshot does not decode");
    h.applied = raft::LogIndex(st->first);
    h.chain = st->second;
  }
  ++h.restarts;
  // A new run names its reads afresh, as castord does; the planted host bug reuses the names.
  h.contexts = raft::ReadContexts(opt_.reuse_read_contexts ? 0 : mix(mix(opt_.seed, 1000 + i), h.restarts));
  h.node = std::make_unique<raft::Node>(config_for(i), *h.log);
  h.loop = std::make_unique<raft::ReadyLoop>(*h.node, *h.loop_host, h.log->hard_state(), opt_.loop_bug);
  h.commit_seen = h.node->committed();
  if (now_ > 0) trace("n" + std::to_string(h.id.value) + " restart");
  handle_ready(i);
}

// The host's Ready loop: castord's own (raft/ready_loop.h), with crash points around persists
// and persists that finish later, so that events reach a node between ready() and advance().
void Simulation::handle_ready(int i) {
  Host& h = *hosts_[i];
  if (!h.node) return;
  h.loop->drive();  // while a persist is outstanding: hands out what committed meanwhile
  while (h.node && !h.crash_after_turn && h.loop->has_work()) h.loop->drive();
  if (h.node && h.crash_after_turn) crash(i, h.crash_after_turn);
}

// The chance that host i dies just before or just after persisting `rd`: higher when `rd`
// grants a vote (paper 5.2: a vote must survive a crash) or appends entries (paper 5.3: so
// must an acknowledged entry), the moments a lost write turns into a broken promise.
double Simulation::crash_chance(int i, const raft::Ready& rd) const {
  double p = f_.crash_mid_ready;
  if (grants_vote(i, rd)) p += f_.crash_on_vote;
  if (!rd.entries.empty()) p += f_.crash_on_append;
  return p;
}

// Whether `rd` records a vote of host i for another node that its log does not hold yet.
bool Simulation::grants_vote(int i, const raft::Ready& rd) const {
  const Host& h = *hosts_[i];
  const uint64_t vote = rd.hard_state ? rd.hard_state->vote() : 0;
  const raft::pb::HardState& durable = h.log->hard_state();
  return vote != 0 && vote != h.id.value &&
         (vote != durable.vote() || rd.hard_state->term() != durable.term());
}

void Simulation::persist(int i, const raft::Ready& rd) {
  Host& h = *hosts_[i];
  std::uniform_real_distribution<double> coin(0, 1);
  h.crash_chance = crash_chance(i, rd);
  h.granting_vote = grants_vote(i, rd);
  if (coin(rng_) < h.crash_chance) {
    h.crash_after_turn = "before persisting";
    return;
  }
  h.persisting = &rd;
  h.role_at_persist = h.node->role();
  h.term_at_persist = h.node->term();
  if (coin(rng_) < f_.persist_later) {
    h.persist_due = now_ + 1 + rng_() % (2 * kUnitsPerTick);
    return;
  }
  complete_persist(i);  // the caller, handle_ready, goes on driving
}

// The outstanding persist of host i: written, then reported to the loop, unless the node dies
// in between.
void Simulation::complete_persist(int i) {
  Host& h = *hosts_[i];
  const raft::Ready& rd = *h.persisting;
  h.persisting = nullptr;
  h.persist_due = 0;
  write_log(i, rd);
  if (std::uniform_real_distribution<double>(0, 1)(rng_) < h.crash_chance) {
    h.crash_after_turn = "after persisting, before sending";
    return;
  }
  h.loop->persisted(Status::ok());
}

// Persists finishing later (castord's log thread) whose time has come.
void Simulation::finish_persist_due() {
  for (int i = 0; i < opt_.nodes; ++i) {
    Host& h = *hosts_[i];
    if (!h.node || h.persisting == nullptr || now_ < h.persist_due || paused(i)) continue;
    complete_persist(i);
    handle_ready(i);
  }
}

void Simulation::write_log(int i, const raft::Ready& rd) {
  Host& h = *hosts_[i];
  if (rd.snapshot) {
    auto st = decode_snapshot(rd.snapshot->data());
    if (!st || st->first != rd.snapshot->meta().index()) {
      inv_.fail("snapshot transfer: n" + std::to_string(h.id.value) +
                " received a damaged snapshot at index " + std::to_string(rd.snapshot->meta().index()));
      return;
    }
    h.log->install_snapshot(*rd.snapshot);
  }
  if (!rd.entries.empty()) {
    const raft::LogIndex first(rd.entries.front().index());
    if (h.role_at_persist == raft::Role::kLeader) {
      for (const auto& e : rd.entries) {
        const raft::LogIndex x(e.index());
        if (x <= h.log->last_index() && h.log->term(x) != raft::Term(e.term())) {
          inv_.leader_overwrote(h.id, h.term_at_persist, x);
        }
      }
    }
    std::optional<raft::Term> prev = h.log->term(first - 1);
    for (const auto& e : rd.entries) {
      if (prev) inv_.entry_persisted(h.id, e, *prev);
      prev = raft::Term(e.term());
    }
  }
  h.log->append(rd.hard_state, rd.entries);
}

void Simulation::turn_finished(int i) {
  Host& h = *hosts_[i];
  raft::Node& node = *h.node;
  inv_.commit_seen(node.committed(), node.term(), [&node](raft::LogIndex x) { return node.term_at(x); });
  serve_reads(i);
  maybe_snapshot(i);
  // The most dangerous moment for a leader to die: it has just learned of a new commit.
  const bool advanced = node.committed() > h.commit_seen;
  bool passed_old_terms = false;
  for (raft::LogIndex x = h.commit_seen + 1; advanced && x <= node.committed() && !passed_old_terms; ++x) {
    passed_old_terms = node.term_at(x).value_or(node.term()) < node.term();
  }
  h.commit_seen = node.committed();
  if (node.role() != raft::Role::kLeader || !advanced) return;
  std::uniform_real_distribution<double> coin(0, 1);
  if (passed_old_terms && coin(rng_) < f_.crash_leader_on_old_commit) {
    h.crash_after_turn = "as leader, right after committing entries of earlier terms";
    h.crash_loses_sends = true;
  } else if (coin(rng_) < f_.crash_leader_on_commit) {
    h.crash_after_turn = "as leader, right after its commit index advanced";
  }
}

void Simulation::LoopHost::on_soft_state(const raft::SoftState& ss) {
  Host& h = *sim_.hosts_[i_];
  raft::Node& node = *h.node;
  sim_.trace("n" + std::to_string(h.id.value) + " is " + raft::role_name(ss.role) + " in term " +
             std::to_string(ss.term.value) + ", leader n" + std::to_string(ss.leader.value));
  if (ss.role != raft::Role::kLeader) return;
  sim_.inv_.leader_seen(h.id, ss.term);
  sim_.inv_.leader_elected(h.id, ss.term, h.log->first_index(),
                           [&node](raft::LogIndex x) { return node.term_at(x); });
  // Paper 5.4.2 (figure 8): leaders that die soon after their election leave logs that differ
  // in their uncommitted tails, which is what committing an old term's entry needs to go wrong.
  std::uniform_real_distribution<double> coin(0, 1);
  if (coin(sim_.rng_) < sim_.f_.crash_new_leader) {
    h.crash_after_turn = "as leader, right after its election";
  } else if (coin(sim_.rng_) < sim_.f_.leader_in_minority) {
    sim_.cut_off_minority(i_);
  }
}

void Simulation::LoopHost::install_snapshot(const raft::pb::Snapshot& snapshot) {
  Host& h = *sim_.hosts_[i_];
  auto st = decode_snapshot(snapshot.data());
  if (!st) return;  // write_log reported it
  h.applied = raft::LogIndex(st->first);
  h.chain = st->second;
  sim_.inv_.applied(h.id, h.applied, h.chain);
  sim_.trace("n" + std::to_string(h.id.value) + " installed snapshot at " + std::to_string(st->first));
}

void Simulation::LoopHost::reads_released(std::vector<raft::ReadState> reads) {
  Host& h = *sim_.hosts_[i_];
  for (auto& r : reads) h.released.push_back(std::move(r));
}

void Simulation::apply(int i, const raft::pb::Entry& e) {
  Host& h = *hosts_[i];
  if (raft::LogIndex(e.index()) != h.applied + 1) {
    // Reported, and not applied: the state machine must not run ahead of what the core handed
    // out, or its snapshots would compact entries the core still needs.
    inv_.fail("apply order: n" + std::to_string(h.id.value) + " applied " + std::to_string(e.index()) +
              " after " + std::to_string(h.applied.value));
    return;
  }
  h.applied = raft::LogIndex(e.index());
  h.chain = mix(mix(mix(h.chain, e.index()), e.term()), std::hash<std::string>()(e.data()));
  inv_.applied(h.id, h.applied, h.chain);
  if (!e.data().empty() && e.data()[0] == 'm') markers_applied_.emplace(e.data(), e.index());
}

void Simulation::serve_reads(int i) {
  Host& h = *hosts_[i];
  auto ready_to_serve = [&h](const raft::ReadState& r) { return r.index <= h.applied; };
  for (const auto& r : h.released) {
    if (!ready_to_serve(r)) continue;
    auto it = h.asked.find(r.context);
    if (it == h.asked.end()) continue;  // a duplicated release of a read already served
    inv_.read_served(h.id, it->second.read_id, h.applied, it->second.required);
    trace("n" + std::to_string(h.id.value) + " served read " + std::to_string(it->second.read_id) + " at " +
          std::to_string(h.applied.value));
    h.asked.erase(it);
    ++reads_served_;
  }
  std::erase_if(h.released, ready_to_serve);
}

void Simulation::maybe_snapshot(int i) {
  Host& h = *hosts_[i];
  const raft::pb::SnapshotMeta old = h.log->snapshot_meta();
  if (h.applied.value < old.index() + f_.snapshot_every) return;
  // As castord's maybe_compact: never compact past what the core has handed out, or it would
  // later ask the log for entries that are gone.
  if (h.applied > h.node->applied()) return;
  raft::pb::SnapshotMeta meta;
  meta.set_index(h.applied.value);
  meta.set_term(h.log->term(h.applied).value().value);
  *meta.mutable_conf() = old.conf();
  h.log->save_snapshot(std::move(meta), encode_snapshot(h.applied.value, h.chain));
}

void Simulation::check_step() {
  for (const auto& h : hosts_) {
    if (h->node && h->node->role() == raft::Role::kLeader) inv_.leader_seen(h->id, h->node->term());
  }
}

// ---------------------------------------------------------------------------------------------

bool Simulation::liveness() {
  trace("--- liveness: heal everything, restart every node");
  for (auto& row : cut_) std::fill(row.begin(), row.end(), false);
  timed_cuts_.clear();
  no_faults();
  // The clients go on, so that a run that did little in the chaos phase does its minimum now.
  for (int i = 0; i < opt_.nodes; ++i) {
    Host& h = *hosts_[i];
    if (!h.node) restart(i);
    if (h.paused_until != 0) h.paused_until = now_ + 1;  // resumes at the next step
  }
  // Fresh proposals, retried by the simulated client until some node applies them.
  constexpr int kMarkers = 3;
  const std::map<std::string, uint64_t>& applied_at = markers_applied_;
  std::map<std::string, uint64_t> proposed_at;
  std::vector<std::string> markers;
  for (int k = 0; k < kMarkers; ++k) markers.push_back("m" + std::to_string(k));
  const uint64_t deadline = now_ + opt_.liveness_ticks_max * kUnitsPerTick;
  while (now_ < deadline) {
    step();
    if (!inv_.violations().empty()) return true;  // reported as a violation instead
    const int l = leader_index();
    if (l >= 0) {
      for (const auto& mk : markers) {
        if (applied_at.count(mk)) continue;
        auto it = proposed_at.find(mk);
        if (it != proposed_at.end() && now_ < it->second + 3 * 10 * kUnitsPerTick) continue;
        if (hosts_[l]->node->propose(mk).is_ok()) proposed_at[mk] = now_;
        handle_ready(l);
      }
    }
    if (static_cast<int>(applied_at.size()) < kMarkers || leader_index() < 0) continue;
    uint64_t need = 0;
    for (const auto& [mk, at] : applied_at) need = std::max(need, at);
    bool everyone = true;
    for (const auto& h : hosts_) everyone = everyone && h->node && h->applied.value >= need;
    if (everyone && enough_work()) {
      trace("--- liveness: every marker applied everywhere by t=" + std::to_string(now_));
      return true;
    }
  }
  context_ = "after healing, no stable leader applied every fresh proposal on every node within " +
             std::to_string(opt_.liveness_ticks_max) +
             " ticks (markers applied: " + std::to_string(applied_at.size()) + "/" +
             std::to_string(kMarkers) + ", " + std::to_string(inv_.max_commit().value) +
             " entries committed, " + std::to_string(reads_served_) + " reads checked)";
  return false;
}

bool Simulation::enough_work() const {
  return inv_.max_commit().value >= opt_.committed_min && reads_served_ >= opt_.reads_min;
}

}  // namespace castor::sim

#include "kv/server/server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <random>

#include "kv/machine/state_machine.h"
#include "kv/server/applier.h"
#include "kv/server/compaction.h"
#include "kv/server/error_response.h"
#include "kv/server/failpoints.h"
#include "kv/server/health.h"
#include "kv/server/http_api.h"
#include "kv/server/listeners.h"
#include "kv/server/log_writer.h"
#include "kv/server/node_status.h"
#include "kv/server/peer_intake.h"
#include "kv/server/pending.h"
#include "kv/server/reads.h"
#include "kv/server/recovery.h"
#include "kv/server/requests.h"
#include "kv/server/server_metrics.h"
#include "kv/server/storage_room.h"
#include "kv/server/transfers.h"
#include "kv/server/writes.h"
#include "net/client_listener.h"
#include "net/http_server.h"
#include "net/peer_transport.h"
#include "raft/base/assert.h"
#include "raft/node.h"
#include "raft/read_context.h"
#include "raft/ready_loop.h"
#include "raft/storage/durable_dir.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The largest Raft entry this node proposes: one request of the largest size with its
// command envelope (timestamps, session fields). Smaller commands are batched into one entry
// only up to this size, so every entry fits one message to the followers.
uint64_t entry_bytes_max(const ServerOptions& o) { return o.limits.request_bytes_max + (4 << 10); }

// What a peer frame carries besides its entries' data: the message envelope, entry headers,
// and the Hello. Generous: a frame too small for the largest entry stops replication for good.
constexpr uint64_t kPeerFrameOverheadBytes = 64 << 10;
// What one append or snapshot message carries at most besides a single larger entry
// (raft::Config's append_bytes_max and snapshot_chunk_bytes_max).
constexpr uint64_t kMessageDataBytesMax = 1 << 20;

// The member number of `name` (its place in --initial-cluster, from 1); 0 when none.
uint64_t member_id(const ServerOptions& o, const std::string& name) {
  for (size_t i = 0; i < o.members.size(); ++i) {
    if (o.members[i].first == name) return i + 1;
  }
  return 0;
}

// The Raft core's configuration: one tick per heartbeat interval.
raft::Config raft_config(const ServerOptions& o, uint64_t id) {
  raft::Config cfg;
  cfg.id = raft::NodeId(id);
  cfg.heartbeat_interval_ticks = 1;
  cfg.election_timeout_ticks = std::max<uint32_t>(2, o.election_ms / o.heartbeat_ms);
  cfg.random_seed = std::random_device()();
  cfg.append_bytes_max = kMessageDataBytesMax;
  cfg.snapshot_chunk_bytes_max = kMessageDataBytesMax;
  cfg.entry_bytes_max = entry_bytes_max(o);
  return cfg;
}

// 64 random bits: a tag no earlier run of this node chose (with overwhelming probability).
uint64_t random_u64() { return (uint64_t{std::random_device()()} << 32) | std::random_device()(); }

}  // namespace

// The host of one node: raft::ReadyHost for the Ready loop (raft/ready_loop.h), and the host
// of its write, read and apply paths (kv/server/writes.h, reads.h, applier.h).
class Server::Impl : private raft::ReadyHost,
                     private WritesHost,
                     private ReadsHost,
                     private ApplierHost,
                     private RequestsHost {
 public:
  Impl(ServerOptions options, uint64_t id, std::unique_ptr<raft::LmdbLog> log,
       std::unique_ptr<StateMachine> sm)
      : opt_(std::move(options)),
        id_(id),
        log_(std::move(log)),
        sm_(std::move(sm)),
        node_(std::make_unique<raft::Node>(raft_config(opt_, id_), *log_)),
        tick_timer_(io_) {
    raft::ReadyHost& host = *this;
    loop_ = std::make_unique<raft::ReadyLoop>(*node_, host, log_->hard_state());
    term_.store(log_->hard_state().term(), std::memory_order_relaxed);
  }

  Status run();
  void stop() {
    asio::post(io_, [this] { shutdown(); });
  }
  uint64_t term() const { return term_.load(std::memory_order_relaxed); }

 private:
  // Events.
  void on_tick();
  void on_peer_message(raft::pb::Message m);
  // The Ready loop (raft/ready_loop.h) and what it asks of this host.
  void schedule_drive();
  void drive();
  void on_soft_state(const raft::SoftState& ss) override;
  // Hands a Raft message to the transport (and to the corrupt-snapshot-chunk failpoint).
  void send(const raft::pb::Message& m) override;
  // Hands committed entries to the Applier, after failing the writers whose proposals another
  // leader's entries replaced.
  void apply(std::vector<raft::pb::Entry> committed) override;
  void persist(const raft::Ready& rd) override;
  void install_snapshot(const raft::pb::Snapshot& snapshot) override;
  void reads_released(std::vector<raft::ReadState> reads) override;
  void fatal(const Status& s) override;
  void turn_finished() override;
  // ApplierHost: what the apply thread reports.
  void batch_applied(AppliedBatch batch) override;
  void applied_moved(std::optional<raft::LogIndex> snapshot) override;
  void snapshot_taken(Result<SnapshotInfo> info, std::string data) override;
  void apply_failed(const Status& s) override { fatal(s); }
  // RequestsHost: the paths of valid requests (kv/server/requests.h).
  bool stopping() const override { return stopping_; }
  void read(pb::ClientRequest req, Respond respond) override;
  // Only a leader with storage to spare takes writes.
  void write(const pb::ClientRequest& req, Respond respond) override;
  void transfer(const pb::ClientRequest& req, Respond respond) override;
  // ReadsHost (and serializable reads): serves one read from the state machine.
  void serve_read(const pb::ClientRequest& req, const Respond& respond) override;
  Status read_index(const std::string& context) override;
  raft::LogIndex committed() const override { return node_->committed(); }
  void commit_soon() override { applier_.commit_soon(); }
  // This node's view (kv/server/node_status.h), and the health verdict in it (health.h).
  pb::StatusResponse status() const override;
  std::string unhealthy_reason() const;
  bool entries_waiting() const;  // a leader with uncommitted entries
  // Every answer to a client goes out here: the header (term, leader, node, revision) filled in,
  // then handed to `respond`, the request's way back (a frame, an HTTP response).
  void answer(const Respond& respond, pb::ClientResponse r) const override;
  void fill_header(pb::ClientResponse& r) const override;
  // WritesHost: Node::propose, then a drive to carry the entry.
  Result<raft::Proposal> propose(std::string data) override;
  // WritesHost and ApplierHost.
  void post(std::function<void()> job) override { asio::post(io_, std::move(job)); }
  // Metrics (kv/server/server_metrics.h).
  std::string render_metrics();
  void fail_waiters_past_deadline();
  // Snapshots and compaction.
  void maybe_snapshot();
  void maybe_compact();
  void shutdown();

  ServerOptions opt_;
  const uint64_t id_;
  std::unique_ptr<raft::LmdbLog> log_;
  std::unique_ptr<StateMachine> sm_;
  std::unique_ptr<raft::Node> node_;

  asio::io_context io_;
  asio::steady_timer tick_timer_;
  Listeners listeners_{
      io_, opt_, id_,
      ListenerHandlers{
          [this](raft::pb::Message m) { on_peer_message(std::move(m)); },
          [this](std::string payload, net::ClientListener::Respond respond) {
            requests_.frame(payload, std::move(respond));
          },
          [this](pb::ClientRequest req, Respond send) { requests_.handle(std::move(req), std::move(send)); },
          [this](pb::ClientRequest req, net::HttpServer::Respond respond) {
            requests_.http_watch(req, std::move(respond));
          },
          [this] { return render_metrics(); },
          [this] { return status(); },
      }};
  ServerMetrics metrics_;
  StorageRoom room_{*log_, opt_.data_dir, opt_.disk_reserve_bytes};
  PeerIntake peers_in_{*node_, room_.disk()};
  LogWriter log_writer_{*log_, metrics_, opt_.slow_fsync};

  // Ready by Ready: persist, send, apply, in the order the core's contract asks.
  std::unique_ptr<raft::ReadyLoop> loop_;
  bool drive_posted_ = false;
  bool stopping_ = false;
  Status fatal_;

  CommitWatch commit_watch_;
  uint64_t last_leader_ = 0;
  std::atomic<uint64_t> term_{0};  // for log lines on any thread
  // Requests taken and not yet answered (kv/server/pending.h): writes in Writes, linearizable
  // reads in Reads, leadership transfers in Transfers.
  Writes writes_{WritesOptions{entry_bytes_max(opt_), opt_.sessions.session_timeout_ms, opt_.request_timeout},
                 *this, metrics_};

  Reads reads_{ReadsOptions{opt_.request_timeout, random_u64(), opt_.unsafe_local_reads}, *this};

  Transfers transfers_{opt_.request_timeout};

  Compaction compaction_{opt_.snapshot_entries, raft::LogIndex(log_->snapshot_meta().index())};

  WatchHub watches_{
      opt_.watch,
      [this](uint64_t after, uint64_t page_bytes_max) { return sm_->read_history(after, page_bytes_max); },
      sm_->revision(), metrics_.watch};

  Requests requests_{opt_.limits, *this, metrics_, watches_, random_u64()};

  // Last: its apply thread reports into the members above until join() in run().
  Applier applier_{*sm_, metrics_, *this};
};

// ---------------------------------------------------------------------------------------------
// Lifecycle

Status Server::Impl::run() {
  if (Status s = listeners_.start(); !s.is_ok()) return s;
  metrics_.add_node_gauges(status());
  spdlog::info("node {} of cluster '{}' serving clients on {}, peers on {}, HTTP on {}; applied index {}",
               id_, opt_.cluster_id, opt_.listen_client.to_string(), opt_.listen_peer.to_string(),
               listeners_.http_address().empty() ? "(none)" : listeners_.http_address(),
               applier_.applied().value);
  on_tick();
  io_.run();
  log_writer_.join();
  applier_.join();
  return fatal_;
}

void Server::Impl::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  tick_timer_.cancel();
  watches_.close_all();
  listeners_.stop();
  // The log thread finishes the write in flight first; then the loop ends.
  log_writer_.post([this] { asio::post(io_, [this] { io_.stop(); }); });
}

void Server::Impl::fatal(const Status& s) {
  spdlog::critical("stopping: {}", s.to_string());
  fatal_ = s;
  shutdown();
}

// ---------------------------------------------------------------------------------------------
// Events

void Server::Impl::on_tick() {
  if (stopping_) return;
  node_->tick();
  room_.refresh(Clock::now());
  commit_watch_.observe(entries_waiting(), node_->committed().value, Clock::now());
  fail_waiters_past_deadline();
  watches_.turn(Clock::now());
  schedule_drive();
  tick_timer_.expires_after(std::chrono::milliseconds(opt_.heartbeat_ms));
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_tick();
  });
}

void Server::Impl::on_peer_message(raft::pb::Message m) {
  if (stopping_) return;
  if (peers_in_.take(m)) schedule_drive();
}

void Server::Impl::answer(const Respond& respond, pb::ClientResponse r) const {
  fill_header(r);
  respond(std::move(r));
}

void Server::Impl::fill_header(pb::ClientResponse& r) const {
  pb::ResponseHeader* h = r.mutable_header();
  // Answers computed by the state machine carry the revision they saw; the rest (errors, status)
  // the latest committed one. Never an index: revisions and indexes are different counters.
  const bool from_state_machine = r.response_case() == pb::ClientResponse::kGet ||
                                  r.response_case() == pb::ClientResponse::kRange ||
                                  r.response_case() == pb::ClientResponse::kWrite ||
                                  r.response_case() == pb::ClientResponse::kRegisterClient;
  if (!from_state_machine && h->revision() == 0) h->set_revision(sm_->revision());
  h->set_term(node_->term().value);
  h->set_leader(node_->leader().value);
  h->set_node(id_);
}

// ---------------------------------------------------------------------------------------------
// The Ready loop (docs/DESIGN.md, "The Ready contract")

void Server::Impl::schedule_drive() {
  // Posted, not called: every event already queued (peer messages, client requests) is taken
  // in first, so that one Ready, one fsync and one apply batch serve all of them.
  if (drive_posted_) return;
  drive_posted_ = true;
  asio::post(io_, [this] { drive(); });
}

void Server::Impl::drive() {
  drive_posted_ = false;
  if (stopping_) return;
  // Compaction runs between Readies, with no log write in flight (maybe_compact).
  if (!loop_->persisting()) maybe_compact();
  loop_->drive();
}

void Server::Impl::persist(const raft::Ready& rd) {
  if (!rd.snapshot && node_->role() == raft::Role::kFollower && log_writer_.last_write_fast()) {
    // A follower has nothing to send until this write is durable (its acknowledgement needs
    // it), so on a fast disk it writes here and saves two thread hand-offs on every write's
    // critical path (measured on the 2-core machine: put p50 at one client -6%, put x256 +7%,
    // docs/PERFORMANCE.md). After a slow write the log thread takes the next, so that this
    // thread keeps answering pings, status and serializable reads while the disk is slow.
    return loop_->persisted(log_writer_.write(rd));
  }
  // `rd` stays put until persisted() (ReadyLoop's contract).
  log_writer_.post([this, &rd] {
    Status s = log_writer_.write(rd);
    asio::post(io_, [this, s] {
      if (stopping_) return;
      loop_->persisted(s);
      // Straight on to the next Ready, not through the queue: whatever reached the core during
      // the fsync is in it already, and waiting behind every queued event would leave the log
      // thread idle for as long (at 256 clients, longer than the fsync itself).
      drive();
    });
  });
}

void Server::Impl::send(const raft::pb::Message& m) {
  if (m.type() == raft::pb::MSG_APP_RESP) failpoint("before-send-append-response");
  if (m.type() == raft::pb::MSG_SNAP && m.snapshot_done() && !m.snapshot_chunk().empty() &&
      failpoint_once("corrupt-snapshot-chunk")) {
    raft::pb::Message damaged = m;
    (*damaged.mutable_snapshot_chunk())[damaged.snapshot_chunk().size() / 2] ^= 0x20;
    return listeners_.send(damaged);
  }
  listeners_.send(m);
}

void Server::Impl::install_snapshot(const raft::pb::Snapshot& snapshot) {
  // Applied before any entry after it (the Applier keeps log order).
  applier_.install(snapshot);
}

void Server::Impl::reads_released(std::vector<raft::ReadState> reads) { reads_.released(reads); }

void Server::Impl::turn_finished() {
  reads_.serve_ready(applier_.applied());
  schedule_drive();
}

void Server::Impl::apply(std::vector<raft::pb::Entry> committed) {
  writes_.forget_lost(committed);
  applier_.apply(std::move(committed));
}

void Server::Impl::batch_applied(AppliedBatch batch) {
  writes_.answer_applied(std::move(batch.answers));
  if (!batch.events.empty()) watches_.publish(std::move(batch.events), batch.revision, Clock::now());
}

void Server::Impl::applied_moved(std::optional<raft::LogIndex> snapshot) {
  if (snapshot) {
    compaction_.installed(*snapshot);
    watches_.snapshot_installed(sm_->revision());
  } else {
    watches_.committed(sm_->revision());
  }
  reads_.serve_ready(applier_.applied());
  // Not right after installing one: the leader's snapshot already covers what was applied.
  if (!snapshot) maybe_snapshot();
}

void Server::Impl::on_soft_state(const raft::SoftState& ss) {
  term_.store(ss.term.value, std::memory_order_relaxed);
  if (ss.leader.value != last_leader_) {
    if (ss.leader.value != 0) metrics_.leader_changes.inc();
    last_leader_ = ss.leader.value;
  }
  const uint64_t leader = ss.leader.value;
  const std::string leader_name =
      leader >= 1 && leader <= opt_.members.size() ? opt_.members[leader - 1].first : "none";
  spdlog::info("now {}, leader {}", raft::role_name(ss.role), leader_name);
  // Reads not yet released may never be: the core dropped them with its leadership. They had
  // no effect, so the client may retry them anywhere.
  reads_.drop_unreleased();
  for (auto& [respond, r] : transfers_.took_over(leader)) answer(respond, std::move(r));
}

// ---------------------------------------------------------------------------------------------
// Writes

void Server::Impl::write(const pb::ClientRequest& req, Respond respond) {
  if (node_->role() != raft::Role::kLeader) {
    return answer(respond, error_response(req.request_id(), Code::kNotLeader, "not the leader"));
  }
  if (std::string why = room_.full_reason(); !why.empty()) {
    if (room_.log_nearly_full()) maybe_snapshot();  // compaction frees the log's map; nothing frees a disk
    return answer(respond, error_response(req.request_id(), Code::kResourceExhausted, why));
  }
  writes_.take(req, std::move(respond));
}

Result<raft::Proposal> Server::Impl::propose(std::string data) {
  Result<raft::Proposal> p = node_->propose(std::move(data));
  schedule_drive();
  return p;
}

void Server::Impl::fail_waiters_past_deadline() {
  const auto now = Clock::now();
  writes_.fail_expired(now);
  reads_.fail_expired(now);
  for (auto& [respond, r] : transfers_.expired(now)) answer(respond, std::move(r));
}

// ---------------------------------------------------------------------------------------------
// Reads (thesis 6.4)

void Server::Impl::read(pb::ClientRequest req, Respond respond) {
  const bool serializable = req.has_get() ? req.get().serializable() : req.range().serializable();
  if (serializable) return serve_read(req, respond);
  reads_.start(std::move(req), std::move(respond), applier_.applied());
}

Status Server::Impl::read_index(const std::string& context) {
  Status s = node_->read_index(context);
  if (s.is_ok()) schedule_drive();
  return s;
}

void Server::Impl::serve_read(const pb::ClientRequest& req, const Respond& respond) {
  Result<pb::ClientResponse> r = req.has_get() ? sm_->get(req.get()) : sm_->range(req.range());
  if (!r.is_ok())
    return answer(respond, error_response(req.request_id(), r.status().code(), r.status().message()));
  r->set_request_id(req.request_id());
  answer(respond, std::move(*r));
}

// ---------------------------------------------------------------------------------------------
// Admin

void Server::Impl::transfer(const pb::ClientRequest& req, Respond respond) {
  const uint64_t target = member_id(opt_, req.transfer_leader().target());
  if (target == 0) {
    return answer(respond, error_response(req.request_id(), Code::kInvalidArgument,
                                          "no member named '" + req.transfer_leader().target() + "'"));
  }
  if (target == id_ && node_->role() == raft::Role::kLeader) {
    return answer(respond, Transfers::done(req.request_id()));
  }
  Status s = node_->transfer_leadership(raft::NodeId(target));
  if (!s.is_ok()) return answer(respond, error_response(req.request_id(), s.code(), s.message()));
  transfers_.wait(req.request_id(), std::move(respond), target);
  schedule_drive();
}

pb::StatusResponse Server::Impl::status() const {
  std::optional<uint64_t> sessions;
  if (auto n = sm_->session_count(); n.is_ok()) sessions = *n;
  return node_status({opt_, id_, *node_, applier_.applied().value, compaction_.snapshot_index().value,
                      listeners_.transport(), listeners_.http_address(), unhealthy_reason(), sessions,
                      room_.log_file_bytes()});
}

std::string Server::Impl::unhealthy_reason() const {
  const auto stall_bound =
      std::max<Clock::duration>(std::chrono::seconds(2), 2 * std::chrono::milliseconds(opt_.election_ms));
  HealthFacts facts;
  facts.stopping = stopping_;
  facts.leader = node_->leader().value;
  facts.role = node_->role();
  facts.commit = node_->committed().value;
  facts.applied = applier_.applied().value;
  facts.apply_lag_max = opt_.health_apply_lag_max;
  facts.storage_full = room_.full_reason();
  facts.last_index = node_->last_index().value;
  facts.commit_stalled = commit_watch_.stalled(entries_waiting(), facts.commit, Clock::now(), stall_bound);
  return kv::unhealthy_reason(facts);
}

bool Server::Impl::entries_waiting() const {
  return node_->role() == raft::Role::kLeader && node_->last_index() > node_->committed();
}

// ---------------------------------------------------------------------------------------------
// Metrics (docs/HTTP.md lists them)

std::string Server::Impl::render_metrics() {
  listeners_.count_rejected(metrics_);
  metrics_.count_rejected("peer", peers_in_.refused());
  return metrics_.render({status(), room_.disk().low(), reads_.waiting(), writes_.waiting()});
}

// ---------------------------------------------------------------------------------------------
// Snapshots and log compaction (paper section 7)

void Server::Impl::maybe_snapshot() {
  if (stopping_ || !compaction_.due(applier_.applied(), room_.log_nearly_full())) return;
  compaction_.started();
  applier_.take_snapshot();
}

void Server::Impl::snapshot_taken(Result<SnapshotInfo> info, std::string data) {
  if (!info.is_ok()) {
    compaction_.abandoned();
    return fatal(info.status());
  }
  compaction_.taken(*info, std::move(data));
  schedule_drive();
}

void Server::Impl::maybe_compact() {
  Result<bool> compacted = compaction_.compact(node_->applied(), *log_);
  if (!compacted.is_ok()) return fatal(compacted.status());
  if (!*compacted) return;
  metrics_.snapshots_taken.inc();
  spdlog::info("snapshot at index {}; log compacted", compaction_.snapshot_index().value);
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::open(ServerOptions options) {
  const uint64_t id = member_id(options, options.name);
  if (id == 0)
    return Status(Code::kInvalidArgument, "--name '" + options.name + "' is not in --initial-cluster");
  if (options.heartbeat_ms == 0 || options.election_ms < 2 * options.heartbeat_ms) {
    return Status(Code::kInvalidArgument, "election time must be at least twice the heartbeat interval");
  }
  const uint64_t frame_needed =
      std::max(entry_bytes_max(options), kMessageDataBytesMax) + kPeerFrameOverheadBytes;
  if (options.frame_bytes_max < frame_needed) {
    return Status(Code::kInvalidArgument, "--frame-bytes-max " + std::to_string(options.frame_bytes_max) +
                                              " cannot carry the largest Raft entry (--request-bytes-max " +
                                              std::to_string(options.limits.request_bytes_max) +
                                              " and its envelope) to a peer: raise it to at "
                                              "least " +
                                              std::to_string(frame_needed) + " or lower --request-bytes-max");
  }
  namespace fs = std::filesystem;
  const fs::path dir(options.data_dir);
  std::error_code ec;
  const bool fresh = !fs::exists(dir / "log", ec) && !fs::exists(dir / "kv", ec);
  if (Status s = raft::create_dirs_durably(dir); !s.is_ok())
    return Status(Code::kUnavailable, "cannot create data directory: " + s.message());

  raft::LmdbLog::Options log_options;
  log_options.data_dir = dir;
  log_options.map_bytes_max = options.log_map_bytes_max;
  log_options.create_if_missing = fresh;
  log_options.unsafe_skip_fsync = options.unsafe_skip_fsync;
  for (size_t i = 0; i < options.members.size(); ++i) log_options.bootstrap_conf.add_voters(i + 1);
  auto log = raft::LmdbLog::open(log_options);
  if (!log.is_ok()) return log.status();

  StateMachineOptions machine_options;
  machine_options.data_dir = options.data_dir;
  machine_options.limits = options.limits;
  machine_options.sessions = options.sessions;
  machine_options.history = options.history;
  machine_options.unsafe_skip_dedup = options.unsafe_skip_dedup;
  machine_options.unsafe_revision_per_entry = options.unsafe_revision_per_entry;
  if (options.unsafe_local_reads || options.unsafe_skip_dedup || options.unsafe_revision_per_entry ||
      options.unsafe_skip_fsync) {
    spdlog::warn(
        "UNSAFE test switches on (local reads: {}, skip dedup: {}, revision per entry: {}, skip fsync: {}); "
        "never use in production",
        options.unsafe_local_reads, options.unsafe_skip_dedup, options.unsafe_revision_per_entry,
        options.unsafe_skip_fsync);
  }
  auto sm = StateMachine::open(machine_options);
  if (!sm.is_ok()) return sm.status();

  if (Status s = reconcile(**log, **sm, dir); !s.is_ok()) return s;
  return std::unique_ptr<Server>(
      new Server(std::make_unique<Impl>(std::move(options), id, std::move(*log), std::move(*sm))));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
Status Server::run() { return impl_->run(); }
void Server::stop() { impl_->stop(); }
uint64_t Server::term() const { return impl_->term(); }

uint64_t fds_needed(const ServerOptions& options) {
  // Its own files: the log's and the state machine's LMDB files, a snapshot being written or
  // sent, the three listening sockets, the event loop's and the log's descriptors. An idle node
  // holds about 16; the rest is headroom.
  constexpr uint64_t kOwnFiles = 64;
  // run() keeps the HTTP server's default connection limit.
  const uint64_t http = options.listen_http ? net::HttpServerOptions{}.connections_max : 0;
  const uint64_t peers = options.members.empty() ? 0 : options.members.size() - 1;
  return options.client_connections_max + http + 2 * peers + kOwnFiles;
}

}  // namespace castor::kv

#include "kv/server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <random>
#include <spdlog/spdlog.h>
#include <thread>

#include "kv/error_code.h"
#include "kv/failpoints.h"
#include "kv/recovery.h"
#include "kv/state_machine.h"
#include "net/client_listener.h"
#include "net/peer_transport.h"
#include "raft/node.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Respond = net::ClientListener::Respond;

namespace {

// One thread running posted jobs in order: the log thread and the apply thread.
class Worker {
 public:
  Worker() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~Worker() { join(); }
  template <typename F>
  void post(F f) {
    asio::post(io_, std::move(f));
  }
  // Runs every job already posted, then ends the thread.
  void join() {
    if (!thread_.joinable()) return;
    guard_.reset();
    thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

pb::ClientResponse error_response(uint64_t request_id, Code code, const std::string& message) {
  pb::ClientResponse r;
  r.set_request_id(request_id);
  r.set_code(to_error_code(code));
  r.set_message(message);
  return r;
}

std::string context_of(uint64_t id) { return std::to_string(id); }

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, uint64_t id, std::unique_ptr<raft::LmdbLog> log, std::unique_ptr<StateMachine> sm)
      : opt_(std::move(options)), id_(id), log_(std::move(log)), sm_(std::move(sm)), tick_timer_(io_) {
    raft::Config cfg;
    cfg.id = raft::NodeId(id_);
    cfg.heartbeat_interval_ticks = 1;
    cfg.election_timeout_ticks = std::max<uint32_t>(2, opt_.election_ms / opt_.heartbeat_ms);
    cfg.random_seed = std::random_device()();
    node_ = std::make_unique<raft::Node>(cfg, *log_);
    applied_ = sm_->applied_index().value;
    last_snapshot_index_ = log_->snapshot_meta().index();
  }

  Status run();
  void stop() {
    asio::post(io_, [this] { shutdown(); });
  }

 private:
  struct Waiter {
    uint64_t request_id;
    Respond respond;
    Clock::time_point deadline;
  };
  using WriteKey = std::pair<uint64_t, uint64_t>;  // (client_id, seq)
  // What one proposed entry carries, to answer its writers if another leader's entry wins.
  struct Proposed {
    raft::Term term;
    std::vector<WriteKey> writes;
    std::vector<uint64_t> nonces;
  };
  struct ReadWaiter {
    pb::ClientRequest request;
    Respond respond;
    Clock::time_point deadline;
  };

  // Events.
  void on_tick();
  void on_peer_message(raft::pb::Message m);
  void on_client_request(std::string payload, Respond respond);
  // The Ready loop.
  void schedule_drive();
  void drive();
  Status persist(const raft::Ready& rd);
  void finish_ready(raft::Ready rd);
  void on_applied(Result<std::vector<AppliedCommand>> result);
  void on_soft_state(const raft::SoftState& ss);
  // Requests.
  void enqueue_write(const pb::ClientRequest& req, Respond respond);
  void flush_batch();
  void start_read(pb::ClientRequest req, Respond respond);
  void serve_read(const pb::ClientRequest& req, const Respond& respond);
  void serve_ready_reads();
  void start_transfer(const pb::ClientRequest& req, Respond respond);
  pb::ClientResponse status_response(uint64_t request_id) const;
  void reply(const Respond& respond, pb::ClientResponse r) const;
  void fail_waiters_past_deadline();
  void forget_lost_proposals(const std::vector<raft::pb::Entry>& committed);
  // Snapshots and compaction.
  void maybe_snapshot();
  void maybe_compact();
  void fatal(const Status& s);
  void shutdown();

  ServerOptions opt_;
  const uint64_t id_;
  std::unique_ptr<raft::LmdbLog> log_;
  std::unique_ptr<StateMachine> sm_;
  std::unique_ptr<raft::Node> node_;

  asio::io_context io_;
  asio::steady_timer tick_timer_;
  std::unique_ptr<net::PeerTransport> transport_;
  std::unique_ptr<net::ClientListener> clients_;
  Worker log_worker_;
  Worker apply_worker_;

  bool drive_posted_ = false;
  bool persisting_ = false;
  bool stopping_ = false;
  Status fatal_;
  uint64_t applied_ = 0;  // what the io thread knows the state machine has applied

  pb::CommandBatch batch_;
  std::vector<WriteKey> batch_writes_;
  std::vector<uint64_t> batch_nonces_;
  bool flush_posted_ = false;
  uint64_t last_stamp_ms_ = 0;
  std::map<WriteKey, Waiter> writes_;
  std::map<uint64_t, Waiter> registrations_;
  std::map<uint64_t, Proposed> proposed_;

  uint64_t next_read_ = 1;
  std::map<uint64_t, ReadWaiter> reads_;              // asked, by context
  std::multimap<uint64_t, uint64_t> reads_released_;  // read index -> context, awaiting apply

  struct Transfer {
    uint64_t target;
    Waiter waiter;
  };
  std::vector<Transfer> transfers_;

  uint64_t last_snapshot_index_ = 0;
  bool snapshotting_ = false;
  std::optional<std::pair<SnapshotInfo, std::string>> pending_compaction_;
};

// ---------------------------------------------------------------------------------------------
// Lifecycle

Status Server::Impl::run() {
  net::PeerTransportOptions po;
  po.node_id = id_;
  po.node_name = opt_.name;
  po.cluster_id = opt_.cluster_id;
  po.frame_bytes_max = opt_.frame_bytes_max;
  transport_ = std::make_unique<net::PeerTransport>(io_, po, [this](raft::pb::Message m) { on_peer_message(std::move(m)); });
  for (size_t i = 0; i < opt_.members.size(); ++i) {
    if (i + 1 != id_) transport_->add_peer(i + 1, opt_.members[i].second);
  }
  net::ClientListenerOptions co;
  co.node_id = id_;
  co.node_name = opt_.name;
  co.cluster_id = opt_.cluster_id;
  co.frame_bytes_max = opt_.frame_bytes_max;
  clients_ = std::make_unique<net::ClientListener>(
      io_, co, [this](std::string payload, Respond respond) { on_client_request(std::move(payload), std::move(respond)); });

  if (auto r = transport_->start(opt_.listen_peer); !r.is_ok()) return r.status();
  if (auto r = clients_->start(opt_.listen_client); !r.is_ok()) return r.status();
  spdlog::info("{}: node {} of cluster '{}' serving clients on {} and peers on {}, applied index {}", opt_.name, id_,
               opt_.cluster_id, opt_.listen_client.to_string(), opt_.listen_peer.to_string(), applied_);
  on_tick();
  io_.run();
  log_worker_.join();
  apply_worker_.join();
  return fatal_;
}

void Server::Impl::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  tick_timer_.cancel();
  if (transport_) transport_->stop();
  if (clients_) clients_->stop();
  // The log thread finishes the write in flight first; then the loop ends.
  log_worker_.post([this] { asio::post(io_, [this] { io_.stop(); }); });
}

void Server::Impl::fatal(const Status& s) {
  spdlog::critical("{}: stopping: {}", opt_.name, s.to_string());
  fatal_ = s;
  shutdown();
}

// ---------------------------------------------------------------------------------------------
// Events

void Server::Impl::on_tick() {
  if (stopping_) return;
  node_->tick();
  fail_waiters_past_deadline();
  schedule_drive();
  tick_timer_.expires_after(std::chrono::milliseconds(opt_.heartbeat_ms));
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_tick();
  });
}

void Server::Impl::on_peer_message(raft::pb::Message m) {
  if (stopping_) return;
  node_->step(m);
  schedule_drive();
}

void Server::Impl::on_client_request(std::string payload, Respond respond) {
  pb::ClientRequest req;
  if (stopping_) return reply(respond, error_response(0, Code::kUnavailable, "node is shutting down"));
  if (!req.ParseFromString(payload)) {
    return reply(respond, error_response(0, Code::kInvalidArgument, "request does not parse as ClientRequest"));
  }
  if (Status v = validate(req, opt_.limits); !v.is_ok()) {
    return reply(respond, error_response(req.request_id(), v.code(), v.message()));
  }
  switch (req.request_case()) {
    case pb::ClientRequest::kGet:
    case pb::ClientRequest::kRange: {
      const bool serializable =
          req.has_get() ? req.get().serializable() : req.range().serializable();
      if (serializable || opt_.unsafe_local_reads) return serve_read(req, respond);
      return start_read(std::move(req), std::move(respond));
    }
    case pb::ClientRequest::kRegisterClient:
    case pb::ClientRequest::kWrite:
      return enqueue_write(req, std::move(respond));
    case pb::ClientRequest::kStatus:
      return reply(respond, status_response(req.request_id()));
    case pb::ClientRequest::kTransferLeader:
      return start_transfer(req, std::move(respond));
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  reply(respond, error_response(req.request_id(), Code::kInvalidArgument, "request has no body"));
}

void Server::Impl::reply(const Respond& respond, pb::ClientResponse r) const {
  pb::ResponseHeader* h = r.mutable_header();
  if (h->revision() == 0) h->set_revision(applied_);
  h->set_term(node_->term().value);
  h->set_leader(node_->leader().value);
  h->set_node(id_);
  respond(r.SerializeAsString());
}

// ---------------------------------------------------------------------------------------------
// The Ready loop (DESIGN.md section 4)

void Server::Impl::schedule_drive() {
  // Posted, not called: every event already queued (peer messages, client requests) is taken
  // in first, so that one Ready, one fsync and one apply batch serve all of them.
  if (drive_posted_) return;
  drive_posted_ = true;
  asio::post(io_, [this] { drive(); });
}

void Server::Impl::drive() {
  drive_posted_ = false;
  if (persisting_ || stopping_) return;
  maybe_compact();
  if (!node_->has_ready()) return;
  raft::Ready rd = node_->ready();
  if (rd.soft_state) on_soft_state(*rd.soft_state);
  for (const auto& m : rd.early_messages) transport_->send(m);
  if (!rd.hard_state && rd.entries.empty() && !rd.snapshot) return finish_ready(std::move(rd));
  persisting_ = true;
  auto shared = std::make_shared<raft::Ready>(std::move(rd));
  log_worker_.post([this, shared] {
    Status s = persist(*shared);
    asio::post(io_, [this, shared, s] {
      persisting_ = false;
      if (!s.is_ok()) return fatal(s);
      finish_ready(std::move(*shared));
    });
  });
}

// On the log thread: everything in the Ready that must be durable, in one fsync.
Status Server::Impl::persist(const raft::Ready& rd) {
  if (rd.snapshot) {
    failpoint("during-snapshot-install");
    if (Status s = log_->install_snapshot(*rd.snapshot); !s.is_ok()) return s;
  }
  if (!rd.hard_state && rd.entries.empty()) return Status::ok();
  failpoint("before-log-fsync");
  Status s = log_->append(rd.hard_state, rd.entries);
  failpoint("after-log-fsync");
  return s;
}

void Server::Impl::finish_ready(raft::Ready rd) {
  if (stopping_) return;
  for (const auto& m : rd.messages) {
    if (m.type() == raft::pb::MSG_APP_RESP) failpoint("before-send-append-response");
    transport_->send(m);
  }
  forget_lost_proposals(rd.committed);
  if (rd.snapshot) {
    // The leader's snapshot replaces the state machine, before any entry after it applies.
    auto data = std::make_shared<std::string>(rd.snapshot->data());
    apply_worker_.post([this, data] {
      bool done = false;
      auto r = sm_->restore([&]() -> Result<std::string> {
        if (done) return std::string();
        done = true;
        return *data;
      });
      asio::post(io_, [this, r] {
        if (!r.is_ok()) return fatal(r.status());
        applied_ = std::max(applied_, r->index.value);
        last_snapshot_index_ = std::max(last_snapshot_index_, r->index.value);
        serve_ready_reads();
      });
    });
  }
  if (!rd.committed.empty()) {
    auto entries = std::make_shared<std::vector<raft::pb::Entry>>(rd.committed);
    apply_worker_.post([this, entries] {
      failpoint("before-apply");
      auto r = sm_->apply(*entries);
      failpoint("after-apply");
      asio::post(io_, [this, r = std::move(r)]() mutable { on_applied(std::move(r)); });
    });
  }
  for (const auto& rs : rd.reads) {
    const uint64_t ctx = std::strtoull(rs.context.c_str(), nullptr, 10);
    if (reads_.count(ctx)) reads_released_.emplace(rs.index.value, ctx);
  }
  node_->advance(rd);
  serve_ready_reads();
  schedule_drive();
}

void Server::Impl::on_applied(Result<std::vector<AppliedCommand>> result) {
  if (!result.is_ok()) return fatal(result.status());
  for (AppliedCommand& ac : *result) {
    applied_ = std::max(applied_, ac.index.value);
    if (ac.response.has_register_client()) {
      auto it = registrations_.find(ac.response.register_client().nonce());
      if (it == registrations_.end()) continue;
      ac.response.set_request_id(it->second.request_id);
      reply(it->second.respond, std::move(ac.response));
      registrations_.erase(it);
      continue;
    }
    auto it = writes_.find({ac.client_id, ac.seq});
    if (it == writes_.end()) continue;  // proposed by another node, or its client gave up
    ac.response.set_request_id(it->second.request_id);
    reply(it->second.respond, std::move(ac.response));
    writes_.erase(it);
  }
  applied_ = std::max(applied_, sm_->applied_index().value);
  serve_ready_reads();
  maybe_snapshot();
}

void Server::Impl::on_soft_state(const raft::SoftState& ss) {
  spdlog::info("{}: term {}: {} (leader {})", opt_.name, ss.term.value, raft::role_name(ss.role), ss.leader.value);
  // Reads not yet released may never be: the core dropped them with its leadership. They had
  // no effect, so the client may retry them anywhere.
  for (auto it = reads_.begin(); it != reads_.end();) {
    bool released = false;
    for (const auto& [index, ctx] : reads_released_) released = released || ctx == it->first;
    if (released) {
      ++it;
      continue;
    }
    reply(it->second.respond, error_response(it->second.request.request_id(), Code::kUnavailable,
                                             "leadership changed while confirming the read; retry"));
    it = reads_.erase(it);
  }
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (ss.leader.value == it->target) {
      pb::ClientResponse r;
      r.set_request_id(it->waiter.request_id);
      r.mutable_transfer_leader();
      reply(it->waiter.respond, std::move(r));
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::Impl::forget_lost_proposals(const std::vector<raft::pb::Entry>& committed) {
  for (const auto& e : committed) {
    auto it = proposed_.find(e.index());
    if (it == proposed_.end()) continue;
    if (it->second.term.value != e.term()) {
      // Another leader's entry took this index: our batch was not applied here. It may still
      // be somewhere (a retry, a copy the new leader holds), so its fate is UNKNOWN.
      for (const WriteKey& k : it->second.writes) {
        auto w = writes_.find(k);
        if (w == writes_.end()) continue;
        reply(w->second.respond,
              error_response(w->second.request_id, Code::kUnknown, "leadership changed before the write committed"));
        writes_.erase(w);
      }
      for (uint64_t nonce : it->second.nonces) {
        auto r = registrations_.find(nonce);
        if (r == registrations_.end()) continue;
        reply(r->second.respond, error_response(r->second.request_id, Code::kUnknown, "leadership changed; register again"));
        registrations_.erase(r);
      }
    }
    proposed_.erase(it);
  }
}

// ---------------------------------------------------------------------------------------------
// Writes

void Server::Impl::enqueue_write(const pb::ClientRequest& req, Respond respond) {
  if (node_->role() != raft::Role::kLeader) {
    return reply(respond, error_response(req.request_id(), Code::kNotLeader, "not the leader"));
  }
  const Waiter waiter{req.request_id(), std::move(respond), Clock::now() + opt_.request_timeout};
  pb::Command* c = batch_.add_commands();
  // Session expiry runs on these stamps (never on a replica's clock); keeping them monotone on
  // this leader keeps expiry monotone even if the wall clock steps back.
  last_stamp_ms_ = std::max(last_stamp_ms_, wall_ms());
  c->set_timestamp_ms(last_stamp_ms_);
  if (req.has_register_client()) {
    *c->mutable_register_client() = req.register_client();
    const uint64_t nonce = req.register_client().nonce();
    if (auto old = registrations_.find(nonce); old != registrations_.end()) {
      reply(old->second.respond, error_response(old->second.request_id, Code::kUnknown, "superseded by a retry"));
    }
    registrations_.insert_or_assign(nonce, waiter);
    batch_nonces_.push_back(nonce);
  } else {
    *c->mutable_write() = req.write();
    const WriteKey key{req.write().client_id(), req.write().seq()};
    if (auto old = writes_.find(key); old != writes_.end()) {
      reply(old->second.respond, error_response(old->second.request_id, Code::kUnknown, "superseded by a retry"));
    }
    writes_.insert_or_assign(key, waiter);
    batch_writes_.push_back(key);
  }
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(io_, [this] { flush_batch(); });
  }
}

void Server::Impl::flush_batch() {
  flush_posted_ = false;
  if (batch_.commands_size() == 0) return;
  Result<raft::Proposal> p = node_->propose(batch_.SerializeAsString());
  if (p.is_ok()) {
    proposed_[p->index.value] = Proposed{p->term, std::move(batch_writes_), std::move(batch_nonces_)};
  } else {
    // Refused before reaching the log: certainly not applied.
    const Code code = p.status().code();
    for (const WriteKey& k : batch_writes_) {
      auto w = writes_.find(k);
      if (w == writes_.end()) continue;
      reply(w->second.respond, error_response(w->second.request_id, code, p.status().message()));
      writes_.erase(w);
    }
    for (uint64_t nonce : batch_nonces_) {
      auto r = registrations_.find(nonce);
      if (r == registrations_.end()) continue;
      reply(r->second.respond, error_response(r->second.request_id, code, p.status().message()));
      registrations_.erase(r);
    }
  }
  batch_.Clear();
  batch_writes_.clear();
  batch_nonces_.clear();
  schedule_drive();
}

void Server::Impl::fail_waiters_past_deadline() {
  const auto now = Clock::now();
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    reply(it->second.respond, error_response(it->second.request_id, Code::kUnknown, "deadline passed before the write applied"));
    it = writes_.erase(it);
  }
  for (auto it = registrations_.begin(); it != registrations_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    reply(it->second.respond, error_response(it->second.request_id, Code::kUnknown, "deadline passed"));
    it = registrations_.erase(it);
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    reply(it->second.respond,
          error_response(it->second.request.request_id(), Code::kUnavailable, "deadline passed before the read was confirmed"));
    std::erase_if(reads_released_, [&](const auto& kv) { return kv.second == it->first; });
    it = reads_.erase(it);
  }
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (it->waiter.deadline > now) {
      ++it;
      continue;
    }
    reply(it->waiter.respond, error_response(it->waiter.request_id, Code::kUnavailable, "the target did not take over in time"));
    it = transfers_.erase(it);
  }
}

// ---------------------------------------------------------------------------------------------
// Reads (thesis 6.4)

void Server::Impl::start_read(pb::ClientRequest req, Respond respond) {
  const uint64_t ctx = next_read_++;
  Status s = node_->read_index(context_of(ctx));
  if (!s.is_ok()) {
    const Code code = s.code() == Code::kNotLeader ? Code::kUnavailable : s.code();
    return reply(respond, error_response(req.request_id(), code, "no leader to confirm the read: " + s.message()));
  }
  reads_.emplace(ctx, ReadWaiter{std::move(req), std::move(respond), Clock::now() + opt_.request_timeout});
  schedule_drive();
}

void Server::Impl::serve_ready_reads() {
  while (!reads_released_.empty() && reads_released_.begin()->first <= applied_) {
    const uint64_t ctx = reads_released_.begin()->second;
    reads_released_.erase(reads_released_.begin());
    auto it = reads_.find(ctx);
    if (it == reads_.end()) continue;
    serve_read(it->second.request, it->second.respond);
    reads_.erase(it);
  }
}

void Server::Impl::serve_read(const pb::ClientRequest& req, const Respond& respond) {
  Result<pb::ClientResponse> r = req.has_get() ? sm_->get(req.get()) : sm_->range(req.range());
  if (!r.is_ok()) return reply(respond, error_response(req.request_id(), r.status().code(), r.status().message()));
  r->set_request_id(req.request_id());
  reply(respond, std::move(*r));
}

// ---------------------------------------------------------------------------------------------
// Admin

void Server::Impl::start_transfer(const pb::ClientRequest& req, Respond respond) {
  uint64_t target = 0;
  for (size_t i = 0; i < opt_.members.size(); ++i) {
    if (opt_.members[i].first == req.transfer_leader().target()) target = i + 1;
  }
  if (target == 0) {
    return reply(respond, error_response(req.request_id(), Code::kInvalidArgument,
                                         "no member named '" + req.transfer_leader().target() + "'"));
  }
  if (target == id_ && node_->role() == raft::Role::kLeader) {
    pb::ClientResponse r;
    r.set_request_id(req.request_id());
    r.mutable_transfer_leader();
    return reply(respond, std::move(r));
  }
  Status s = node_->transfer_leadership(raft::NodeId(target));
  if (!s.is_ok()) return reply(respond, error_response(req.request_id(), s.code(), s.message()));
  transfers_.push_back({target, Waiter{req.request_id(), std::move(respond), Clock::now() + opt_.request_timeout}});
  schedule_drive();
}

pb::ClientResponse Server::Impl::status_response(uint64_t request_id) const {
  pb::ClientResponse r;
  r.set_request_id(request_id);
  pb::StatusResponse* s = r.mutable_status();
  s->set_name(opt_.name);
  s->set_id(id_);
  s->set_role(raft::role_name(node_->role()));
  s->set_term(node_->term().value);
  const uint64_t leader = node_->leader().value;
  s->set_leader(leader);
  if (leader >= 1 && leader <= opt_.members.size()) s->set_leader_name(opt_.members[leader - 1].first);
  s->set_commit(node_->committed().value);
  s->set_applied(applied_);
  s->set_last_index(node_->last_index().value);
  s->set_snapshot_index(last_snapshot_index_);
  s->set_client_address(opt_.listen_client.to_string());
  s->set_peer_address(opt_.listen_peer.to_string());
  return r;
}

// ---------------------------------------------------------------------------------------------
// Snapshots and log compaction (paper section 7)

void Server::Impl::maybe_snapshot() {
  if (snapshotting_ || stopping_ || applied_ < last_snapshot_index_ + opt_.snapshot_entries) return;
  snapshotting_ = true;
  apply_worker_.post([this] {
    // The state machine's last transactions reach the disk before the log forgets the
    // entries that produced them.
    Status synced = sm_->sync();
    std::string data;
    Result<SnapshotInfo> info = synced.is_ok() ? sm_->snapshot(1 << 20, [&data](std::string_view chunk) {
      data.append(chunk);
      return Status::ok();
    })
                                               : Result<SnapshotInfo>(synced);
    asio::post(io_, [this, info, data = std::move(data)]() mutable {
      snapshotting_ = false;
      if (!info.is_ok()) return fatal(info.status());
      pending_compaction_.emplace(*info, std::move(data));
      schedule_drive();
    });
  });
}

void Server::Impl::maybe_compact() {
  // Runs between Readies, with no log write in flight: the log has one writer at a time and
  // the core must not read entries while they are being dropped.
  if (!pending_compaction_) return;
  auto [info, data] = std::move(*pending_compaction_);
  pending_compaction_.reset();
  if (info.index.value <= log_->snapshot_meta().index()) return;
  raft::pb::SnapshotMeta meta;
  meta.set_index(info.index.value);
  meta.set_term(info.term.value);
  *meta.mutable_conf() = log_->conf_state();
  if (Status s = log_->save_snapshot(meta, data); !s.is_ok()) return fatal(s);
  last_snapshot_index_ = info.index.value;
  spdlog::info("{}: snapshot at index {} ({} bytes); log compacted", opt_.name, info.index.value, data.size());
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::open(ServerOptions options) {
  uint64_t id = 0;
  for (size_t i = 0; i < options.members.size(); ++i) {
    if (options.members[i].first == options.name) id = i + 1;
  }
  if (id == 0) return Status(Code::kInvalidArgument, "--name '" + options.name + "' is not in --initial-cluster");
  if (options.heartbeat_ms == 0 || options.election_ms < 2 * options.heartbeat_ms) {
    return Status(Code::kInvalidArgument, "election time must be at least twice the heartbeat interval");
  }
  namespace fs = std::filesystem;
  const fs::path dir(options.data_dir);
  std::error_code ec;
  const bool fresh = !fs::exists(dir / "log", ec) && !fs::exists(dir / "kv", ec);
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kUnavailable, "cannot create data directory " + dir.string() + ": " + ec.message());

  raft::LmdbLog::Options lo;
  lo.data_dir = dir;
  lo.map_bytes_max = options.log_map_bytes_max;
  lo.create_if_missing = fresh;
  for (size_t i = 0; i < options.members.size(); ++i) lo.bootstrap_conf.add_voters(i + 1);
  auto log = raft::LmdbLog::open(lo);
  if (!log.is_ok()) return log.status();

  StateMachineOptions so;
  so.data_dir = options.data_dir;
  so.limits = options.limits;
  so.sessions = options.sessions;
  so.unsafe_skip_dedup = options.unsafe_skip_dedup;
  if (options.unsafe_local_reads || options.unsafe_skip_dedup) {
    spdlog::warn("{}: UNSAFE test switches on (local reads: {}, skip dedup: {}); never use in production",
                 options.name, options.unsafe_local_reads, options.unsafe_skip_dedup);
  }
  auto sm = StateMachine::open(so);
  if (!sm.is_ok()) return sm.status();

  if (Status s = reconcile(**log, **sm, dir); !s.is_ok()) return s;
  return std::unique_ptr<Server>(
      new Server(std::make_unique<Impl>(std::move(options), id, std::move(*log), std::move(*sm))));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
Status Server::run() { return impl_->run(); }
void Server::stop() { impl_->stop(); }

}  // namespace castor::kv

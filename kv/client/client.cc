#include "kv/client/client.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "raft/base/assert.h"

namespace castor::kv {

namespace asio = boost::asio;

namespace {

// Refusals after which another attempt may succeed. UNKNOWN is among them: the node could not
// tell whether the write applied, and a retry with the same seq either applies it or returns
// the original answer.
bool retryable(Code code) {
  return code == Code::kNotLeader || code == Code::kUnavailable || code == Code::kDropped ||
         code == Code::kUnknown;
}

bool write_answers(const pb::WriteRequest& w, const pb::WriteResponse& r) {
  switch (w.op_case()) {
    case pb::WriteRequest::kPut:
      return r.has_put();
    case pb::WriteRequest::kDeleteKey:
      return r.has_delete_key();
    case pb::WriteRequest::kDeleteRange:
      return r.has_delete_range();
    case pb::WriteRequest::kTxn:
      return r.has_txn();
    case pb::WriteRequest::OP_NOT_SET:
      break;
  }
  return false;
}

// Whether an OK response carries the body its request asks for.
bool answers(const pb::ClientRequest& q, const pb::ClientResponse& r) {
  switch (q.request_case()) {
    case pb::ClientRequest::kGet:
      return r.has_get();
    case pb::ClientRequest::kRange:
      return r.has_range();
    case pb::ClientRequest::kRegisterClient:
      return r.has_register_client();
    case pb::ClientRequest::kWrite:
      return r.has_write() && write_answers(q.write(), r.write());
    case pb::ClientRequest::kStatus:
      return r.has_status();
    case pb::ClientRequest::kTransferLeader:
      return r.has_transfer_leader();
    case pb::ClientRequest::kWatch:
      return r.has_watch();
    case pb::ClientRequest::kWatchCancel:
      return r.has_watch_cancel();
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  return false;
}

}  // namespace

Client::Client(asio::io_context& io, ClientOptions options)
    : io_(io),
      options_(std::move(options)),
      conns_(options_.endpoints.size()),
      node_ids_(options_.endpoints.size(), 0),
      rng_(std::random_device()()) {
  CASTOR_ASSERT(!options_.endpoints.empty(), "a client needs at least one endpoint");
}

Client::~Client() { close(); }

void Client::close() {
  for (auto& c : conns_) {
    if (c) c->close(Status(Code::kUnavailable, "the client closed the connection"));
  }
}

// ---------------------------------------------------------------------------------------------
// Verbs

Client::Call<pb::GetResponse> Client::get(std::string key, ReadOptions options) {
  pb::ClientRequest req;
  pb::GetRequest* g = req.mutable_get();
  g->set_key(std::move(key));
  g->set_serializable(options.serializable);
  Outcome<pb::ClientResponse> raw = co_await read(std::move(req));
  co_return std::move(raw).map<pb::GetResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_get()); });
}

Client::Call<pb::RangeResponse> Client::range(std::string start, std::string end, RangeOptions options) {
  pb::ClientRequest req;
  pb::RangeRequest* r = req.mutable_range();
  r->set_key(std::move(start));
  r->set_range_end(std::move(end));
  r->set_limit(options.limit);
  r->set_keys_only(options.keys_only);
  r->set_count_only(options.count_only);
  r->set_serializable(options.serializable);
  Outcome<pb::ClientResponse> raw = co_await read(std::move(req));
  co_return std::move(raw).map<pb::RangeResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_range()); });
}

Client::Call<pb::RangeResponse> Client::range_prefix(std::string prefix, RangeOptions options) {
  pb::ClientRequest req;
  pb::RangeRequest* r = req.mutable_range();
  r->set_key(std::move(prefix));
  r->set_prefix(true);
  r->set_limit(options.limit);
  r->set_keys_only(options.keys_only);
  r->set_count_only(options.count_only);
  r->set_serializable(options.serializable);
  Outcome<pb::ClientResponse> raw = co_await read(std::move(req));
  co_return std::move(raw).map<pb::RangeResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_range()); });
}

Client::Call<pb::PutResponse> Client::put(std::string key, std::string value, bool prev_kv) {
  pb::WriteRequest w;
  pb::PutRequest* p = w.mutable_put();
  p->set_key(std::move(key));
  p->set_value(std::move(value));
  p->set_prev_kv(prev_kv);
  Outcome<pb::ClientResponse> raw = co_await write(std::move(w));
  co_return std::move(raw).map<pb::PutResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_write()->mutable_put()); });
}

Client::Call<pb::DeleteResponse> Client::del(std::string key, bool prev_kv) {
  pb::WriteRequest w;
  pb::DeleteRequest* d = w.mutable_delete_key();
  d->set_key(std::move(key));
  d->set_prev_kv(prev_kv);
  Outcome<pb::ClientResponse> raw = co_await write(std::move(w));
  co_return std::move(raw).map<pb::DeleteResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_write()->mutable_delete_key()); });
}

Client::Call<pb::DeleteRangeResponse> Client::delete_range(std::string start, std::string end) {
  pb::WriteRequest w;
  pb::DeleteRangeRequest* d = w.mutable_delete_range();
  d->set_key(std::move(start));
  d->set_range_end(std::move(end));
  Outcome<pb::ClientResponse> raw = co_await write(std::move(w));
  co_return std::move(raw).map<pb::DeleteRangeResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_write()->mutable_delete_range()); });
}

Client::Call<pb::DeleteRangeResponse> Client::delete_prefix(std::string prefix) {
  pb::WriteRequest w;
  pb::DeleteRangeRequest* d = w.mutable_delete_range();
  d->set_key(std::move(prefix));
  d->set_prefix(true);
  Outcome<pb::ClientResponse> raw = co_await write(std::move(w));
  co_return std::move(raw).map<pb::DeleteRangeResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_write()->mutable_delete_range()); });
}

Client::Call<pb::TxnResponse> Client::txn(pb::TxnRequest txn) {
  pb::WriteRequest w;
  *w.mutable_txn() = std::move(txn);
  Outcome<pb::ClientResponse> raw = co_await write(std::move(w));
  co_return std::move(raw).map<pb::TxnResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_write()->mutable_txn()); });
}

Client::Call<pb::TxnResponse> Client::cas(std::string key, std::string value, CasExpect expect) {
  pb::Compare compare = expect.compare(key);
  Outcome<pb::TxnResponse> o = co_await txn(kv::cas(std::move(compare), std::move(key), std::move(value)));
  if (o.is_ok() && !o.value().succeeded()) {
    co_return Outcome<pb::TxnResponse>::failed(Status(Code::kFailedPrecondition, "the compare was false"),
                                               o.header(), std::move(o.value()));
  }
  co_return o;
}

Client::Call<pb::StatusResponse> Client::status(size_t endpoint) {
  CASTOR_ASSERT(endpoint < options_.endpoints.size(), "status of an endpoint the client does not have");
  pb::ClientRequest req;
  req.mutable_status();
  Outcome<pb::ClientResponse> raw = co_await execute(std::move(req), Clock::now() + options_.request_timeout,
                                                     Effects::kNone, nullptr, endpoint);
  co_return std::move(raw).map<pb::StatusResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_status()); });
}

Client::Call<pb::TransferLeaderResponse> Client::transfer_leader(std::string name) {
  pb::ClientRequest req;
  req.mutable_transfer_leader()->set_target(std::move(name));
  Outcome<pb::ClientResponse> raw = co_await execute(std::move(req), Clock::now() + options_.request_timeout,
                                                     Effects::kMayApply, nullptr, std::nullopt);
  co_return std::move(raw).map<pb::TransferLeaderResponse>(
      [](pb::ClientResponse r) { return std::move(*r.mutable_transfer_leader()); });
}

// ---------------------------------------------------------------------------------------------
// Reads and writes

asio::awaitable<Outcome<pb::ClientResponse>> Client::read(pb::ClientRequest request) {
  co_return co_await execute(std::move(request), Clock::now() + options_.request_timeout, Effects::kNone,
                             nullptr, std::nullopt);
}

asio::awaitable<Outcome<pb::ClientResponse>> Client::write(pb::WriteRequest write) {
  const Clock::time_point deadline = Clock::now() + options_.request_timeout;
  for (;;) {
    Result<std::shared_ptr<Session>> session = co_await ensure_session(deadline);
    if (!session.is_ok()) co_return Outcome<pb::ClientResponse>::failed(session.status());
    // The session may be replaced while this write runs; it keeps the one its seq belongs to.
    std::shared_ptr<Session> s = *session;
    std::optional<uint64_t> seq = co_await take_seq(*s, deadline);
    if (!seq) {
      co_return Outcome<pb::ClientResponse>::failed(
          Status(Code::kUnavailable, "the deadline passed while " + std::to_string(options_.seq_window_max) +
                                         " writes were ahead of this one (seq_window_max)"));
    }
    pb::ClientRequest req;
    pb::WriteRequest* w = req.mutable_write();
    *w = write;
    w->set_client_id(s->client_id);
    w->set_seq(*seq);
    Outcome<pb::ClientResponse> o =
        co_await execute(std::move(req), deadline, Effects::kMayApply, s.get(), std::nullopt);
    release_seq(*s, *seq);
    // FAILED (not UNKNOWN) SESSION_EXPIRED means no attempt of this write may have applied, so
    // it can start over under a new session.
    if (o.is_failed() && o.status().code() == Code::kSessionExpired) {
      if (session_ == s) session_.reset();
      if (Clock::now() < deadline) continue;
    }
    co_return o;
  }
}

namespace {

// A definitive refusal (or a single pinned attempt that failed) ends the call: UNKNOWN when an
// earlier attempt may have applied, FAILED with the refusal otherwise.
Outcome<pb::ClientResponse> refusal(bool maybe_applied, const Status& last,
                                    const pb::ResponseHeader& header) {
  if (maybe_applied) {
    return Outcome<pb::ClientResponse>::unknown("an earlier attempt may have applied; then " +
                                                last.to_string());
  }
  return Outcome<pb::ClientResponse>::failed(last, header);
}

// The deadline passed with no answer that settles the call.
Outcome<pb::ClientResponse> deadline_passed(bool maybe_applied, const Status& last) {
  if (maybe_applied) {
    return Outcome<pb::ClientResponse>::unknown(
        "the deadline passed after an attempt that may have applied (last: " + last.to_string() + ")");
  }
  // Refusals that only said "not now" become UNAVAILABLE: no node could take the request.
  const Code code = retryable(last.code()) ? Code::kUnavailable : last.code();
  return Outcome<pb::ClientResponse>::failed(Status(code, "the deadline passed; last: " + last.to_string()));
}

}  // namespace

// Where a retryable refusal sends the next attempt at once: the leader its answer names, when
// that is another node (one of the endpoints not yet met, when we do not know its id). nullopt
// means pause first. hops bounds the redirects so that stale hints cannot spin.
std::optional<size_t> Client::redirect(uint64_t leader_hint, size_t target, size_t hops) const {
  if (leader_hint == 0 || hops >= options_.endpoints.size()) return std::nullopt;
  const std::optional<size_t> e = endpoint_of(leader_hint);
  if (!e) return next_unmet(target);
  if (*e != target) return *e;
  return std::nullopt;
}

asio::awaitable<Outcome<pb::ClientResponse>> Client::execute(pb::ClientRequest request,
                                                             Clock::time_point deadline, Effects effects,
                                                             const Session* session,
                                                             std::optional<size_t> pinned) {
  const size_t n = options_.endpoints.size();
  size_t target = pinned ? *pinned : leader_.value_or(cursor_);
  bool maybe_applied = false;
  Status last(Code::kUnavailable, "the deadline passed before any attempt");
  int backoff_step = 0;
  size_t hops = 0;  // redirects taken since the last pause

  while (Clock::now() < deadline) {
    const Clock::time_point until =
        pinned ? deadline : std::min(deadline, Clock::now() + options_.attempt_timeout);
    std::shared_ptr<ClientConnection> conn = connection(target);
    Status up = co_await conn->ready(until);
    if (up.is_ok()) {
      node_ids_[target] = conn->node_id();
      request.set_request_id(next_request_id_++);
      if (session != nullptr)
        request.mutable_write()->set_lowest_outstanding_seq(session->lowest_outstanding());
      ClientConnection::Reply reply = co_await conn->call(request, until);
      if (reply.response.is_ok()) {
        pb::ClientResponse& r = *reply.response;
        learn_leader(r.header(), target);
        const Code code = static_cast<Code>(r.code());
        if (code == Code::kOk && answers(request, r)) {
          pb::ResponseHeader header = r.header();
          co_return Outcome<pb::ClientResponse>::ok(std::move(r), std::move(header));
        }
        // OK with a body that does not match the request settles the call as well.
        last = code == Code::kOk ? Status(Code::kInternal, conn->endpoint().to_string() +
                                                               " answered OK with a body that does not match")
                                 : Status(code, r.message());
        const bool settled = code == Code::kOk || pinned || !retryable(code);
        if ((code == Code::kOk || code == Code::kUnknown) && effects == Effects::kMayApply)
          maybe_applied = true;
        if (settled) co_return refusal(maybe_applied, last, r.header());
        const uint64_t hint = r.header().leader();
        if (std::optional<size_t> next = redirect(hint, target, hops)) {
          target = *next;
          ++hops;
          continue;
        }
        // No other node to go to: pause, then stay with a node that says it leads (it refused
        // for now: DROPPED, a busy ReadIndex), or move on.
        co_await backoff(backoff_step++, deadline);
        hops = 0;
        if (!(hint != 0 && endpoint_of(hint) == target)) target = (target + 1) % n;
        cursor_ = target;
        continue;
      }
      last = reply.response.status();
      if (last.code() == Code::kTooLarge) co_return refusal(maybe_applied, last, {});
      if (reply.sent && effects == Effects::kMayApply) maybe_applied = true;
    } else {
      last = up;
    }
    // The node could not be reached, or did not answer in time: try the next one.
    if (pinned) co_return refusal(maybe_applied, last, {});
    if (leader_ == target) leader_.reset();
    co_await backoff(backoff_step++, deadline);
    hops = 0;
    target = (target + 1) % n;
    cursor_ = target;
  }
  co_return deadline_passed(maybe_applied, last);
}

// ---------------------------------------------------------------------------------------------
// Sessions

asio::awaitable<Result<std::shared_ptr<Client::Session>>> Client::ensure_session(Clock::time_point deadline) {
  for (;;) {
    if (session_) co_return session_;
    if (!registering_) {
      // This call registers; concurrent writers wait for it. Registration itself is not
      // deduplicated (kv.proto), so a retried registration at worst leaves an unused session
      // to expire on the nodes.
      registering_ = true;
      pb::ClientRequest req;
      req.mutable_register_client()->set_nonce(rng_());
      Outcome<pb::ClientResponse> o =
          co_await execute(std::move(req), deadline, Effects::kNone, nullptr, std::nullopt);
      registering_ = false;
      if (o.is_ok()) {
        session_ = std::make_shared<Session>();
        session_->client_id = o.value().register_client().client_id();
      }
      notify_session_waiters();
      if (!o.is_ok()) co_return Status(o.status().code(), "cannot open a session: " + o.status().message());
      co_return session_;
    }
    if (Clock::now() >= deadline)
      co_return Status(Code::kUnavailable, "the deadline passed while opening a session");
    co_await wait_for_session_change(deadline);
  }
}

asio::awaitable<std::optional<uint64_t>> Client::take_seq(Session& session, Clock::time_point deadline) {
  while (!session.outstanding.empty() &&
         session.next_seq - *session.outstanding.begin() >= options_.seq_window_max) {
    if (Clock::now() >= deadline) co_return std::nullopt;
    co_await wait_for_session_change(deadline);
  }
  const uint64_t seq = session.next_seq++;
  session.outstanding.insert(seq);
  co_return seq;
}

void Client::release_seq(Session& session, uint64_t seq) {
  session.outstanding.erase(seq);
  notify_session_waiters();
}

asio::awaitable<void> Client::wait_for_session_change(Clock::time_point deadline) {
  asio::steady_timer waiter(io_, deadline);
  session_waiters_.push_back(&waiter);
  boost::system::error_code ec;
  co_await waiter.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::erase(session_waiters_, &waiter);
}

void Client::notify_session_waiters() {
  for (asio::steady_timer* t : session_waiters_) t->cancel();
}

// ---------------------------------------------------------------------------------------------
// Nodes

std::shared_ptr<ClientConnection> Client::connection(size_t endpoint) {
  std::shared_ptr<ClientConnection>& c = conns_[endpoint];
  if (!c || c->is_closed())
    c = std::make_shared<ClientConnection>(io_, options_.endpoints[endpoint], options_);
  return c;
}

std::optional<size_t> Client::endpoint_of(uint64_t node_id) const {
  if (node_id == 0) return std::nullopt;
  for (size_t i = 0; i < node_ids_.size(); ++i) {
    if (node_ids_[i] == node_id) return i;
  }
  return std::nullopt;
}

void Client::learn_leader(const pb::ResponseHeader& header, size_t from) {
  // A node that lags may still name the leader of an older term; the newest term wins.
  if (header.term() < leader_term_) return;
  const bool newer = header.term() > leader_term_;
  leader_term_ = header.term();
  if (header.leader() == 0) {
    if (newer || leader_ == from) leader_.reset();
    return;
  }
  // Unset when the leader is a node we have not met yet.
  leader_ = endpoint_of(header.leader());
}

size_t Client::next_unmet(size_t from) const {
  const size_t n = node_ids_.size();
  for (size_t i = 1; i <= n; ++i) {
    const size_t e = (from + i) % n;
    if (node_ids_[e] == 0) return e;
  }
  return (from + 1) % n;
}

asio::awaitable<void> Client::backoff(int step, Clock::time_point deadline) {
  const auto cap = options_.backoff_max.count();
  auto base = options_.backoff_min.count();
  for (int i = 0; i < step && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  // Jitter spreads the retries of many concurrent calls.
  std::uniform_int_distribution<long> jitter(base / 2, std::max<long>(base / 2, base));
  asio::steady_timer t(io_, std::min(deadline, Clock::now() + std::chrono::milliseconds(jitter(rng_))));
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace castor::kv

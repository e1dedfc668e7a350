#include "kv/client/watch.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "raft/base/assert.h"

namespace castor::kv {

namespace asio = boost::asio;

namespace {

// Ends of a node's stream after which another node may serve the watch (OK: cancelled there,
// not by us; RESOURCE_EXHAUSTED: that node's watch limits are full).
bool resumable(Code code) {
  return code == Code::kOk || code == Code::kUnavailable || code == Code::kTooSlow ||
         code == Code::kCompacted || code == Code::kResourceExhausted;
}

}  // namespace

Watch::Watch(asio::io_context& io, ClientOptions client, WatchOptions options)
    : io_(io),
      client_(std::move(client)),
      options_(std::move(options)),
      revision_(options_.start_revision),
      pause_(io) {
  CASTOR_ASSERT(!client_.endpoints.empty(), "a watch needs at least one endpoint");
  request_.set_key(options_.key);
  request_.set_range_end(options_.range_end);
  request_.set_prefix(options_.prefix);
  request_.set_prev_kv(options_.prev_kv);
  // Progress answers tell a quiet node from a dead one (`silence`).
  request_.set_progress_notify(true);
}

Watch::~Watch() {
  if (conn_) conn_->close(Status(Code::kUnavailable, "the watch was destroyed"));
}

asio::awaitable<Result<WatchEvents>> Watch::next() {
  for (;;) {
    if (failed_) co_return *failed_;
    if (!stream_) {
      if (cancelling_) co_return WatchEvents{{}, revision_.value_or(0), true};
      co_await start();
      continue;
    }
    // Held here, so that the stream outlives any reset of stream_ while this waits.
    std::shared_ptr<ClientConnection::Stream> stream = stream_;
    Result<pb::ClientResponse> got = co_await stream->next(heard_ + options_.silence);
    if (!got.is_ok()) {
      lose(got.status().to_string());
      continue;
    }
    heard_ = Clock::now();
    if (std::optional<WatchEvents> events = receive(*got)) co_return std::move(*events);
  }
}

asio::awaitable<void> Watch::start() {
  if (Clock::now() < retry_at_) {
    pause_.expires_at(retry_at_);
    boost::system::error_code ec;
    co_await pause_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return;  // next() looks again: cancel() may have ended the pause
  }
  retry_at_ = Clock::now() + options_.resume_pause;
  const size_t e = next_endpoint_++ % client_.endpoints.size();
  auto conn = std::make_shared<ClientConnection>(io_, client_.endpoints[e], client_);
  if (Status up = co_await conn->ready(Clock::now() + client_.attempt_timeout); !up.is_ok()) co_return;
  if (cancelling_) {
    conn->close(Status(Code::kUnavailable, "the watch was cancelled"));
    co_return;
  }
  pb::ClientRequest req;
  req.set_request_id(next_request_id_++);
  *req.mutable_watch() = request_;
  if (revision_) req.mutable_watch()->set_start_revision(*revision_);
  Result<std::shared_ptr<ClientConnection::Stream>> stream = conn->open_stream(req);
  if (!stream.is_ok()) {
    // A request that cannot even be sent fails the same way everywhere.
    if (stream.status().code() == Code::kTooLarge) failed_ = stream.status();
    conn->close(stream.status());
    co_return;
  }
  conn_ = std::move(conn);
  stream_ = std::move(*stream);
  endpoint_ = e;
  heard_ = Clock::now();
}

void Watch::lose(const std::string& why) {
  if (conn_) conn_->close(Status(Code::kUnavailable, "the watch left this node: " + why));
  conn_.reset();
  stream_.reset();
  pending_.clear();
  if (!cancelling_) ++resumes_;
  retry_at_ = Clock::now() + options_.resume_pause;
}

std::optional<WatchEvents> Watch::receive(pb::ClientResponse& response) {
  pb::WatchResponse& w = *response.mutable_watch();
  if (w.canceled() || response.code() != pb::OK) {
    ended(response);
    return std::nullopt;
  }
  if (w.created()) {
    if (!revision_) revision_ = w.revision();
    return std::nullopt;
  }
  compacted_.clear();  // this node serves it: the history is there after all
  return join(w);
}

std::optional<WatchEvents> Watch::join(pb::WatchResponse& w) {
  // Moved, not copied: a watcher of a busy prefix takes every change's key and value.
  for (pb::Event& e : *w.mutable_events()) pending_.push_back(std::move(e));
  if (w.fragment()) return std::nullopt;
  revision_ = std::max(revision_.value_or(0), w.revision());
  if (pending_.empty()) return std::nullopt;  // progress: nothing new
  WatchEvents out{std::move(pending_), *revision_, false};
  pending_.clear();
  return out;
}

void Watch::ended(const pb::ClientResponse& response) {
  const Code code = static_cast<Code>(response.code());
  const std::string where = client_.endpoints[endpoint_].to_string();
  if (cancelling_) return lose("cancelled");
  if (!resumable(code)) {
    failed_ = Status(code, where + " refused the watch: " + response.message());
    return lose(failed_->to_string());
  }
  if (code == Code::kCompacted) {
    compacted_[endpoint_] = response.watch().compact_revision();
    if (compacted_.size() == client_.endpoints.size()) {
      for (const auto& [e, f] : compacted_) floor_ = std::max(floor_, f);
      compacted_.clear();
      failed_ = Status(Code::kCompacted, "no node keeps the changes after revision " +
                                             std::to_string(revision_.value_or(0)) + " (history from " +
                                             std::to_string(floor_) + ")");
    }
  }
  lose(where + " ended the watch: " + Status(code, response.message()).to_string());
}

void Watch::cancel() {
  if (cancelling_) return;
  cancelling_ = true;
  pause_.cancel();
  if (!stream_) return;
  pb::ClientRequest req;
  req.set_request_id(next_request_id_++);
  req.mutable_watch_cancel()->set_watch_request_id(stream_->request_id());
  asio::co_spawn(io_, tell_node(conn_, std::move(req), Clock::now() + client_.attempt_timeout),
                 asio::detached);
}

asio::awaitable<void> Watch::tell_node(std::shared_ptr<ClientConnection> conn, pb::ClientRequest cancel,
                                       Clock::time_point until) {
  ClientConnection::Reply reply = co_await conn->call(cancel, until);
  // Confirmed, the stream's last answer (canceled, OK) ends next(); otherwise none may come,
  // and closing the connection ends the watch on the node and next() here.
  if (!reply.response.is_ok() || reply.response->code() != pb::OK) {
    conn->close(Status(Code::kUnavailable, "the watch was cancelled"));
  }
}

}  // namespace castor::kv

// A fake Castor cluster for client tests: real net::ClientListener instances on loopback
// (port 0), each answering with a script the test sets, on one io thread shared with the client.
#pragma once

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "kv/kv.pb.h"
#include "net/client_listener.h"
#include "tests/unit/net/io_thread.h"

namespace castor::kv {

using net::ClientListener;

struct FakeNode {
  uint64_t id = 0;
  net::Endpoint endpoint;
  std::unique_ptr<ClientListener> listener;
  // Answers one request (or keeps `respond` to answer later, or never). Runs on the io thread.
  std::function<void(FakeNode& self, const pb::ClientRequest& request, ClientListener::Respond respond)>
      script;
  std::vector<pb::ClientRequest> seen;  // every request, in arrival order

  size_t count(pb::ClientRequest::RequestCase what) const {
    size_t n = 0;
    for (const auto& r : seen) n += r.request_case() == what;
    return n;
  }
};

class FakeCluster {
 public:
  FakeCluster(net::IoThread& io, std::vector<uint64_t> ids) : io_(io) {
    for (uint64_t id : ids) {
      auto node = std::make_unique<FakeNode>();
      node->id = id;
      nodes_.push_back(std::move(node));
    }
    io_.call([&] {
      for (auto& n : nodes_) listen(*n, net::Endpoint{"127.0.0.1", 0});
      return 0;
    });
  }

  FakeNode& node(size_t i) { return *nodes_[i]; }
  std::vector<net::Endpoint> endpoints() const {
    std::vector<net::Endpoint> out;
    for (const auto& n : nodes_) out.push_back(n->endpoint);
    return out;
  }
  // Closes every connection of node i and stops listening (clients see a dead node). Posted,
  // so that a script may call it while its listener is handing it a request.
  void kill(size_t i) {
    FakeNode* n = nodes_[i].get();
    boost::asio::post(io_.io, [n] { n->listener->stop(); });
  }

 private:
  void listen(FakeNode& n, const net::Endpoint& at) {
    net::ClientListenerOptions o;
    o.node_id = n.id;
    o.node_name = "n" + std::to_string(n.id);
    o.cluster_id = "castor";
    n.listener = std::make_unique<ClientListener>(io_.io, o,
                                                  [&n](std::string payload, ClientListener::Respond respond) {
                                                    pb::ClientRequest req;
                                                    if (!req.ParseFromString(payload)) return;
                                                    n.seen.push_back(req);
                                                    n.script(n, req, std::move(respond));
                                                  });
    n.endpoint = n.listener->start(at).value();
  }

  net::IoThread& io_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
};

// A response to `req` with `code`, from `node`, naming `leader`.
inline pb::ClientResponse answer(const pb::ClientRequest& req, Code code, const FakeNode& node,
                                 uint64_t leader) {
  pb::ClientResponse r;
  r.set_request_id(req.request_id());
  r.set_code(static_cast<pb::ErrorCode>(code));
  r.mutable_header()->set_leader(leader);
  r.mutable_header()->set_node(node.id);
  r.mutable_header()->set_term(1);
  return r;
}

// An OK response carrying the body `req` asks for (a get returns the key as its value).
inline pb::ClientResponse ok_answer(const pb::ClientRequest& req, const FakeNode& node,
                                    uint64_t client_id = 1) {
  pb::ClientResponse r = answer(req, Code::kOk, node, node.id);
  switch (req.request_case()) {
    case pb::ClientRequest::kGet:
      r.mutable_get()->mutable_kv()->set_key(req.get().key());
      r.mutable_get()->mutable_kv()->set_value(req.get().key());
      break;
    case pb::ClientRequest::kRange:
      r.mutable_range();
      break;
    case pb::ClientRequest::kRegisterClient:
      r.mutable_register_client()->set_client_id(client_id);
      r.mutable_register_client()->set_nonce(req.register_client().nonce());
      break;
    case pb::ClientRequest::kWrite:
      if (req.write().has_put()) r.mutable_write()->mutable_put();
      if (req.write().has_delete_key()) r.mutable_write()->mutable_delete_key()->set_deleted(1);
      if (req.write().has_delete_range()) r.mutable_write()->mutable_delete_range();
      if (req.write().has_txn()) r.mutable_write()->mutable_txn()->set_succeeded(true);
      break;
    case pb::ClientRequest::kStatus:
      r.mutable_status()->set_id(node.id);
      break;
    case pb::ClientRequest::kTransferLeader:
      r.mutable_transfer_leader();
      break;
    case pb::ClientRequest::kWatch:
      r.mutable_watch()->set_created(true);
      break;
    case pb::ClientRequest::kWatchCancel:
      r.mutable_watch_cancel();
      break;
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  return r;
}

inline void reply(const ClientListener::Respond& respond, const pb::ClientResponse& r) {
  respond(r.SerializeAsString());
}

// Runs a coroutine made by `f()` on the io thread and waits for its result.
template <typename F>
auto run_on(net::IoThread& io, F f) {
  using T = typename decltype(f())::value_type;
  auto promise = std::make_shared<std::promise<T>>();
  auto result = promise->get_future();
  boost::asio::co_spawn(
      io.io,
      [promise, f = std::move(f)]() -> boost::asio::awaitable<void> { promise->set_value(co_await f()); },
      [promise](std::exception_ptr e) {
        if (e) promise->set_exception(e);
      });
  return result;
}

}  // namespace castor::kv

// Pending<Key, Extra>: the requests a node has taken and not yet answered, by key, each with the
// function that answers it and its deadline (in the spirit of etcd's pkg/wait). The server keeps
// one per kind of request (writes, registrations, reads, leadership transfers); every answer,
// whether the awaited event came, the deadline passed or the request was lost, goes through
// take(), take_if() or take_expired(), so that each request is answered exactly once.
//
// What it does NOT do: answer anything itself. It hands the waiters back; the caller decides
// the answer (kv::Server::Impl::fail and reply). It keeps no order beyond the key's.
// Not thread-safe: the server's io thread owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "kv/kv.pb.h"

namespace castor::kv {

// How the answer to one request goes back to its client (a frame, an HTTP response).
using Respond = std::function<void(pb::ClientResponse)>;

// One request waiting for its answer. `extra` is what the answer needs beyond the id (a read
// keeps its request; a transfer its target).
template <typename Extra = std::monostate>
struct Waiting {
  uint64_t request_id = 0;
  Respond respond;
  std::chrono::steady_clock::time_point deadline;
  Extra extra{};
};

// A request that waits from now until `timeout` has passed (--request-timeout-ms).
template <typename Extra = std::monostate>
Waiting<Extra> waiting_for(std::chrono::milliseconds timeout, uint64_t request_id, Respond respond,
                           Extra extra = {}) {
  return Waiting<Extra>{request_id, std::move(respond), std::chrono::steady_clock::now() + timeout,
                        std::move(extra)};
}

template <typename Key, typename Extra = std::monostate>
class Pending {
 public:
  using Waiter = Waiting<Extra>;

  // Registers `w` under `key`, and returns the waiter it replaces (a client's retry of the same
  // request), which the caller must answer.
  [[nodiscard]] std::optional<Waiter> add(const Key& key, Waiter w) {
    auto [it, added] = waiting_.try_emplace(key, std::move(w));  // moves `w` only when added
    if (added) return std::nullopt;
    return std::exchange(it->second, std::move(w));
  }

  // Removes and returns the waiter under `key`, if there is one.
  std::optional<Waiter> take(const Key& key) {
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return std::nullopt;
    Waiter w = std::move(it->second);
    waiting_.erase(it);
    return w;
  }

  // Removes and returns, in key order, every waiter for which pred(key, waiter) holds.
  template <typename Pred>
  std::vector<std::pair<Key, Waiter>> take_if(Pred pred) {
    std::vector<std::pair<Key, Waiter>> taken;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (!pred(it->first, it->second)) {
        ++it;
        continue;
      }
      taken.emplace_back(it->first, std::move(it->second));
      it = waiting_.erase(it);
    }
    return taken;
  }

  // Removes and returns every waiter whose deadline is at or before `now`.
  std::vector<std::pair<Key, Waiter>> take_expired(std::chrono::steady_clock::time_point now) {
    return take_if([now](const Key&, const Waiter& w) { return w.deadline <= now; });
  }

  bool contains(const Key& key) const { return waiting_.count(key) > 0; }
  size_t size() const { return waiting_.size(); }

 private:
  std::map<Key, Waiter> waiting_;
};

}  // namespace castor::kv

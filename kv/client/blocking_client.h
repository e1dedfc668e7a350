// BlockingClient: a kv::Client with its own io_context and thread, for programs that make one
// call at a time and wait for it (castorctl, scripts, tests).
//
//   kv::BlockingClient c(options);
//   auto got = c.run([](kv::Client& k) { return k.get("models/fraud/serving"); });
//
// What it does NOT do: anything Client does not; concurrency beyond what the caller spawns.
// Threading: run() and status_all() may be called from any thread, one at a time or
// concurrently; the calls themselves run on the internal io thread.
#pragma once

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "kv/client/client.h"

namespace castor::kv {

class BlockingClient {
 public:
  explicit BlockingClient(ClientOptions options);
  // Stops the io thread; calls still running are abandoned.
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Runs `call(client)` (a function returning an awaitable) on the io thread and waits for its
  // result.
  template <typename F>
  auto run(F call) {
    return start(std::move(call)).get();
  }

  // Every endpoint's status, asked concurrently; in the order of options().endpoints.
  std::vector<Outcome<pb::StatusResponse>> status_all();

  const ClientOptions& options() const { return client_->options(); }

 private:
  template <typename F>
  auto start(F call) {
    using T = typename decltype(call(std::declval<Client&>()))::value_type;
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    // The awaitable is made on the io thread, inside the spawned coroutine, so that nothing
    // of the client is touched from this thread.
    boost::asio::co_spawn(
        io_,
        [this, promise, call = std::move(call)]() -> boost::asio::awaitable<void> {
          promise->set_value(co_await call(*client_));
        },
        [promise](std::exception_ptr e) {
          if (e) promise->set_exception(e);
        });
    return result;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
};

}  // namespace castor::kv

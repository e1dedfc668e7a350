// Test helpers for the network tests: an io_context on its own thread, a way to run code on
// it and wait for the answer, and polling for a condition with a generous deadline.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

namespace castor::net {

class IoThread {
 public:
  IoThread() : guard_(boost::asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  // Runs f on the io thread and returns its result.
  template <typename F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return fut.get();
  }
  // Stops the loop and joins; objects whose coroutines run on `io` may be destroyed after.
  void stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io.stop();
    thread_.join();
  }

  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Polls `pred` every few milliseconds for up to 10 s (a deadline for a hung test, not a timing
// assertion: on a healthy machine these conditions hold within milliseconds).
inline bool eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace castor::net

// LogWriter: a node's writes to its Raft log, and the thread that does most of them.
//
// write() makes everything in one Ready that must be durable so in one fsync (an installed
// snapshot, then the hard state and the entries), times it for castor_fsync_duration_seconds,
// warns (rate-limited) when it took longer than --slow-fsync-ms, and notes whether it was
// quick enough for a follower to do its next write on the io thread (kv::Server::persist).
// post() runs a job on the log thread, in order; the server writes there while it must keep
// answering.
//
// What it does NOT do: decide what to write (the Ready loop does) or retry: a failed write is
// returned and the node stops (docs/STYLE.md, "Fail-stop").
// Threading: write() on one thread at a time (the log thread, or the io thread while nothing
// is posted); last_write_fast() from any thread.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "kv/server/server_metrics.h"
#include "net/rate_limited_log.h"
#include "raft/ready.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

class LogWriter {
 public:
  // `log` and `metrics` must outlive this object. Starts the log thread.
  LogWriter(raft::LmdbLog& log, ServerMetrics& metrics, std::chrono::milliseconds slow_fsync);
  ~LogWriter() { join(); }
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Writes what `rd` holds that must be durable; OK when there was nothing to write.
  Status write(const raft::Ready& rd);
  // The last write took less than 2 ms: a follower may do the next on its io thread.
  bool last_write_fast() const { return last_write_fast_.load(std::memory_order_relaxed); }

  // Runs `job` on the log thread after every job posted before it.
  void post(std::function<void()> job) { boost::asio::post(io_, std::move(job)); }
  // Runs every job already posted, then ends the log thread.
  void join();

 private:
  void observe(std::chrono::steady_clock::duration took);

  raft::LmdbLog& log_;
  ServerMetrics& metrics_;
  const std::chrono::milliseconds slow_fsync_;
  net::RateLimitedLog slow_fsync_log_;
  std::atomic<bool> last_write_fast_{true};
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;  // last: it starts running io_ once everything above exists
};

}  // namespace castor::kv

#include "kv/server/log_writer.h"

#include "kv/server/failpoints.h"

namespace castor::kv {
namespace {

// A follower whose last log write took less than this does the next on its io thread.
constexpr auto kInlineFsyncMax = std::chrono::milliseconds(2);

}  // namespace

LogWriter::LogWriter(raft::LmdbLog& log, ServerMetrics& metrics, std::chrono::milliseconds slow_fsync)
    : log_(log),
      metrics_(metrics),
      slow_fsync_(slow_fsync),
      guard_(boost::asio::make_work_guard(io_)),
      thread_([this] { io_.run(); }) {}

void LogWriter::join() {
  if (!thread_.joinable()) return;
  guard_.reset();
  thread_.join();
}

Status LogWriter::write(const raft::Ready& rd) {
  if (rd.snapshot) {
    failpoint("during-snapshot-install");
    if (Status s = log_.install_snapshot(*rd.snapshot); !s.is_ok()) return s;
  }
  if (!rd.hard_state && rd.entries.empty()) return Status::ok();
  failpoint("before-log-fsync");
  const auto start = std::chrono::steady_clock::now();
  Status s = log_.append(rd.hard_state, rd.entries);
  observe(std::chrono::steady_clock::now() - start);
  failpoint("after-log-fsync");
  return s;
}

void LogWriter::observe(std::chrono::steady_clock::duration took) {
  metrics_.fsync.observe(std::chrono::duration<double>(took).count());
  last_write_fast_.store(took < kInlineFsyncMax, std::memory_order_relaxed);
  if (took < slow_fsync_) return;
  metrics_.slow_fsyncs.inc();
  slow_fsync_log_.warn(
      "slow fsync", "a Raft log write took " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) +
                        " ms (threshold " + std::to_string(slow_fsync_.count()) +
                        " ms): the disk is slow; see docs/RUNBOOK.md");
}

}  // namespace castor::kv

// castor-crash: the storage crash test. Kills a writing process at random moments (and with
// --power-loss cuts its disk's power at the same moment), reopens its data directory and checks
// that nothing acknowledged was lost and that the state machine recovers to exactly the state a
// replay of the log gives.
//
//   castor-crash --iterations N [--seed S] [--dir D] [--power-loss [--powerfs PATH]]
//                [--plant lose-acked|skip-dedup|skip-fsync]
//
// Each iteration starts a child (this binary with --child) on the same data directory. The
// child opens it as castord does and loops like a single-node leader: append a few entries of
// the deterministic Workload with a hard state committing them (one fsynced transaction),
// report the new last index to the parent through a pipe, apply the entries in one apply()
// call, and now and then sync the state machine, snapshot it and compact the log. The parent
// SIGKILLs the child at a random moment (a random delay from its start, or a random number of
// microseconds after its n-th report, so that kills land inside LMDB commits, applies and
// snapshots), reopens the directory as castord would (in place, or a copy of it: see
// Parent::check), and counts:
//   lost       batches the child reported durable that the log does not hold, and entries the
//              log holds with other bytes than the child wrote;
//   divergent  iterations whose recovered state (the reopened state machine with the committed
//              entries above its applied index applied) differs from a fresh replay of the log
//              (its snapshot, then its entries) into an empty state machine, or from a reference
//              state machine that applied every entry once, without ever crashing.
// A directory that does not reopen (CORRUPTION after a kill) stops the run as a failure. The
// next iteration's child continues on the same directory, so damage accumulates if any.
//
// A kill alone keeps the page cache: whatever the child wrote reaches the disk in the end,
// fsynced or not, so a missing fsync cannot show. --power-loss puts the data directory on a
// castor-powerfs mount (tests/powerfs), which keeps every write and name that was not fsynced in
// memory: after each kill the parent cuts its power (a torn-cut, which keeps a sector-aligned
// prefix of the last unsynced write, on a third of the iterations), unmounts it, mounts it again
// over the same backing directory and checks what survived. castor-crash mounts it itself,
// with castor-powerfs from its own build tree (or --powerfs PATH), and unmounts on every path;
// that needs /dev/fuse (and root, or fusermount3), and a run that cannot mount fails.
//
// The run happens in a temporary directory, removed after a clean run, or in --dir D (new or
// empty, and kept). A failed run keeps its directory for inspection (with --power-loss the data
// directory is D/disk/node).
//
// Prints `crash: N kills, L lost, D divergent` (after a `power: ...` line of what the cuts
// dropped, with --power-loss); exits 0 when L and D are 0 and every reopen succeeded, 1
// otherwise, 2 on bad usage. The seed fixes the workload and the kill schedule; where a kill
// lands also depends on the machine's timing, so replaying a seed repeats the conditions of a
// failure, not necessarily its exact kill point.
//
// --plant makes the child buggy, to show that the checks catch it (ctest keeps these runs):
//   lose-acked  the child reports an index durable before appending it: kills lose batches;
//   skip-dedup  the child applies duplicate writes again (kv::StateMachineOptions'
//               unsafe_skip_dedup): its state diverges from a replay of its log;
//   skip-fsync  the child's log commits without fsync (raft::LmdbLog::Options'
//               unsafe_skip_fsync): kills alone lose nothing, power cuts lose batches.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kv/machine/state_machine.h"
#include "raft/storage/lmdb_log.h"
#include "tests/crash/crash_node.h"
#include "tests/crash/power_mount.h"
#include "tests/crash/rng.h"
#include "tests/crash/state_dump.h"
#include "tests/crash/workload.h"

namespace castor::crash {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

enum class Plant { kNone, kLoseAcked, kSkipDedup, kSkipFsync };

struct Options {
  uint64_t iterations = 0;
  uint64_t seed = 0;
  fs::path dir;
  Plant plant = Plant::kNone;
  bool power_loss = false;
  fs::path powerfs;  // castor-powerfs; empty: the one next to this binary in the build tree
  // The child's side (--child): which iteration it is, and the pipe it reports through.
  bool child = false;
  uint64_t iteration = 0;
  int report_fd = -1;
};

// The descriptor the child reports on, fixed so that the parent can pass it through exec.
constexpr int kReportFd = 3;
// Streams of the child's and the parent's random decisions (rng.h).
constexpr uint64_t kChildStream = 1;
constexpr uint64_t kParentStream = 2;
constexpr uint64_t kCheckStream = 3;
constexpr uint64_t kTornStream = 4;
constexpr uint64_t kPowerSeedStream = 5;
// A child that reports nothing for this long is stuck, not slow.
constexpr auto kProgressTimeout = std::chrono::seconds(10);
// Failures printed in full; the summary counts the rest.
constexpr int kMessagesMax = 20;

const char* plant_name(Plant plant) {
  switch (plant) {
    case Plant::kNone:
      return "none";
    case Plant::kLoseAcked:
      return "lose-acked";
    case Plant::kSkipDedup:
      return "skip-dedup";
    case Plant::kSkipFsync:
      return "skip-fsync";
  }
  return "?";
}

std::optional<Plant> parse_plant(const std::string& name) {
  for (Plant p : {Plant::kNone, Plant::kLoseAcked, Plant::kSkipDedup, Plant::kSkipFsync}) {
    if (name == plant_name(p)) return p;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The child

// Tells the parent that everything up to `index` is durable. One write of 8 bytes is atomic on
// a pipe, so a kill never leaves half a report. False when the parent is gone.
bool report(int fd, uint64_t index) {
  for (;;) {
    const ssize_t n = ::write(fd, &index, sizeof index);
    if (n == static_cast<ssize_t>(sizeof index)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

int child_failed(const Status& s) {
  std::fprintf(stderr, "castor-crash child: %s\n", s.to_string().c_str());
  return 3;
}

// Runs until killed (or until the parent is gone). Its only output is the reports.
int run_child(const Options& o) {
  auto node = open_node(
      o.dir, {.skip_dedup = o.plant == Plant::kSkipDedup, .skip_fsync = o.plant == Plant::kSkipFsync});
  if (!node.is_ok()) return child_failed(node.status());
  raft::LmdbLog& log = *node->log;
  kv::StateMachine& state = *node->state;
  // Committed entries the last child appended but did not apply (it was killed in between), as
  // castord applies them after a restart; none when the parent recovered the directory in place.
  if (Status s = apply_committed(log, state); !s.is_ok()) return child_failed(s);

  const Workload workload(o.seed);
  Rng rng({o.seed, o.iteration, kChildStream});
  const uint64_t snapshot_every = 10 + rng.below(50);
  raft::pb::HardState hs = log.hard_state();
  hs.set_term(kTerm);
  hs.set_vote(1);
  for (;;) {
    // Group commit: 1 to 4 entries per transaction, as the server's log thread takes
    // everything ready at once.
    const raft::LogIndex first = log.last_index() + 1;
    std::vector<raft::pb::Entry> batch;
    const uint64_t count = 1 + rng.below(4);
    for (uint64_t k = 0; k < count; ++k) batch.push_back(workload.entry(first + k));
    const uint64_t last = batch.back().index();
    hs.set_commit(last);
    if (o.plant == Plant::kLoseAcked && !report(o.report_fd, last)) return 0;
    if (Status s = log.append(hs, batch); !s.is_ok()) return child_failed(s);
    if (o.plant != Plant::kLoseAcked && !report(o.report_fd, last)) return 0;

    auto applied = state.apply(batch);
    if (!applied.is_ok()) return child_failed(applied.status());

    if (last - log.snapshot_meta().index() < snapshot_every) continue;
    // As the server's maybe_snapshot: the state machine's transactions reach the disk before
    // the log drops the entries that produced them.
    if (Status s = state.sync(); !s.is_ok()) return child_failed(s);
    std::string data;
    auto info = state.snapshot(uint64_t{1} << 20, [&data](std::string_view chunk) {
      data.append(chunk);
      return Status::ok();
    });
    if (!info.is_ok()) return child_failed(info.status());
    raft::pb::SnapshotMeta meta;
    meta.set_index(info->index.value);
    meta.set_term(info->term.value);
    *meta.mutable_conf() = log.conf_state();
    if (Status s = log.save_snapshot(meta, data); !s.is_ok()) return child_failed(s);
  }
}

// ---------------------------------------------------------------------------------------------
// The parent

// The child's reports as they arrive on the pipe.
class Reports {
 public:
  explicit Reports(int fd) : fd_(fd) {}
  ~Reports() { ::close(fd_); }
  Reports(const Reports&) = delete;
  Reports& operator=(const Reports&) = delete;

  uint64_t count() const { return count_; }
  uint64_t last() const { return last_; }
  bool closed() const { return closed_; }

  // Waits until at least `n` reports arrived, the child closed the pipe, or `deadline`.
  void wait_for(uint64_t n, Clock::time_point deadline) {
    while (count_ < n && !closed_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (ready > 0) read_some();
    }
  }
  // Reads everything up to the end of the stream (the child is dead: its end is closed).
  void drain() {
    while (!closed_) read_some();
  }

 private:
  void read_some() {
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      closed_ = true;
      return;
    }
    pending_.append(buf, static_cast<size_t>(n));
    size_t used = 0;
    for (; pending_.size() - used >= sizeof(uint64_t); used += sizeof(uint64_t)) {
      uint64_t index;
      std::memcpy(&index, pending_.data() + used, sizeof index);
      last_ = std::max(last_, index);
      ++count_;
    }
    pending_.erase(0, used);
  }

  int fd_;
  std::string pending_;
  uint64_t count_ = 0;
  uint64_t last_ = 0;
  bool closed_ = false;
};

class Parent {
 public:
  explicit Parent(Options o) : o_(std::move(o)), workload_(o_.seed) {}

  int run();

 private:
  // Starts the child for `iteration`; returns its pid and sets `*reports` to its pipe.
  Result<pid_t> spawn(uint64_t iteration, std::unique_ptr<Reports>* reports);
  // Kills the child at this iteration's random moment and reaps it. Returns false (having said
  // why) when the child died some other way.
  bool kill_child(uint64_t iteration, pid_t pid, Reports& reports);
  // --power-loss: mounts castor-powerfs in `base` and creates the data directory on it.
  bool start_power(const fs::path& base);
  // --power-loss, after the kill: cuts the power, then powers on with what the disk kept.
  // False (having said why) when the mount could not be cut or brought back.
  bool cycle_power(uint64_t iteration);
  // Mounts the disk for `iteration`'s child; node_dir_ moves to the new mount point.
  Status power_on(uint64_t iteration);
  // Reopens the data directory and runs every check. False when it did not reopen.
  bool check(uint64_t iteration);
  std::optional<fs::path> directory_to_check(uint64_t iteration);
  std::vector<std::string> compare_states(CrashNode& node, uint64_t commit, uint64_t lost);
  std::optional<fs::path> make_base_dir() const;
  void finish_power();
  // Counts (and reports) what `log` lost of what the child reported durable or wrote.
  uint64_t count_lost(uint64_t iteration, const raft::LmdbLog& log);
  Status advance_reference(uint64_t commit);
  void fail(uint64_t iteration, const std::string& what);
  void print_summary() const;
  // The flags that repeat this run (all but --iterations, --seed and --dir).
  std::string replay_flags() const;

  const Options o_;
  const Workload workload_;
  fs::path node_dir_, copy_dir_, fresh_dir_, reference_dir_;
  // Applies every entry once, in a process that is never killed: the state the log stands for.
  std::unique_ptr<kv::StateMachine> reference_;
  // The highest index a child reported durable and no check found lost (a loss is counted
  // once; the next child writes the lost entries again).
  uint64_t acked_ = 0;
  uint64_t last_index_ = 0;  // the log's, at the last check
  uint64_t kills_ = 0, lost_ = 0, divergent_ = 0;
  // --power-loss: the disk, and what its cuts dropped (summed over them).
  std::unique_ptr<PowerMount> power_;
  uint64_t cuts_ = 0, torn_cuts_ = 0;
  CutReport dropped_;
  bool broken_ = false;  // a failure that is neither a loss nor a divergence
  int messages_ = 0;
};

void Parent::fail(uint64_t iteration, const std::string& what) {
  if (messages_++ < kMessagesMax) {
    std::printf("iteration %llu: %s\n", static_cast<unsigned long long>(iteration), what.c_str());
  } else if (messages_ == kMessagesMax + 1) {
    std::printf("(further failures are only counted)\n");
  }
}

void Parent::print_summary() const {
  if (power_) {
    std::printf(
        "power: %llu cuts (%llu torn, %llu writes kept in part); unsynced writes to %llu files and %llu "
        "names dropped\n",
        static_cast<unsigned long long>(cuts_), static_cast<unsigned long long>(torn_cuts_),
        static_cast<unsigned long long>(dropped_.torn), static_cast<unsigned long long>(dropped_.lost_files),
        static_cast<unsigned long long>(dropped_.lost_names));
  }
  std::printf("crash: %llu kills, %llu lost, %llu divergent\n", static_cast<unsigned long long>(kills_),
              static_cast<unsigned long long>(lost_), static_cast<unsigned long long>(divergent_));
}

std::string Parent::replay_flags() const {
  std::string flags = o_.power_loss ? " --power-loss" : "";
  if (o_.plant != Plant::kNone) flags += std::string(" --plant ") + plant_name(o_.plant);
  return flags;
}

Result<pid_t> Parent::spawn(uint64_t iteration, std::unique_ptr<Reports>* reports) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  const std::string seed = std::to_string(o_.seed);
  const std::string iter = std::to_string(iteration);
  const std::string dir = node_dir_.string();
  const std::string fd = std::to_string(kReportFd);
  const char* const argv[] = {"castor-crash", "--child",    "--dir",       dir.c_str(),
                              "--seed",       seed.c_str(), "--iteration", iter.c_str(),
                              "--report-fd",  fd.c_str(),   "--plant",     plant_name(o_.plant),
                              nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status(Code::kInternal, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // A parent that dies (or is interrupted) takes its child along instead of leaving it
    // writing forever; the getppid check closes the race with a parent dying before prctl.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(4);
    // dup2 leaves the new descriptor without O_CLOEXEC, so it survives exec; when the pipe
    // already is descriptor 3 that flag must be cleared by hand.
    if (fds[1] == kReportFd ? ::fcntl(kReportFd, F_SETFD, 0) != 0 : ::dup2(fds[1], kReportFd) < 0) ::_exit(4);
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(4);
  }
  ::close(fds[1]);
  *reports = std::make_unique<Reports>(fds[0]);
  return pid;
}

bool Parent::kill_child(uint64_t iteration, pid_t pid, Reports& reports) {
  const Clock::time_point start = Clock::now();
  Rng rng({o_.seed, iteration, kParentStream});
  const uint64_t mode = rng.below(10);
  Clock::time_point when;
  if (mode < 4) {
    // Anywhere in the child's first 20 ms: its exec, its open (and the snapshot clean-up that
    // open does), its catch-up apply, its first appends.
    when = start + std::chrono::microseconds(rng.below(20'000));
  } else {
    // Right after the n-th report: mostly inside the apply that follows it (mode < 8), or
    // within a few milliseconds, inside the next append's commit or a snapshot.
    const uint64_t n = 1 + rng.below(6);
    reports.wait_for(n, start + kProgressTimeout);
    if (reports.count() < n && !reports.closed()) {
      fail(iteration, "the child reported " + std::to_string(reports.count()) + " appends in " +
                          std::to_string(kProgressTimeout.count()) + " s; it is stuck");
      broken_ = true;
    }
    when = Clock::now() + std::chrono::microseconds(rng.below(mode < 8 ? 300 : 4'000));
  }
  std::this_thread::sleep_until(when);
  // The child is not reaped before waitpid below, so the pid still names it even if it died.
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  reports.drain();
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    ++kills_;
    return true;
  }
  fail(iteration, "the child was not killed but " +
                      (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                         : "died of signal " + std::to_string(WTERMSIG(status))) +
                      " (its error is above)");
  broken_ = true;
  return false;
}

// The child is dead and reaped before the power goes, and that is the same moment to the disk:
// a SIGKILLed process makes no more requests, and the kernel has finished (or dropped, unsent)
// every request it made before waitpid returns. Cutting first instead would let a child that is
// still running see the dead disk's EIO and exit with an error before the SIGKILL lands.
bool Parent::cycle_power(uint64_t iteration) {
  const bool torn = Rng({o_.seed, iteration, kTornStream}).one_in(3);
  auto cut = power_->cut(torn);
  Status s = cut.is_ok() ? power_->unmount() : cut.status();
  if (s.is_ok()) s = power_on(iteration + 1);
  if (!s.is_ok()) {
    fail(iteration, "the power cycle failed: " + s.to_string());
    broken_ = true;
    return false;
  }
  ++cuts_;
  if (torn) ++torn_cuts_;
  dropped_.lost_files += cut->lost_files;
  dropped_.lost_names += cut->lost_names;
  dropped_.torn += cut->torn;
  return true;
}

Status Parent::power_on(uint64_t iteration) {
  if (Status s = power_->power_on(Rng({o_.seed, iteration, kPowerSeedStream}).next()); !s.is_ok()) return s;
  node_dir_ = power_->dir() / "node";
  return Status::ok();
}

// The castor-powerfs next to this binary: build/tests/powerfs/castor-powerfs for
// build/tests/castor-crash, or in the same directory (an install).
fs::path default_powerfs() {
  std::error_code ec;
  const fs::path here = fs::read_symlink("/proc/self/exe", ec).parent_path();
  const fs::path in_build_tree = here / "powerfs" / "castor-powerfs";
  if (fs::exists(in_build_tree, ec) || !fs::exists(here / "castor-powerfs", ec)) return in_build_tree;
  return here / "castor-powerfs";
}

bool Parent::start_power(const fs::path& base) {
  const fs::path binary = o_.powerfs.empty() ? default_powerfs() : o_.powerfs;
  std::error_code ec;
  if (::access(binary.c_str(), X_OK) != 0) {
    std::printf(
        "castor-crash: --power-loss needs castor-powerfs, not found at %s (build the castor-powerfs "
        "target, or give --powerfs PATH)\n",
        binary.c_str());
    return false;
  }
  fs::create_directories(base / "disk", ec);
  power_ = std::make_unique<PowerMount>(binary, base / "disk", base);
  if (Status s = power_on(1); !s.is_ok()) {
    std::printf(
        "castor-crash: --power-loss cannot mount castor-powerfs (it needs /dev/fuse, and root or "
        "fusermount3): %s\n",
        s.to_string().c_str());
    return false;
  }
  return true;
}

Status Parent::advance_reference(uint64_t commit) {
  if (reference_ && reference_->applied_index().value > commit) {
    // The log went back below what the reference applied: lost entries, already counted.
    // Start the reference over, so that the state comparison still means something.
    reference_.reset();
    std::error_code ec;
    fs::remove_all(reference_dir_, ec);
  }
  if (!reference_) {
    kv::StateMachineOptions so;
    so.data_dir = reference_dir_.string();
    auto opened = kv::StateMachine::open(so);
    if (!opened.is_ok()) return opened.status();
    reference_ = std::move(*opened);
  }
  std::vector<raft::pb::Entry> chunk;
  for (raft::LogIndex i = reference_->applied_index() + 1; i.value <= commit; ++i) {
    chunk.push_back(workload_.entry(i));
    if (chunk.size() == 256 || i.value == commit) {
      auto applied = reference_->apply(chunk);
      if (!applied.is_ok()) return applied.status();
      chunk.clear();
    }
  }
  return Status::ok();
}

uint64_t Parent::count_lost(uint64_t iteration, const raft::LmdbLog& log) {
  const uint64_t first = log.first_index().value;
  const uint64_t last = log.last_index().value;
  // Lost: acknowledged batches missing, or entries not as the child wrote them. Entries at or
  // below the snapshot are gone from the log; the reference comparison in check() covers them.
  uint64_t lost = 0;
  if (acked_ > last) {
    lost += acked_ - last;
    fail(iteration, "the child reported index " + std::to_string(acked_) + " durable; the log ends at " +
                        std::to_string(last));
    acked_ = last;
  }
  last_index_ = last;
  for (uint64_t i = first; i <= last;) {
    const std::vector<raft::pb::Entry> chunk =
        log.entries(raft::LogIndex(i), raft::LogIndex(last + 1), uint64_t{1} << 20);
    for (const raft::pb::Entry& e : chunk) {
      if (e.SerializeAsString() != workload_.entry(raft::LogIndex(e.index())).SerializeAsString()) {
        ++lost;
        fail(iteration, "entry " + std::to_string(e.index()) + " holds other bytes than the child wrote");
      }
    }
    i += chunk.size();
  }
  lost_ += lost;
  return lost;
}

// Half the time the parent recovers the directory itself, as the restarted castord would, and
// the next child continues from what it wrote. The other half it recovers a copy and leaves the
// directory as the kill left it, so that the next child recovers it (and may be killed while
// doing so). The copy is byte for byte what castord would find: nobody writes the directory
// while its writer is dead. nullopt (having said why) when the copy failed.
std::optional<fs::path> Parent::directory_to_check(uint64_t iteration) {
  if (!Rng({o_.seed, iteration, kCheckStream}).one_in(2)) return node_dir_;
  std::error_code ec;
  fs::remove_all(copy_dir_, ec);
  if (!ec) fs::copy(node_dir_, copy_dir_, fs::copy_options::recursive, ec);
  if (ec) {
    fail(iteration, "cannot copy " + node_dir_.string() + " to " + copy_dir_.string() + ": " + ec.message());
    return std::nullopt;
  }
  return copy_dir_;
}

bool Parent::check(uint64_t iteration) {
  std::optional<fs::path> dir = directory_to_check(iteration);
  if (!dir) {
    broken_ = true;
    return false;
  }
  auto node = open_node(*dir);
  if (!node.is_ok()) {
    fail(iteration, "the data directory does not reopen: " + node.status().to_string());
    // A node that refuses to start because its log lost entries its state machine had applied
    // (kv::reconcile) has lost them all the same: count them from the log alone.
    if (auto log = open_log(*dir, false); log.is_ok()) count_lost(iteration, **log);
    broken_ = true;
    return false;
  }
  raft::LmdbLog& log = *node->log;
  const uint64_t last = log.last_index().value;
  const uint64_t commit = log.hard_state().commit();
  const uint64_t lost = count_lost(iteration, log);
  // One transaction writes the entries and the hard state committing them, so no kill can
  // leave them apart.
  if (commit != last) {
    fail(iteration,
         "the hard state commits " + std::to_string(commit) + " but the log ends at " + std::to_string(last));
    broken_ = true;
  }
  std::vector<std::string> differences = compare_states(*node, commit, lost);
  if (!differences.empty()) {
    ++divergent_;
    for (const std::string& d : differences) fail(iteration, "divergent: " + d);
  }
  return true;
}

// Divergent: recovers `node` as castord does, then compares it with a fresh replay of its log
// and with the reference. Returns each difference, and each step that failed.
std::vector<std::string> Parent::compare_states(CrashNode& node, uint64_t commit, uint64_t lost) {
  raft::LmdbLog& log = *node.log;
  std::vector<std::string> differences;
  auto note = [&](const Status& s, const char* what) {
    if (!s.is_ok()) differences.push_back(std::string(what) + ": " + s.to_string());
    return s.is_ok();
  };
  std::optional<StateDump> recovered, fresh, reference;
  if (note(apply_committed(log, *node.state), "applying the committed entries failed")) {
    auto dump = dump_state(*node.state);
    if (note(dump.status(), "reading the recovered state failed")) recovered = std::move(*dump);
  }
  std::error_code ec;
  fs::remove_all(fresh_dir_, ec);
  kv::StateMachineOptions so;
  so.data_dir = fresh_dir_.string();
  auto replay = kv::StateMachine::open(so);
  if (note(replay.status(), "opening the replay's state machine failed") &&
      note(kv::reconcile(log, **replay, fresh_dir_), "restoring the log's snapshot failed") &&
      note(apply_committed(log, **replay), "replaying the log failed")) {
    auto dump = dump_state(**replay);
    if (note(dump.status(), "reading the replayed state failed")) fresh = std::move(*dump);
  }
  if (note(advance_reference(commit), "the reference state machine failed")) {
    auto dump = dump_state(*reference_);
    if (note(dump.status(), "reading the reference state failed")) reference = std::move(*dump);
  }
  if (recovered && fresh) {
    if (auto d = first_difference(*recovered, "recovered state", *fresh, "fresh replay of the log")) {
      differences.push_back(*d);
    }
  }
  // A log that lost entries differs from the reference's history by more than its length: the
  // losses are counted by check(), and this comparison would only repeat them.
  if (recovered && reference && lost == 0) {
    if (auto d = first_difference(*recovered, "recovered state", *reference,
                                  "reference (every entry applied once)")) {
      differences.push_back(*d);
    }
  }
  return differences;
}

// The run's directory: a new temporary one, or --dir when that is new or empty. nullopt
// (having said why) otherwise.
std::optional<fs::path> Parent::make_base_dir() const {
  std::error_code ec;
  fs::path base = o_.dir;
  if (base.empty()) {
    std::string pattern = (fs::temp_directory_path(ec) / "castor-crash-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "castor-crash: mkdtemp %s: %s\n", pattern.c_str(), std::strerror(errno));
      return std::nullopt;
    }
    base = pattern;
  } else if (fs::exists(base, ec) && !fs::is_empty(base, ec)) {
    std::fprintf(stderr, "castor-crash: %s is not empty; give a new or empty directory\n", base.c_str());
    return std::nullopt;
  }
  return fs::absolute(base, ec);  // castor-powerfs runs in "/"
}

// --power-loss, after the last iteration: checks the cuts dropped something and unmounts the
// disk (before its directory is removed or reported kept).
void Parent::finish_power() {
  // Cuts that dropped nothing would have tested nothing (LMDB's lock files alone are written
  // and never fsynced, so every real cut drops something).
  if (cuts_ > 0 && dropped_.lost_files == 0 && dropped_.lost_names == 0) {
    std::printf("castor-crash: the power cuts dropped nothing: the run proved nothing\n");
    broken_ = true;
  }
  if (Status s = power_->unmount(); !s.is_ok()) {
    std::printf("castor-crash: %s\n", s.to_string().c_str());
    broken_ = true;
  }
}

int Parent::run() {
  std::error_code ec;
  const bool temporary = o_.dir.empty();
  std::optional<fs::path> made = make_base_dir();
  if (!made) return o_.dir.empty() ? 1 : 2;
  const fs::path base = *made;
  node_dir_ = base / "node";
  copy_dir_ = base / "copy";
  fresh_dir_ = base / "fresh";
  reference_dir_ = base / "reference";
  std::printf("castor-crash: seed %llu, %llu iterations, data in %s%s%s%s\n",
              static_cast<unsigned long long>(o_.seed), static_cast<unsigned long long>(o_.iterations),
              base.c_str(), o_.power_loss ? ", power loss" : "",
              o_.plant == Plant::kNone ? "" : ", planted bug ",
              o_.plant == Plant::kNone ? "" : plant_name(o_.plant));
  std::fflush(stdout);  // the seed is on screen even if the run hangs or is interrupted

  const Clock::time_point start = Clock::now();
  if (o_.power_loss && !start_power(base)) {
    power_.reset();  // unmounted before its directory goes
    if (temporary) fs::remove_all(base, ec);
    return 1;
  }
  // The node exists before the first kill: a kill while castord creates a brand-new directory
  // is a different question (nothing is acknowledged yet) from the one asked here.
  if (auto created = open_node(node_dir_); !created.is_ok()) {
    std::printf("castor-crash: cannot create the data directory: %s\n", created.status().to_string().c_str());
    return 1;
  }
  for (uint64_t it = 1; it <= o_.iterations && !broken_; ++it) {
    std::unique_ptr<Reports> reports;
    auto pid = spawn(it, &reports);
    if (!pid.is_ok()) {
      fail(it, pid.status().to_string());
      broken_ = true;
      break;
    }
    if (!kill_child(it, *pid, *reports)) break;
    if (power_ && !cycle_power(it)) break;
    acked_ = std::max(acked_, reports->last());
    if (!check(it)) break;
    std::fflush(stdout);
  }
  if (power_) finish_power();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const bool clean = !broken_ && lost_ == 0 && divergent_ == 0;
  if (!clean) {
    std::printf(
        "castor-crash: FAILED; data kept in %s; replay: castor-crash --iterations %llu --seed %llu%s\n",
        base.c_str(), static_cast<unsigned long long>(o_.iterations),
        static_cast<unsigned long long>(o_.seed), replay_flags().c_str());
  } else if (temporary) {
    fs::remove_all(base, ec);
  }
  std::printf("castor-crash: %.1f s, last index %llu\n", secs, static_cast<unsigned long long>(last_index_));
  print_summary();
  return clean ? 0 : 1;
}

int usage(const std::string& why) {
  std::fprintf(stderr,
               "castor-crash: %s\n"
               "usage: castor-crash --iterations N [--seed S] [--dir D] [--power-loss [--powerfs PATH]]\n"
               "                    [--plant lose-acked|skip-dedup|skip-fsync]\n",
               why.c_str());
  return 2;
}

}  // namespace
}  // namespace castor::crash

int main(int argc, char** argv) {
  using namespace castor::crash;
  Options o;
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--child") {
      o.child = true;
      continue;
    }
    if (a == "--power-loss") {
      o.power_loss = true;
      continue;
    }
    if (i + 1 >= argc) return usage("bad argument: " + a);
    const std::string v = argv[++i];
    try {
      if (a == "--iterations") {
        o.iterations = std::stoull(v);
      } else if (a == "--seed") {
        o.seed = std::stoull(v);
        seeded = true;
      } else if (a == "--dir") {
        o.dir = v;
      } else if (a == "--powerfs") {
        o.powerfs = v;
      } else if (a == "--plant") {
        auto plant = parse_plant(v);
        if (!plant) return usage("unknown bug to plant: " + v);
        o.plant = *plant;
      } else if (a == "--iteration") {
        o.iteration = std::stoull(v);
      } else if (a == "--report-fd") {
        o.report_fd = std::stoi(v);
      } else {
        return usage("bad argument: " + a);
      }
    } catch (const std::exception&) {
      return usage("not a number: " + v);
    }
  }
  if (o.child) return run_child(o);
  if (o.iterations == 0) return usage("--iterations must be at least 1");
  if (!o.powerfs.empty() && !o.power_loss) return usage("--powerfs is for --power-loss");
  if (!seeded) o.seed = std::random_device()();
  return Parent(std::move(o)).run();
}

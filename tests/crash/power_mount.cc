#include "tests/crash/power_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "raft/storage/unique_fd.h"

extern char** environ;

namespace castor::crash {
namespace {

namespace fs = std::filesystem;
using raft::UniqueFd;

// castor-powerfs mounts in a few milliseconds and exits as soon as it is unmounted; these are
// the bounds past which it is stuck, not slow.
constexpr int kMountTimeoutMs = 10'000;
constexpr int kExitTimeoutMs = 10'000;
constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr const char* kControl = ".powerfs";
constexpr size_t kLogTailBytes = 1000;

Status error(const std::string& what) { return Status(Code::kInternal, what); }
Status errno_error(const std::string& what) { return error(what + ": " + std::strerror(errno)); }

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "died of signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

// Runs `fusermount3 -u dir` and waits for it: the unmount that works for root and, through the
// setuid helper, for anyone else; the same one libfuse uses.
Status fusermount_unmount(const fs::path& dir) {
  const std::string d = dir.string();
  const char* const argv[] = {"fusermount3", "-u", d.c_str(), nullptr};
  pid_t pid = -1;
  if (int rc = ::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char* const*>(argv), environ);
      rc != 0) {
    return error(std::string("cannot run fusermount3: ") + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
  return error("fusermount3 -u " + d + " " + exit_text(status));
}

}  // namespace

bool mounted(const fs::path& dir) {
  std::ifstream in("/proc/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string device, point;
    if (fields >> device >> point && point == dir.string()) return true;
  }
  return false;
}

PowerMount::PowerMount(fs::path binary, fs::path backing, fs::path mounts)
    : binary_(std::move(binary)),
      backing_(std::move(backing)),
      mounts_(std::move(mounts)),
      log_(mounts_ / "powerfs.log") {}

std::string PowerMount::log_tail() const {
  std::ifstream in(log_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.size() > kLogTailBytes) text = "..." + text.substr(text.size() - kLogTailBytes);
  return text.empty() ? "" : " (it said: " + text + ")";
}

PowerMount::~PowerMount() {
  if (Status s = unmount(); !s.is_ok()) std::fprintf(stderr, "castor-crash: %s\n", s.to_string().c_str());
}

Status PowerMount::power_on(uint64_t seed) {
  if (pid_ > 0) return error("castor-powerfs is already mounted at " + dir_.string());
  // A new mount point each time: fusermount3's auto_unmount helper of the previous mount
  // (powerfs_main.cc) unmounts its mount point when that castor-powerfs exits, and could
  // otherwise catch the new mount there.
  std::error_code ec;
  const fs::path dir = mounts_ / ("mnt." + std::to_string(++generation_));
  fs::create_directories(dir, ec);
  const fs::path canonical = ec ? dir : fs::canonical(dir, ec);
  if (ec) return error("cannot create the mount point " + dir.string() + ": " + ec.message());

  const std::string seed_text = std::to_string(seed);
  const std::string backing = backing_.string(), point = canonical.string(), binary = binary_.string();
  const char* const argv[] = {binary.c_str(),  "--seed",      seed_text.c_str(),
                              backing.c_str(), point.c_str(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    // A castor-crash that dies takes the file system down with it (SIGTERM: it unmounts).
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) ::_exit(4);
    const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0 || ::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(4);
    ::execv(binary.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "castor-crash: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(4);
  }
  pid_ = pid;
  dir_ = canonical;
  for (int waited = 0; waited < kMountTimeoutMs; waited += static_cast<int>(kPollInterval.count())) {
    if (mounted(dir_)) return Status::ok();
    int status = 0;
    if (reaped_within(0, &status)) {
      fs::remove(dir_, ec);
      dir_.clear();
      return error(binary + " " + exit_text(status) + " before mounting " + point + log_tail());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Status s = unmount();
  return error(binary + " did not mount " + point + " within " + std::to_string(kMountTimeoutMs / 1000) +
               " s" + (s.is_ok() ? "" : "; " + s.message()) + log_tail());
}

Status PowerMount::write_control(const std::string& command) {
  UniqueFd fd(::open((dir_ / kControl).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open " + (dir_ / kControl).string());
  if (::write(fd.get(), command.data(), command.size()) != static_cast<ssize_t>(command.size()))
    return errno_error("write " + command + " to " + (dir_ / kControl).string());
  return Status::ok();
}

Result<std::string> PowerMount::read_status() {
  UniqueFd fd(::open((dir_ / kControl).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open " + (dir_ / kControl).string());
  char buf[4096];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n < 0) return errno_error("read " + (dir_ / kControl).string());
  return std::string(buf, static_cast<size_t>(n));
}

Result<CutReport> PowerMount::cut(bool torn) {
  if (pid_ <= 0) return error("cut: nothing is mounted");
  if (Status s = write_control(torn ? "torn-cut" : "power-cut"); !s.is_ok()) return s;
  auto status = read_status();
  if (!status.is_ok()) return status.status();
  // "cut fsync=33 fsyncdir=8 lost-files=3 lost-names=0 power-cut=1 ..."
  std::istringstream fields(*status);
  std::string state, field;
  fields >> state;
  CutReport report;
  uint64_t cuts = 0;
  while (fields >> field) {
    const size_t eq = field.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = field.substr(0, eq);
    const uint64_t n = std::strtoull(field.c_str() + eq + 1, nullptr, 10);
    if (name == "lost-files") report.lost_files = n;
    if (name == "lost-names") report.lost_names = n;
    if (name == "torn") report.torn = n;
    if (name == "power-cut") cuts = n;
  }
  // A harness must not pass on a fault that never fired.
  if (state != "cut" || cuts != 1) return error("the power did not go: castor-powerfs says " + *status);
  return report;
}

bool PowerMount::reaped_within(int timeout_ms, int* status) {
  for (int waited = 0;; waited += static_cast<int>(kPollInterval.count())) {
    const pid_t r = ::waitpid(pid_, status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return true;
    }
    if (waited >= timeout_ms) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status PowerMount::unmount() {
  if (pid_ <= 0) return Status::ok();
  Status result = mounted(dir_) ? fusermount_unmount(dir_) : Status::ok();
  int status = 0;
  if (!reaped_within(kExitTimeoutMs, &status)) {
    // Stuck (or fusermount3 failed): end it by its pid, and detach whatever is left, so that
    // nothing stays mounted under the run's directory.
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (mounted(dir_) && ::umount2(dir_.c_str(), MNT_DETACH) != 0 && result.is_ok())
      result = errno_error("umount2 " + dir_.string());
    if (result.is_ok()) result = error("castor-powerfs did not exit after the unmount of " + dir_.string());
  }
  // The mount point is empty now; remove() refuses it if it is somehow still mounted.
  std::error_code ec;
  fs::remove(dir_, ec);
  dir_.clear();
  return result;
}

}  // namespace castor::crash

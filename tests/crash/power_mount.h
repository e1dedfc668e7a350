// PowerMount: castor-crash --power-loss's disk. A castor-powerfs process (tests/powerfs) serves
// a backing directory at a mount point and forgets every write and name that was not fsynced
// when its power is cut; mounting again over the same backing directory "powers it on" with
// what survived, as a machine would find it after the cut.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "raft/base/status.h"

namespace castor::crash {

// What one cut dropped, from castor-powerfs's status line (power_fs.h).
struct CutReport {
  uint64_t lost_files = 0;  // files whose unsynced writes were dropped
  uint64_t lost_names = 0;  // names created, removed or renamed since their directory's fsync
  uint64_t torn = 0;        // writes kept in part (a torn-cut that kept some sectors, not all)
};

// Not thread-safe. Owns its castor-powerfs process; the destructor unmounts, so that no failure
// path leaves a mount (or a daemon) behind.
class PowerMount {
 public:
  // `binary` is castor-powerfs; `backing` holds what is durable; each power-on mounts it at a
  // new directory under `mounts` (see power_on()). Both directories must exist. What
  // castor-powerfs and its fusermount3 helpers print goes to mounts/powerfs.log: every
  // unmount has the helper of that mount say "not mounted" once it finds the work done.
  PowerMount(std::filesystem::path binary, std::filesystem::path backing, std::filesystem::path mounts);
  ~PowerMount();
  PowerMount(const PowerMount&) = delete;
  PowerMount& operator=(const PowerMount&) = delete;

  // Mounts the backing directory and waits until the mount is in /proc/mounts. `seed` drives the
  // torn-cut's choice of what to keep. Fails, saying why, when castor-powerfs cannot mount
  // (it needs /dev/fuse, and root or fusermount3).
  Status power_on(uint64_t seed);
  // Cuts the power (a torn-cut when `torn`): from then on the mount answers EIO to everything
  // but its status, which says what the cut dropped.
  Result<CutReport> cut(bool torn);
  // Unmounts and waits for castor-powerfs to exit. Without a cut first, everything unsynced is
  // written through (a clean shutdown). Does nothing when not mounted.
  Status unmount();

  // The mount point while mounted; empty otherwise.
  const std::filesystem::path& dir() const { return dir_; }

 private:
  Status write_control(const std::string& command);
  // The end of powerfs.log, for the message of a mount that failed.
  std::string log_tail() const;
  Result<std::string> read_status();
  // Waits up to `timeout_ms` for castor-powerfs to exit; true when it did (and was reaped).
  bool reaped_within(int timeout_ms, int* status);

  const std::filesystem::path binary_, backing_, mounts_, log_;
  std::filesystem::path dir_;
  uint64_t generation_ = 0;
  pid_t pid_ = -1;
};

// True when `dir` (an absolute, canonical path) is a mount point in /proc/mounts.
bool mounted(const std::filesystem::path& dir);

}  // namespace castor::crash

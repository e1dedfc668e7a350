// PowerFs: a file system that forgets what was not fsynced when its power is cut, and the disk
// faults the harness turns on. castor-powerfs serves it over FUSE (powerfs_main.cc); the unit
// tests call it directly.
//
// The backing directory holds what is durable. Writes and truncates since a file's last fsync
// stay in memory (VolatileFile), laid over the backing file for every read, as a page cache
// does; fsync writes them through. New, removed and renamed names are made on the backing
// directory at once but can be taken back until their directory is fsynced
// (NamespaceJournal). A power cut drops all of that, and from then on every operation fails
// with EIO until the file system is mounted again over the same backing directory, which then
// holds exactly what a machine would find after the cut.
//
// Faults, by control() command (castor-powerfs: a line written to <mount>/.powerfs):
//   power-cut      drop every unsynced byte and name; answer nothing but EIO after it
//   torn-cut       the same, but the last unsynced write keeps a random prefix of whole
//                  512-byte sectors (the disk was writing it)
//   disk-full N    writes fail with ENOSPC once N more bytes have been written, and statfs shows
//                  only what is left of N free; disk-ok ends it
//   fsync-error    the next fsync of a file fails with EIO and drops its unsynced bytes, as
//                  Linux does (a retried fsync then succeeds with the data gone)
//   slow MS        every fsync takes MS milliseconds more (0 ends it)
// status() says what fired, for a harness that must not pass on faults that never happened.
//
// Paths are as FUSE gives them ("/a/b"). Operations return 0 (or a count) or -errno. File
// handles are backing file descriptors. Not thread-safe: castor-powerfs runs single-threaded.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/powerfs/namespace_journal.h"
#include "tests/powerfs/volatile_file.h"

namespace castor::powerfs {

class PowerFs {
 public:
  PowerFs(std::filesystem::path backing, uint64_t seed);
  ~PowerFs();
  PowerFs(const PowerFs&) = delete;
  PowerFs& operator=(const PowerFs&) = delete;

  int getattr(const std::string& path, struct stat* st);
  int readdir(const std::string& path, std::vector<std::string>* names);
  int open(const std::string& path, int flags, int* fh);
  int create(const std::string& path, int flags, mode_t mode, int* fh);
  int read(int fh, char* buf, size_t size, uint64_t offset);
  int write(int fh, const char* buf, size_t size, uint64_t offset);
  int truncate(const std::string& path, uint64_t size);
  int ftruncate(int fh, uint64_t size);
  int fsync(int fh);
  int release(int fh);
  int mkdir(const std::string& path, mode_t mode);
  int unlink(const std::string& path);
  int rmdir(const std::string& path);
  int rename(const std::string& from, const std::string& to, unsigned flags);
  int fsyncdir(const std::string& path);
  int statfs(struct statvfs* st);
  int chmod(const std::string& path, mode_t mode);
  int utimens(const std::string& path, const struct timespec times[2]);

  // Runs a fault command (see above); -EINVAL for an unknown one.
  int control(const std::string& command);
  // One line: "alive" or "cut", then name=count pairs of what fired.
  std::string status() const;
  // A clean unmount: everything unsynced is written through (nothing is lost without a cut).
  void unmount();

 private:
  struct Pending {
    VolatileFile file;
    int fd = -1;  // a backing descriptor of its own, so the changes can be written after close
  };
  std::string rel(const std::string& path) const;
  bool hidden(const std::string& path) const;
  int ino_of_fd(int fh, struct stat* st) const;
  Pending& pending_for(int fh, ino_t ino);
  void drop(ino_t ino);
  void cut(bool torn);

  std::filesystem::path backing_;
  NamespaceJournal journal_;
  std::map<ino_t, Pending> pending_;
  std::optional<ino_t> last_written_;
  std::mt19937_64 rng_;
  bool dead_ = false;
  std::optional<uint64_t> space_left_;  // disk-full
  bool fail_next_fsync_ = false;
  uint32_t slow_ms_ = 0;
  std::map<std::string, uint64_t> fired_;
};

}  // namespace castor::powerfs

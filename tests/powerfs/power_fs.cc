#include "tests/powerfs/power_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace castor::powerfs {
namespace {

// Every operation after a cut: the machine is off.
constexpr int kOff = -EIO;

bool is_empty_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_empty(dir, ec) && !ec;
}

}  // namespace

PowerFs::PowerFs(std::filesystem::path backing, uint64_t seed)
    : backing_(std::move(backing)), journal_(backing_), rng_(seed) {}

PowerFs::~PowerFs() {
  for (auto& [ino, p] : pending_) ::close(p.fd);
}

std::string PowerFs::rel(const std::string& path) const {
  return path.size() > 1 && path[0] == '/' ? path.substr(1) : (path == "/" ? "" : path);
}

bool PowerFs::hidden(const std::string& path) const {
  const std::string r = rel(path);
  const std::string trash = NamespaceJournal::kTrash;
  return r == trash || r.rfind(trash + "/", 0) == 0;
}

int PowerFs::ino_of_fd(int fh, struct stat* st) const { return ::fstat(fh, st) == 0 ? 0 : -errno; }

PowerFs::Pending& PowerFs::pending_for(int fh, ino_t ino) {
  Pending& p = pending_[ino];
  if (p.fd < 0) p.fd = ::fcntl(fh, F_DUPFD_CLOEXEC, 0);
  return p;
}

void PowerFs::drop(ino_t ino) {
  auto it = pending_.find(ino);
  if (it == pending_.end()) return;
  ::close(it->second.fd);
  pending_.erase(it);
}

int PowerFs::getattr(const std::string& path, struct stat* st) {
  if (dead_) return kOff;
  if (hidden(path)) return -ENOENT;
  if (::lstat((backing_ / rel(path)).c_str(), st) != 0) return -errno;
  if (auto it = pending_.find(st->st_ino); it != pending_.end() && S_ISREG(st->st_mode)) {
    st->st_size = static_cast<off_t>(it->second.file.size(static_cast<uint64_t>(st->st_size)));
  }
  return 0;
}

int PowerFs::readdir(const std::string& path, std::vector<std::string>* names) {
  if (dead_) return kOff;
  DIR* d = ::opendir((backing_ / rel(path)).c_str());
  if (d == nullptr) return -errno;
  const bool root = rel(path).empty();
  while (dirent* e = ::readdir(d)) {
    if (root && std::string(e->d_name) == NamespaceJournal::kTrash) continue;
    names->emplace_back(e->d_name);
  }
  ::closedir(d);
  return 0;
}

int PowerFs::open(const std::string& path, int flags, int* fh) {
  if (dead_) return kOff;
  if (hidden(path)) return -ENOENT;
  // Read-write whatever was asked: fsync writes the changes through this descriptor's twin.
  // O_TRUNC is a change like any other, lost on a cut unless fsynced.
  const int fd = ::open((backing_ / rel(path)).c_str(), (flags & ~(O_ACCMODE | O_TRUNC | O_APPEND)) | O_RDWR);
  if (fd < 0) return -errno;
  *fh = fd;
  if (flags & O_TRUNC) return ftruncate(fd, 0);
  return 0;
}

int PowerFs::create(const std::string& path, int flags, mode_t mode, int* fh) {
  if (dead_) return kOff;
  if (hidden(path)) return -EPERM;
  const std::string r = rel(path);
  struct stat st {};
  const bool existed = ::lstat((backing_ / r).c_str(), &st) == 0;
  const int fd =
      ::open((backing_ / r).c_str(), (flags & ~(O_ACCMODE | O_TRUNC | O_APPEND)) | O_RDWR | O_CREAT, mode);
  if (fd < 0) return -errno;
  if (!existed) journal_.created(r);
  *fh = fd;
  if (existed && (flags & O_TRUNC)) return ftruncate(fd, 0);
  return 0;
}

int PowerFs::read(int fh, char* buf, size_t size, uint64_t offset) {
  if (dead_) return kOff;
  struct stat st {};
  if (int rc = ino_of_fd(fh, &st); rc != 0) return rc;
  std::string window(size, '\0');
  const ssize_t n = ::pread(fh, window.data(), size, static_cast<off_t>(offset));
  if (n < 0) return -errno;
  auto it = pending_.find(st.st_ino);
  if (it == pending_.end()) {
    window.resize(static_cast<size_t>(n));
  } else {
    it->second.file.overlay(offset, static_cast<uint64_t>(st.st_size), window);
  }
  std::copy(window.begin(), window.end(), buf);
  return static_cast<int>(window.size());
}

int PowerFs::write(int fh, const char* buf, size_t size, uint64_t offset) {
  if (dead_) return kOff;
  if (space_left_) {
    if (*space_left_ < size) {
      ++fired_["disk-full"];
      return -ENOSPC;
    }
    *space_left_ -= size;
  }
  struct stat st {};
  if (int rc = ino_of_fd(fh, &st); rc != 0) return rc;
  pending_for(fh, st.st_ino).file.write(offset, std::string_view(buf, size));
  last_written_ = st.st_ino;
  return static_cast<int>(size);
}

int PowerFs::ftruncate(int fh, uint64_t size) {
  if (dead_) return kOff;
  struct stat st {};
  if (int rc = ino_of_fd(fh, &st); rc != 0) return rc;
  pending_for(fh, st.st_ino).file.truncate(size);
  return 0;
}

int PowerFs::truncate(const std::string& path, uint64_t size) {
  int fh = -1;
  if (int rc = open(path, O_RDWR, &fh); rc != 0) return rc;
  const int rc = ftruncate(fh, size);
  ::close(fh);
  return rc;
}

int PowerFs::fsync(int fh) {
  if (dead_) return kOff;
  ++fired_["fsync"];
  if (slow_ms_ > 0) {
    ++fired_["slow"];
    std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms_));
  }
  struct stat st {};
  if (int rc = ino_of_fd(fh, &st); rc != 0) return rc;
  if (fail_next_fsync_) {
    fail_next_fsync_ = false;
    ++fired_["fsync-error"];
    drop(st.st_ino);
    return -EIO;
  }
  auto it = pending_.find(st.st_ino);
  if (it == pending_.end()) return 0;
  if (int rc = it->second.file.flush_to(it->second.fd); rc != 0) return rc;
  drop(st.st_ino);
  return 0;
}

int PowerFs::release(int fh) { return ::close(fh) == 0 ? 0 : -errno; }

int PowerFs::mkdir(const std::string& path, mode_t mode) {
  if (dead_) return kOff;
  if (hidden(path)) return -EPERM;
  if (::mkdir((backing_ / rel(path)).c_str(), mode) != 0) return -errno;
  journal_.created(rel(path));
  return 0;
}

int PowerFs::unlink(const std::string& path) {
  if (dead_) return kOff;
  struct stat st {};
  if (hidden(path) || ::lstat((backing_ / rel(path)).c_str(), &st) != 0) return -ENOENT;
  if (S_ISDIR(st.st_mode)) return -EISDIR;
  return journal_.remove(rel(path));
}

int PowerFs::rmdir(const std::string& path) {
  if (dead_) return kOff;
  struct stat st {};
  if (hidden(path) || ::lstat((backing_ / rel(path)).c_str(), &st) != 0) return -ENOENT;
  if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  if (!is_empty_dir(backing_ / rel(path))) return -ENOTEMPTY;
  return journal_.remove(rel(path));
}

int PowerFs::rename(const std::string& from, const std::string& to, unsigned flags) {
  if (dead_) return kOff;
  if (hidden(from) || hidden(to)) return -EPERM;
  if (flags & ~unsigned{RENAME_NOREPLACE}) return -EINVAL;  // RENAME_EXCHANGE, WHITEOUT
  struct stat src {
  }, dst{};
  if (::lstat((backing_ / rel(from)).c_str(), &src) != 0) return -errno;
  if (::lstat((backing_ / rel(to)).c_str(), &dst) == 0) {
    // What rename(2) would refuse, refused before the journal moves `to` aside.
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    if (S_ISDIR(dst.st_mode) && !S_ISDIR(src.st_mode)) return -EISDIR;
    if (!S_ISDIR(dst.st_mode) && S_ISDIR(src.st_mode)) return -ENOTDIR;
    if (S_ISDIR(dst.st_mode) && !is_empty_dir(backing_ / rel(to))) return -ENOTEMPTY;
    if (src.st_ino == dst.st_ino) return 0;
  }
  return journal_.rename(rel(from), rel(to));
}

int PowerFs::fsyncdir(const std::string& path) {
  if (dead_) return kOff;
  ++fired_["fsyncdir"];
  journal_.dir_synced(rel(path));
  return 0;
}

int PowerFs::statfs(struct statvfs* st) {
  if (dead_) return kOff;
  if (::statvfs(backing_.c_str(), st) != 0) return -errno;
  if (space_left_ && st->f_frsize > 0) {
    // After `disk-full N` the disk shows only what is left of N free, as a full disk would.
    const fsblkcnt_t left = static_cast<fsblkcnt_t>(*space_left_ / st->f_frsize);
    st->f_bfree = std::min(st->f_bfree, left);
    st->f_bavail = std::min(st->f_bavail, left);
  }
  return 0;
}

int PowerFs::chmod(const std::string& path, mode_t mode) {
  if (dead_) return kOff;
  if (hidden(path)) return -ENOENT;
  return ::chmod((backing_ / rel(path)).c_str(), mode) == 0 ? 0 : -errno;
}

int PowerFs::utimens(const std::string& path, const struct timespec times[2]) {
  if (dead_) return kOff;
  if (hidden(path)) return -ENOENT;
  return ::utimensat(AT_FDCWD, (backing_ / rel(path)).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

void PowerFs::cut(bool torn) {
  if (torn && last_written_) {
    if (auto it = pending_.find(*last_written_); it != pending_.end()) {
      const uint64_t sectors = it->second.file.last_write_sectors();
      // Any prefix, from none of the write to all of it.
      const uint64_t keep = std::uniform_int_distribution<uint64_t>(0, sectors)(rng_);
      if (it->second.file.flush_torn_to(it->second.fd, keep) == 0 && keep > 0 && keep < sectors)
        ++fired_["torn"];
    }
  }
  for (auto& [ino, p] : pending_) ::close(p.fd);
  fired_["lost-files"] += pending_.size();
  pending_.clear();
  fired_["lost-names"] += journal_.pending();
  if (journal_.undo() != 0) ++fired_["undo-failed"];
  ++fired_["power-cut"];
  dead_ = true;
}

int PowerFs::control(const std::string& command) {
  std::istringstream in(command);
  std::string verb;
  uint64_t n = 0;
  in >> verb;
  const bool has_number = static_cast<bool>(in >> n);
  if (verb == "power-cut" || verb == "torn-cut") {
    if (!dead_) cut(verb == "torn-cut");
  } else if (verb == "disk-full" && has_number) {
    space_left_ = n;
  } else if (verb == "disk-ok") {
    space_left_.reset();
  } else if (verb == "fsync-error") {
    fail_next_fsync_ = true;
  } else if (verb == "slow" && has_number) {
    slow_ms_ = static_cast<uint32_t>(n);
  } else {
    return -EINVAL;
  }
  return 0;
}

std::string PowerFs::status() const {
  std::string s = dead_ ? "cut" : "alive";
  for (const auto& [name, n] : fired_) s += " " + name + "=" + std::to_string(n);
  return s + "\n";
}

void PowerFs::unmount() {
  if (dead_) return;
  for (auto& [ino, p] : pending_) {
    if (int rc = p.file.flush_to(p.fd); rc != 0)
      std::fprintf(stderr, "powerfs: flush at unmount failed: %d\n", rc);
    ::close(p.fd);
  }
  pending_.clear();
  journal_.settle();
}

}  // namespace castor::powerfs

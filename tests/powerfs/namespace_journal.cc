#include "tests/powerfs/namespace_journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace castor::powerfs {

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

NamespaceJournal::NamespaceJournal(std::filesystem::path backing) : backing_(std::move(backing)) {
  std::error_code ec;
  std::filesystem::create_directories(backing_ / kTrash, ec);
}

std::string NamespaceJournal::next_trash() {
  return std::string(kTrash) + "/" + std::to_string(++trash_seq_);
}

void NamespaceJournal::created(const std::string& path) {
  changes_.push_back(Change{Change::kCreate, path, "", "", {parent_of(path)}});
}

int NamespaceJournal::remove(const std::string& path) {
  const std::string trash = next_trash();
  if (::rename(full(path).c_str(), full(trash).c_str()) != 0) return -errno;
  changes_.push_back(Change{Change::kRemove, path, "", trash, {parent_of(path)}});
  return 0;
}

int NamespaceJournal::rename(const std::string& from, const std::string& to) {
  struct stat st {};
  std::string trash;
  if (::lstat(full(to).c_str(), &st) == 0) {
    // rename(2) replaces `to`; moving it aside first keeps it for undo. A directory `to` must
    // be empty and `from` a directory too, which rename(2) itself checks below.
    trash = next_trash();
    if (::rename(full(to).c_str(), full(trash).c_str()) != 0) return -errno;
  }
  if (::rename(full(from).c_str(), full(to).c_str()) != 0) {
    const int err = errno;
    if (!trash.empty() && ::rename(full(trash).c_str(), full(to).c_str()) != 0) {
      std::fprintf(stderr, "powerfs: cannot put back %s: %s\n", to.c_str(), std::strerror(errno));
    }
    return -err;
  }
  changes_.push_back(Change{Change::kRename, from, to, trash, {parent_of(from), parent_of(to)}});
  return 0;
}

void NamespaceJournal::dir_synced(const std::string& dir) {
  for (Change& c : changes_) c.dirs_unsynced.erase(dir);
  drop_durable();
}

// Durable changes need no undo; their trash (what they removed for good) can go at once.
void NamespaceJournal::drop_durable() {
  std::vector<Change> kept;
  for (Change& c : changes_) {
    if (!c.dirs_unsynced.empty()) {
      kept.push_back(std::move(c));
    } else if (!c.trash.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(full(c.trash), ec);
    }
  }
  changes_ = std::move(kept);
}

int NamespaceJournal::undo_one(const Change& c) {
  std::error_code ec;
  switch (c.kind) {
    case Change::kCreate:
      std::filesystem::remove_all(full(c.a), ec);
      return ec ? -ec.value() : 0;
    case Change::kRemove:
      return ::rename(full(c.trash).c_str(), full(c.a).c_str()) == 0 ? 0 : -errno;
    case Change::kRename:
      if (::rename(full(c.b).c_str(), full(c.a).c_str()) != 0) return -errno;
      if (!c.trash.empty() && ::rename(full(c.trash).c_str(), full(c.b).c_str()) != 0) return -errno;
      return 0;
  }
  return -EINVAL;
}

int NamespaceJournal::undo() {
  int failed = 0;
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
    if (int rc = undo_one(*it); rc != 0) {
      ++failed;
      std::fprintf(stderr, "powerfs: cannot undo a change of %s: %s\n", it->a.c_str(), std::strerror(-rc));
    }
  }
  changes_.clear();
  empty_trash();
  return failed;
}

void NamespaceJournal::settle() {
  changes_.clear();
  empty_trash();
}

void NamespaceJournal::empty_trash() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(backing_ / kTrash, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace castor::powerfs

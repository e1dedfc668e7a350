// NamespaceJournal: directory entries that a power cut may take back.
//
// A new, removed or renamed name is durable only once the directory holding it has been
// fsynced (POSIX; a rename needs both directories). The journal makes each such change on the
// backing directory at once, so that everything sees it, and remembers how to undo it until
// the fsyncs that make it durable: a removed or replaced entry is moved aside into a trash
// directory rather than deleted. On a power cut, undo() takes back every change not yet
// durable, newest first, and empties the trash.
//
// Paths are relative to the backing root ("a/b", never starting with '/'). Every operation
// returns 0 or -errno. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace castor::powerfs {

class NamespaceJournal {
 public:
  // The trash lives in `backing`/kTrash, created here if missing.
  explicit NamespaceJournal(std::filesystem::path backing);
  static constexpr const char* kTrash = ".powerfs-trash";

  // Records that `path` was just created (a file by open(O_CREAT), or a directory).
  void created(const std::string& path);
  // Removes `path` (a file, or an empty directory), keeping it for undo.
  int remove(const std::string& path);
  // Renames `from` to `to`, keeping a replaced `to` for undo.
  int rename(const std::string& from, const std::string& to);
  // The directory `dir` ("" for the root) was fsynced: its entries as they are now are durable.
  void dir_synced(const std::string& dir);

  // Takes back every change not durable, newest first; returns how many failed to undo (each
  // also written to stderr). Empties the trash.
  int undo();
  // Forgets every change (a clean unmount: nothing is lost) and empties the trash.
  void settle();
  size_t pending() const { return changes_.size(); }

 private:
  struct Change {
    enum Kind { kCreate, kRemove, kRename } kind;
    std::string a, b;   // create/remove: the path; rename: from, to
    std::string trash;  // remove: where the entry went; rename: where a replaced `to` went
    std::set<std::string> dirs_unsynced;
  };
  std::filesystem::path full(const std::string& path) const { return backing_ / path; }
  std::string next_trash();
  int undo_one(const Change& c);
  void drop_durable();
  void empty_trash();

  std::filesystem::path backing_;
  std::vector<Change> changes_;
  uint64_t trash_seq_ = 0;
};

// The directory of `path` ("" for a name in the root).
std::string parent_of(const std::string& path);

}  // namespace castor::powerfs

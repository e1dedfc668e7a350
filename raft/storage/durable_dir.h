// Directories whose entries survive a power loss. POSIX makes a name (a file or directory
// created, renamed or removed) durable only once the directory holding it is fsynced; fsyncing
// the file itself does not. A data directory created without this can vanish whole with every
// acknowledged write in it (tests/powerfs shows it).
//
// What it does NOT do: fsync the files themselves (their writers must), or retry a failed fsync.
#pragma once

#include <filesystem>

#include "raft/base/status.h"

namespace castor::raft {

// Makes the names in `dir` (files created, renamed or removed there) durable.
Status fsync_dir(const std::filesystem::path& dir);

// Creates `dir` and its missing parents, fsyncing the parent of each directory it creates, so
// the whole path survives a power loss. Existing directories are left as they are.
Status create_dirs_durably(const std::filesystem::path& dir);

}  // namespace castor::raft

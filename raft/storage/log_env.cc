#include "raft/storage/log_env.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "raft/storage/lmdb_file.h"
#include "raft/storage/log_errors.h"

namespace castor::raft {
namespace {

Result<UniqueFd> lock_dir(const std::filesystem::path& log_dir) {
  const std::filesystem::path lock_path = log_dir / "castor.lock";
  UniqueFd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_fd.valid())
    return Status(Code::kInternal, "open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(Code::kUnavailable,
                    "the Raft log in " + log_dir.string() + " is already open in another process");
    }
    return Status(Code::kInternal, "flock " + lock_path.string() + ": " + std::strerror(errno));
  }
  return lock_fd;
}

}  // namespace

Result<LogEnv> open_log_env(const std::filesystem::path& log_dir, uint64_t map_bytes,
                            bool unsafe_skip_fsync) {
  Result<UniqueFd> lock_fd = lock_dir(log_dir);
  if (!lock_fd.is_ok()) return lock_fd.status();
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_maxdbs(env, 2);
  if (rc == 0) rc = mdb_env_set_mapsize(env, map_bytes);
  // Default flags: every commit fsyncs the data and the meta page.
  if (rc == 0) rc = mdb_env_open(env, log_dir.c_str(), unsafe_skip_fsync ? MDB_NOSYNC : 0, 0644);
  Status s = rc == 0
                 ? check_lmdb_file_complete(env, kRestoreAdvice)
                 : Status(Code::kInternal, "LMDB cannot open " + log_dir.string() + ": " + mdb_strerror(rc));
  if (!s.is_ok()) {
    if (env != nullptr) mdb_env_close(env);
    return s;
  }
  return LogEnv{env, std::move(lock_fd).value()};
}

}  // namespace castor::raft

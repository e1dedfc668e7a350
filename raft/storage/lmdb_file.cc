#include "raft/storage/lmdb_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace castor::raft {

Status check_lmdb_file_complete(MDB_env* env, const std::string& advice) {
  const char* dir = nullptr;
  mdb_filehandle_t fd = -1;
  MDB_envinfo info;
  MDB_stat stat;
  if (int rc = mdb_env_get_path(env, &dir); rc != 0) return Status(Code::kInternal, mdb_strerror(rc));
  if (int rc = mdb_env_get_fd(env, &fd); rc != 0) return Status(Code::kInternal, mdb_strerror(rc));
  // Both read the meta pages (the first two, which mdb_env_open has read from the file), no
  // other page.
  if (int rc = mdb_env_info(env, &info); rc != 0) return Status(Code::kInternal, mdb_strerror(rc));
  if (int rc = mdb_env_stat(env, &stat); rc != 0) return Status(Code::kInternal, mdb_strerror(rc));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status(Code::kInternal,
                  std::string("fstat of LMDB's file in ") + dir + ": " + std::strerror(errno));
  }
  const uint64_t needed = (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
  if (static_cast<uint64_t>(st.st_size) < needed) {
    return Status(Code::kCorruption, std::string(dir) + "/data.mdb is " + std::to_string(st.st_size) +
                                         " bytes, but its last commit wrote pages up to byte " +
                                         std::to_string(needed) +
                                         ": writes it counted as durable never reached the disk; " + advice);
  }
  return Status::ok();
}

}  // namespace castor::raft

#include "raft/storage/log_errors.h"

#include <lmdb.h>

#include "raft/storage/disk_error.h"

namespace castor::raft {

Status LogErrors::corruption(const std::string& what) const {
  return Status(Code::kCorruption, "Raft log in " + data_dir.string() + ": " + what + "; " + kRestoreAdvice);
}

Status LogErrors::lmdb(const char* op, int rc) const {
  return Status(Code::kInternal, std::string("LMDB ") + op + " on the Raft log in " + data_dir.string() +
                                     " failed: " + mdb_strerror(rc) + disk_error_advice(rc));
}

}  // namespace castor::raft

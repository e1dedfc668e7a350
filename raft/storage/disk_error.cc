#include "raft/storage/disk_error.h"

#include <cerrno>

namespace castor::raft {

std::string disk_error_advice(int err) {
  switch (err) {
    case EIO:
      // Never retried: after a failed fsync the kernel may already have dropped the dirty
      // pages, so a retry that succeeds could still acknowledge data that is gone.
      return " (the disk failed a read, write or fsync; the node stops rather than retry, as what a "
             "failed write covered may be lost: check the disk and the kernel log, then restart the "
             "node; docs/RUNBOOK.md)";
    case ENOSPC:
      return " (the disk is full: free space on it, then restart the node; docs/RUNBOOK.md)";
    default:
      return "";
  }
}

}  // namespace castor::raft

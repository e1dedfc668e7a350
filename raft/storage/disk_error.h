// What an operator should do about a disk operation that failed, for the message of the error
// that stops a node (the Raft log's and the state machine's alike).
#pragma once

#include <string>

namespace castor::raft {

// Advice to append to the message of an error whose errno-style code is `err`: for EIO (the
// disk failed a read, write or fsync) and ENOSPC (the disk is full); "" for any other code.
std::string disk_error_advice(int err);

}  // namespace castor::raft

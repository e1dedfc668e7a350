// What an operator should do about a disk operation that failed, for the message of the error
// that stops a node (the Raft log's and the state machine's alike).
//
// What it does NOT do: retry, log or stop anything: it only returns text, and the caller's error
// stops the node.
#pragma once

#include <string>

namespace castor::raft {

// Advice to append to the message of an error whose errno-style code is `err`: for EIO (the
// disk failed a read, write or fsync) and ENOSPC (the disk is full); "" for any other code.
std::string disk_error_advice(int err);

}  // namespace castor::raft

// CrashNode: one node's data directory (the Raft log and the state machine) opened the way
// castord opens it, for the crash test's child, which writes to it, and its parent, which
// reopens it after each kill and checks it.
#pragma once

#include <filesystem>
#include <memory>

#include "kv/machine/state_machine.h"
#include "kv/server/recovery.h"
#include "raft/base/status.h"
#include "raft/storage/lmdb_log.h"

namespace castor::crash {

// Not thread-safe: the crash test is single-threaded on both sides of the fork.
struct CrashNode {
  std::unique_ptr<raft::LmdbLog> log;
  std::unique_ptr<kv::StateMachine> state;
};

// The unsafe test switches a crash test's child may turn on, for its planted bugs.
struct Unsafe {
  bool skip_dedup = false;  // kv::StateMachineOptions::unsafe_skip_dedup: the planted divergence
  bool skip_fsync = false;  // raft::LmdbLog::Options::unsafe_skip_fsync: losses at a power cut
};

// Opens the log and the state machine in `dir` and reconciles them as kv::Server::open does
// (create the directory durably, the log only when neither exists, then kv::reconcile()). It
// does not apply anything.
Result<CrashNode> open_node(const std::filesystem::path& dir, Unsafe unsafe = {});

// Opens the log in `dir` alone, as open_node does but without reconciling it with the state
// machine: what is left of a node that refuses to start (a log behind its state machine) can
// still be read.
Result<std::unique_ptr<raft::LmdbLog>> open_log(const std::filesystem::path& dir, bool create_if_missing,
                                                bool unsafe_skip_fsync = false);

// Applies the log's committed entries above the state machine's applied index, as castord does
// after a restart: in log order, a chunk of entries per apply() call. The state machine must be
// reconciled with the log first.
Status apply_committed(const raft::LmdbLog& log, kv::StateMachine& state);

}  // namespace castor::crash

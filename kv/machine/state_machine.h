// StateMachine: applies committed Raft entries to the key space, atomically with the applied
// index and the session table, and serves reads and snapshots.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/history.h"
#include "kv/machine/key_space.h"
#include "kv/machine/limits.h"
#include "kv/machine/lmdb_txn.h"
#include "kv/machine/sessions.h"
#include "kv/machine/snapshot_reader.h"
#include "kv/machine/snapshot_writer.h"
#include "raft/base/status.h"
#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::kv {

struct StateMachineOptions {
  // The state lives in <data_dir>/kv/ (its own LMDB environment, apart from the Raft log).
  std::string data_dir;
  // LMDB's map: the most the state may ever take on disk. A sparse file, so a generous bound
  // costs nothing until used; reaching it makes apply fail with RESOURCE_EXHAUSTED.
  uint64_t map_bytes = uint64_t{16} << 30;
  Limits limits;
  SessionOptions sessions;
  HistoryOptions history;
  // Test-only, for the chaos harness to show it catches double applies: a duplicate write is
  // applied again instead of answered from the session's cache. Never set in production.
  bool unsafe_skip_dedup = false;
  // Test-only, for the chaos harness to show it catches reused revisions: every write takes
  // the index of the entry that carries it as its revision (Castor before format version 2),
  // so writes batched into one entry share it. No history is kept for watches meanwhile (it
  // needs distinct revisions). Never set in production.
  bool unsafe_revision_per_entry = false;
};

// The answer to one applied command, and who waits for it: a write is known by
// (client_id, seq), a registration by its nonce (response.register_client).
struct AppliedCommand {
  raft::LogIndex index;
  uint64_t client_id = 0;
  uint64_t seq = 0;
  pb::ClientResponse response;  // the server fills request_id and header term/leader/node
};

// What one apply_uncommitted() call applied: the answers to its commands, and the events of
// the writes among them that changed the key space, in revision order (kv/machine/history.h).
struct AppliedBatch {
  std::vector<AppliedCommand> answers;
  std::vector<pb::Event> events;
  uint64_t revision = 0;  // the store revision after the batch
};

// What a snapshot covers: the state after applying the entry at `index` (of `term`).
struct SnapshotInfo {
  raft::LogIndex index;
  raft::Term term;
  uint64_t bytes = 0;
};

// The replicated state machine. apply() takes committed entries in log order and applies a
// whole batch in one LMDB write transaction that also stores the applied index (and term) and
// the session table, so a crash never leaves a batch half applied, and entries at or below the
// stored applied index are skipped, so replay after a restart is idempotent.
//
// Revisions: the store revision counts the writes that changed the key space, as etcd's main
// revision does. Each such write (a put; a delete that found a key; a Txn whose branch changed
// anything, all its ops sharing one revision) takes the store revision + 1, in log order, and
// stamps it as the mod_revision (and create_revision) of the keys it wrote. It is stored in the
// same transaction as the data and carried in snapshots, so every replica computes the same
// revisions; it only grows. A write's response header carries its revision; a write that
// changed nothing (a failed compare with an empty failure branch, a delete of an absent key)
// and a read carry the store revision they saw. ENTRY_NOOP and ENTRY_CONF entries only advance
// the applied index.
//
// History: the events of each revision are kept, in the same transaction, for watches to read
// (read_history(); kv/machine/history.h says what is kept and for how long).
//
// It does NOT talk to Raft or the network, answer clients, or decide what is linearizable
// (the server waits for applied_index() >= the read index before calling get/range).
//
// Threading: apply(), apply_uncommitted(), commit(), restore() and sync() from one thread at a
// time (the apply thread); restore() and sync() only with nothing left uncommitted.
// get(), range(), snapshot() and applied_index() from any thread, concurrently with them and
// with each other: each uses its own LMDB read transaction and sees the state after some
// complete apply() call.
class StateMachine {
 public:
  // Opens or creates the state in <data_dir>/kv/.
  static Result<std::unique_ptr<StateMachine>> open(const StateMachineOptions& options);
  ~StateMachine();
  StateMachine(const StateMachine&) = delete;
  StateMachine& operator=(const StateMachine&) = delete;

  // The index of the last applied and committed entry (0 before the first).
  raft::LogIndex applied_index() const {
    return raft::LogIndex(applied_index_.load(std::memory_order_acquire));
  }
  // The store revision of the last committed state (0 before the first write).
  uint64_t revision() const { return revision_.load(std::memory_order_acquire); }

  // Applies `entries` (consecutive, ascending) in one transaction and returns one answer per
  // command in log order. Entries at or below the applied index are skipped. On error nothing of
  // the batch is applied; every error here means the node must stop: an index gap (INTERNAL,
  // a bug in the caller), an entry that does not parse (CORRUPTION), or LMDB failing
  // (RESOURCE_EXHAUSTED when the map is full).
  Result<std::vector<AppliedCommand>> apply(std::span<const raft::pb::Entry> entries);
  // The same in two steps, for a host that answers writers before the state machine's commit
  // and commits many batches at once (group commit, kv/machine/apply_queue.h). apply_uncommitted()
  // applies into a write transaction it keeps open across calls and hands the answers and the
  // events to `applied` at once; commit() commits (and fsyncs) everything applied since the last commit,
  // and only then do readers and applied_index() see it. The host may answer writers before
  // commit() because their entries are committed in the Raft log, which is durable: if the
  // commit fails the node must stop, and replaying the log computes the same answers.
  using AppliedSink = std::function<void(AppliedBatch)>;
  Status apply_uncommitted(std::span<const raft::pb::Entry> entries, const AppliedSink& applied);
  Status commit();

  // Reads at the latest applied state. The response has code OK, header.revision and the
  // result; a request breaking the limits is an INVALID_ARGUMENT or TOO_LARGE Status.
  Result<pb::ClientResponse> get(const pb::GetRequest& request) const;
  Result<pb::ClientResponse> range(const pb::RangeRequest& request) const;

  // Streams a consistent snapshot of the whole state (keys, sessions, applied index) through
  // `sink` in chunks of `chunk_bytes`. The LMDB read transaction stays open while it runs.
  Result<SnapshotInfo> snapshot(uint64_t chunk_bytes, const SnapshotWriter::Sink& sink) const;
  // Replaces the whole state with the snapshot read from `source`, in one transaction: a
  // truncated or damaged stream is CORRUPTION and leaves the current state as it was. The
  // snapshot may be older or newer than the current state; it wins either way.
  Result<SnapshotInfo> restore(const SnapshotReader::Source& source);

  // The events after revision `after` at the latest committed state, whole revisions, about
  // `page_bytes_max` of them at most; a `compacted` page below the history's floor
  // (History::read).
  Result<HistoryPage> read_history(uint64_t after, uint64_t page_bytes_max) const;

  // Open client sessions at the latest applied state (for metrics and status).
  Result<uint64_t> session_count() const;

  // Forces the last applied transactions to disk (see the sync flags in state_machine.cc).
  // The server calls it before compacting the Raft log up to applied_index().
  Status sync();

 private:
  struct Tables {
    MDB_dbi meta;
    MDB_dbi keys;
    MDB_dbi sessions;
    MDB_dbi session_lru;
    MDB_dbi responses;
    MDB_dbi history;
    MDB_dbi history_marks;
  };

  // Opens, creating them if missing, every table of the environment.
  static Result<Tables> open_tables(LmdbTxn& txn);
  StateMachine(const StateMachineOptions& options, MDB_env* env, const Tables& tables, raft::LogIndex applied,
               uint64_t revision);

  // Begins the write transaction apply_uncommitted() keeps open, unless one is open already.
  Status ensure_open_txn();
  Status apply_to_open_txn(std::span<const raft::pb::Entry> entries, const AppliedSink& applied);
  // Applies one command; the events of the write, if it changed anything, join `events`.
  Result<AppliedCommand> apply_command(LmdbTxn& txn, raft::LogIndex index, const pb::Command& command,
                                       std::vector<pb::Event>& events);
  // Executes a write its session admitted (or one without a session): its revision, its
  // events, its answer in `response`, recorded in the session.
  Status execute_admitted(LmdbTxn& txn, raft::LogIndex index, const pb::WriteRequest& write,
                          pb::ClientResponse& response, std::vector<pb::Event>& events);
  Result<pb::WriteResponse> execute(LmdbTxn& txn, const pb::WriteRequest& write, uint64_t revision,
                                    KeySpace::Changes& changes);
  Result<LmdbTxn> begin_read() const;
  // The table a snapshot record's table id names; CORRUPTION for an unknown one.
  Result<MDB_dbi> snapshot_table(uint8_t table) const;

  StateMachineOptions options_;
  MDB_env* env_;
  Tables tables_;
  KeySpace keys_;
  Sessions sessions_;
  History history_;
  std::atomic<uint64_t> applied_index_;
  std::atomic<uint64_t> revision_;
  // The write transaction apply_uncommitted() keeps open until commit(), and the applied index
  // and store revision inside it (apply thread only).
  std::optional<LmdbTxn> open_txn_;
  uint64_t open_applied_ = 0;
  uint64_t open_revision_ = 0;
};

}  // namespace castor::kv

// Sessions: exactly-once writes (Raft thesis 6.3), kept in the state machine's LMDB environment.
#pragma once

#include <lmdb.h>

#include <cstdint>

#include "kv/kv.pb.h"
#include "kv/machine/lmdb_txn.h"
#include "raft/base/status.h"

namespace castor::kv {

struct SessionOptions {
  // A session idle for longer than this, measured by the leader timestamps carried in
  // commands, is removed. The leader stamps its own value on every command it proposes and
  // every replica applies that one (kv.proto, Command). An hour (LogCabin's default) outlasts any partition
  // or retry loop a client survives, so expiry only collects clients that are gone; sessions_max bounds what
  // they hold meanwhile.
  uint64_t session_timeout_ms = 60 * 60 * 1000;
  // When a registration finds the table full, the least recently used session is removed.
  uint64_t sessions_max = 8192;
  // Answers a session may hold at once: a client's outstanding writes beyond this get
  // RESOURCE_EXHAUSTED until it raises lowest_outstanding_seq.
  uint64_t session_responses_max = 256;
};

// The session table: per client, the last activity time, the lowest seq it still waits for,
// and the cached answer of each applied seq at or above it. A duplicate of an applied write
// gets the cached answer instead of being applied again.
//
// All state lives in the LMDB transaction it is handed (the state machine's apply
// transaction), so sessions change atomically with the keys and the applied index, and an
// aborted apply rolls them back too. Time is the deterministic clock: the maximum command
// timestamp seen so far, never this machine's clock, so every replica expires the same
// sessions at the same log index, and a new leader's clock running behind cannot move it back.
//
// Tables (big-endian integers so that LMDB order is numeric order):
//   sessions:     client_id -> last_active_ms | lowest_outstanding_seq | responses held
//   session_lru:  last_active_ms | client_id -> "" (expiry and eviction walk it oldest first)
//   responses:    client_id | seq -> serialized ClientResponse
//   meta:         "session_clock_ms", "next_client_id"
//
// Does NOT validate or execute requests. No state of its own besides database handles; the
// caller's write transaction defines the thread (the apply thread).
class Sessions {
 public:
  struct Tables {
    MDB_dbi meta;
    MDB_dbi sessions;
    MDB_dbi lru;
    MDB_dbi responses;
  };

  // What the state machine must do with a write.
  struct Admission {
    enum class Kind {
      kApply,      // new seq: execute it, then record() its answer
      kDuplicate,  // already applied: answer `response` (the original answer)
      kRejected,   // not applied and not recorded: answer `response` (its code says why)
    };
    Kind kind = Kind::kApply;
    pb::ClientResponse response;
  };

  Sessions(const SessionOptions& options, const Tables& tables) : options_(options), tables_(tables) {}

  // Moves the clock to max(clock, timestamp_ms), removes the sessions idle for longer than
  // `timeout_ms` (the command's, as the log carries it: never this node's flag; 0 means the
  // default of SessionOptions), and returns the clock. Called first for every command.
  Result<uint64_t> advance_clock(LmdbTxn& txn, uint64_t timestamp_ms, uint64_t timeout_ms) const;
  // Opens a session active at `now_ms` and returns its id (ids count up from 1, never reused).
  Result<uint64_t> register_client(LmdbTxn& txn, uint64_t now_ms) const;
  // Marks the session active and forgets answers below `lowest_outstanding_seq`, then decides.
  Result<Admission> admit(LmdbTxn& txn, const pb::WriteRequest& request, uint64_t now_ms) const;
  // Keeps the answer to an admitted (kApply) write.
  Status record(LmdbTxn& txn, uint64_t client_id, uint64_t seq, const pb::ClientResponse& response) const;

 private:
  struct Session {
    uint64_t last_active_ms = 0;
    uint64_t lowest_outstanding_seq = 0;
    uint64_t responses = 0;
  };

  Result<std::optional<Session>> load(LmdbTxn& txn, uint64_t client_id) const;
  Status store(LmdbTxn& txn, uint64_t client_id, const Session& session) const;
  Status remove(LmdbTxn& txn, uint64_t client_id, const Session& session) const;
  // Removes the session that has been idle longest.
  Status evict_oldest(LmdbTxn& txn) const;

  SessionOptions options_;
  Tables tables_;
};

}  // namespace castor::kv

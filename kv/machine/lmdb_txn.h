// LmdbTxn and LmdbCursor: RAII over LMDB transactions and cursors, with errors as Status.
//
// What it does NOT do: open or size the environment and its databases (StateMachine::open does),
// or retry: a full map comes back as RESOURCE_EXHAUSTED, for the caller to handle.
#pragma once

#include <lmdb.h>

#include <optional>
#include <string_view>

#include "raft/base/status.h"

namespace castor::kv {

// Maps an LMDB return code to a Status: a full map is RESOURCE_EXHAUSTED, a damaged file is
// CORRUPTION, anything else INTERNAL. `what` names the failed call for the message.
Status lmdb_status(int rc, const char* what);

// One LMDB transaction. Destroying it without commit() aborts it, so an early return on any
// error leaves the database as it was: this is what makes a failed apply or restore harmless.
//
// Views returned by get() and by cursors point into LMDB's map: they stay valid until the
// transaction ends or, in a write transaction, until the next write. Copy before writing.
//
// Threading: a write transaction stays on the thread that began it. Read transactions may move
// (the environment is opened with MDB_NOTLS) but are used by one thread at a time.
class LmdbTxn {
 public:
  static Result<LmdbTxn> begin(MDB_env* env, bool read_only);

  LmdbTxn(LmdbTxn&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }
  LmdbTxn& operator=(LmdbTxn&& other) noexcept;
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;
  ~LmdbTxn();

  MDB_txn* raw() const { return txn_; }
  Status commit();

  // The value stored under `key`, or nullopt when absent.
  Result<std::optional<std::string_view>> get(MDB_dbi dbi, std::string_view key);
  Status put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Deletes `key`; false when it was absent.
  Result<bool> del(MDB_dbi dbi, std::string_view key);
  // The number of records in `dbi` as this transaction sees it.
  Result<uint64_t> count(MDB_dbi dbi);
  // Removes every record of `dbi` (the database itself stays).
  Status clear(MDB_dbi dbi);

 private:
  explicit LmdbTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_;
};

// The 8-byte big-endian number stored under `key` in `dbi`, or `absent` when there is none;
// CORRUPTION when the record is not 8 bytes.
Result<uint64_t> read_u64_record(LmdbTxn& txn, MDB_dbi dbi, std::string_view key, uint64_t absent);

// A cursor over one database within one LmdbTxn, which must outlive it. Positioning calls
// return false when there is no such record.
class LmdbCursor {
 public:
  static Result<LmdbCursor> open(LmdbTxn& txn, MDB_dbi dbi);

  LmdbCursor(LmdbCursor&& other) noexcept : cursor_(other.cursor_), key_(other.key_), value_(other.value_) {
    other.cursor_ = nullptr;
  }
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  LmdbCursor& operator=(LmdbCursor&&) = delete;
  ~LmdbCursor();

  Result<bool> first();
  // The first record whose key is >= `key`.
  Result<bool> seek(std::string_view key);
  Result<bool> next();

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  explicit LmdbCursor(MDB_cursor* cursor) : cursor_(cursor) {}
  Result<bool> position(MDB_val* key, MDB_cursor_op op);

  MDB_cursor* cursor_;
  std::string_view key_;
  std::string_view value_;
};

}  // namespace castor::kv

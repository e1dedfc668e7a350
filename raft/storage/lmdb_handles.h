// Handles for LMDB calls in raft/storage: a transaction aborted when dropped unless released
// for commit, a cursor closed when dropped, and MDB_val to and from string_view.
//
// What it does NOT do: turn LMDB's int codes into a Status (the caller names the operation,
// see log_errors.h) or hold anything beyond the one handle.
// Threading: as LMDB's: a handle belongs to the thread (or transaction) that opened it.
#pragma once

#include <lmdb.h>

#include <string_view>
#include <utility>

namespace castor::raft::lmdb {

inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

inline int put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0) {
  MDB_val k = val(key);
  MDB_val v = val(value);
  return mdb_put(txn, dbi, &k, &v, flags);
}

// A read or write transaction, aborted when dropped unless released for commit.
class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  void adopt(MDB_txn* txn) { txn_ = txn; }
  MDB_txn* get() const { return txn_; }
  MDB_txn* release() { return std::exchange(txn_, nullptr); }

 private:
  MDB_txn* txn_ = nullptr;
};

// A cursor, closed when dropped: read-only transactions require cursors to be closed by hand.
class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  int open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cursor_); }
  int get(MDB_val* key, MDB_val* value, MDB_cursor_op op) { return mdb_cursor_get(cursor_, key, value, op); }
  int del() { return mdb_cursor_del(cursor_, 0); }

 private:
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace castor::raft::lmdb

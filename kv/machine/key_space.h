// KeySpace: the user's keys and their metadata in one LMDB database, and the operations on them.
#pragma once

#include <lmdb.h>

#include <optional>
#include <string_view>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/limits.h"
#include "kv/machine/lmdb_txn.h"
#include "raft/base/status.h"

namespace castor::kv {

// Executes Get, Range, Put, Delete, DeleteRange and Txn within a transaction it is handed.
// Each key maps to {create_revision, mod_revision, version, value}; a write stamps the revision
// it is given (the store revision it takes if it changes anything) and adds one Event per key it
// changes to `changes`, in the order it changed them: a PUT with the key's new state, a DELETE
// with the key and the revision of the delete; both with the key's state before (prev_kv) when
// it existed. A write that changes nothing adds nothing.
//
// It does NOT validate requests (the caller ran validate() from limits.h), choose revisions,
// open or commit transactions, or know about sessions. A non-OK Status from it is an LMDB
// failure, never a verdict on the request. Holds no state besides the database handle and the
// limits; safe to share between threads, each with its own transaction.
class KeySpace {
 public:
  KeySpace(MDB_dbi dbi, const Limits& limits) : dbi_(dbi), limits_(limits) {}

  // The key's current state, or nullopt when it is absent.
  Result<std::optional<pb::KeyValue>> get(LmdbTxn& txn, std::string_view key) const;
  Result<pb::RangeResponse> range(LmdbTxn& txn, const pb::RangeRequest& request) const;
  using Changes = std::vector<pb::Event>;
  Result<pb::PutResponse> put(LmdbTxn& txn, const pb::PutRequest& request, uint64_t revision,
                              Changes& changes) const;
  Result<pb::DeleteResponse> delete_key(LmdbTxn& txn, const pb::DeleteRequest& request, uint64_t revision,
                                        Changes& changes) const;
  Result<pb::DeleteRangeResponse> delete_range(LmdbTxn& txn, const pb::DeleteRangeRequest& request,
                                               uint64_t revision, Changes& changes) const;
  Result<pb::TxnResponse> txn(LmdbTxn& txn, const pb::TxnRequest& request, uint64_t revision,
                              Changes& changes) const;

  // Whether `stored` (a value of this database) is well formed; restore uses it to refuse
  // snapshots whose records would break later reads.
  static bool well_formed(std::string_view stored);

 private:
  Result<bool> holds(LmdbTxn& txn, const pb::Compare& compare) const;
  Result<pb::ResponseOp> run(LmdbTxn& txn, const pb::RequestOp& op, uint64_t revision,
                             Changes& changes) const;

  MDB_dbi dbi_;
  Limits limits_;
};

}  // namespace castor::kv

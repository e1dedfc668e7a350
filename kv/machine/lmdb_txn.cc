#include "kv/machine/lmdb_txn.h"

#include <string>

#include "kv/machine/encoding.h"
#include "raft/storage/disk_error.h"

namespace castor::kv {
namespace {

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view to_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

Status lmdb_status(int rc, const char* what) {
  if (rc == MDB_SUCCESS) return Status::ok();
  std::string message = std::string(what) + ": " + mdb_strerror(rc) + raft::disk_error_advice(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status(Code::kResourceExhausted, message);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status(Code::kCorruption, message);
    default:
      return Status(Code::kInternal, message);
  }
}

Result<LmdbTxn> LmdbTxn::begin(MDB_env* env, bool read_only) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_txn_begin");
  return LmdbTxn(txn);
}

LmdbTxn& LmdbTxn::operator=(LmdbTxn&& other) noexcept {
  if (this != &other) {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = other.txn_;
    other.txn_ = nullptr;
  }
  return *this;
}

LmdbTxn::~LmdbTxn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Status LmdbTxn::commit() {
  // mdb_txn_commit frees the transaction even when it fails.
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  return lmdb_status(rc, "mdb_txn_commit");
}

Result<std::optional<std::string_view>> LmdbTxn::get(MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  MDB_val v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_get");
  return std::optional<std::string_view>(to_view(v));
}

Status LmdbTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return lmdb_status(mdb_put(txn_, dbi, &k, &v, 0), "mdb_put");
}

Result<bool> LmdbTxn::del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_del");
  return true;
}

Result<uint64_t> LmdbTxn::count(MDB_dbi dbi) {
  MDB_stat stat;
  int rc = mdb_stat(txn_, dbi, &stat);
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_stat");
  return static_cast<uint64_t>(stat.ms_entries);
}

Status LmdbTxn::clear(MDB_dbi dbi) { return lmdb_status(mdb_drop(txn_, dbi, 0), "mdb_drop"); }

Result<LmdbCursor> LmdbCursor::open(LmdbTxn& txn, MDB_dbi dbi) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.raw(), dbi, &cursor);
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_cursor_open");
  return LmdbCursor(cursor);
}

LmdbCursor::~LmdbCursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<bool> LmdbCursor::position(MDB_val* key, MDB_cursor_op op) {
  MDB_val v;
  int rc = mdb_cursor_get(cursor_, key, &v, op);
  if (rc == MDB_NOTFOUND) {
    key_ = {};
    value_ = {};
    return false;
  }
  if (rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_cursor_get");
  key_ = to_view(*key);
  value_ = to_view(v);
  return true;
}

Result<bool> LmdbCursor::first() {
  MDB_val k{0, nullptr};
  return position(&k, MDB_FIRST);
}

Result<bool> LmdbCursor::seek(std::string_view key) {
  // LMDB rejects an empty key even for a range search; the first record is >= "".
  if (key.empty()) return first();
  MDB_val k = to_val(key);
  return position(&k, MDB_SET_RANGE);
}

Result<bool> LmdbCursor::next() {
  MDB_val k{0, nullptr};
  return position(&k, MDB_NEXT);
}

Result<uint64_t> read_u64_record(LmdbTxn& txn, MDB_dbi dbi, std::string_view key, uint64_t absent) {
  auto bytes = txn.get(dbi, key);
  if (!bytes.is_ok()) return bytes.status();
  if (!bytes->has_value()) return absent;
  if ((*bytes)->size() != 8) return Status(Code::kCorruption, std::string(key) + " is not 8 bytes");
  return read_u64_be(**bytes, 0);
}

}  // namespace castor::kv

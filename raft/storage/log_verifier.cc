#include "raft/storage/log_verifier.h"

#include <optional>
#include <string>
#include <string_view>

#include "raft/storage/lmdb_handles.h"
#include "raft/storage/log_format.h"

namespace castor::raft {
namespace fmt = log_format;
namespace {

// One meta record's body, checked against its checksum.
Result<std::string_view> meta_record(MDB_txn* txn, MDB_dbi meta, std::string_view key,
                                     const LogErrors& errors) {
  MDB_val k = lmdb::val(key), v;
  const int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND) return errors.corruption("the meta record \"" + std::string(key) + "\" is missing");
  if (rc != 0) return errors.lmdb("mdb_get", rc);
  std::optional<std::string_view> body = fmt::unseal(key, lmdb::view(v));
  if (!body) return errors.corruption("the meta record \"" + std::string(key) + "\" fails its checksum");
  return *body;
}

// The format version, the hard state and the snapshot record, into `out`.
Status verify_meta(MDB_txn* txn, MDB_dbi meta, const LogErrors& errors, LogContents& out) {
  Result<std::string_view> format = meta_record(txn, meta, fmt::kFormatKey, errors);
  if (!format.is_ok()) return format.status();
  if (format->size() != 4 || fmt::get_u32(*format) != fmt::kVersion) {
    const std::string found = format->size() == 4 ? std::to_string(fmt::get_u32(*format)) : "unreadable";
    return errors.corruption("format version " + found + ", this build reads only version " +
                             std::to_string(fmt::kVersion) + " (run the castord that wrote it, or " +
                             kRestoreAdvice + ")");
  }
  Result<std::string_view> hs = meta_record(txn, meta, fmt::kHardStateKey, errors);
  if (!hs.is_ok()) return hs.status();
  if (!out.hard_state.ParseFromArray(hs->data(), static_cast<int>(hs->size()))) {
    return errors.corruption("the hard state record does not parse");
  }
  Result<std::string_view> snap = meta_record(txn, meta, fmt::kSnapshotKey, errors);
  if (!snap.is_ok()) return snap.status();
  if (snap->size() < 4 ||
      !out.snapshot.ParseFromArray(snap->data() + 4, static_cast<int>(snap->size() - 4))) {
    return errors.corruption("the snapshot record does not parse");
  }
  out.snapshot_crc = fmt::get_u32(*snap);
  return Status::ok();
}

// Every entry: contiguous from the snapshot on, checksummed, terms never decreasing. Fills
// out.last and out.runs.
Status verify_entries(MDB_txn* txn, MDB_dbi entries, const LogErrors& errors, LogContents& out) {
  const LogIndex snap_index(out.snapshot.index());
  out.last = snap_index;
  Term prev_term(out.snapshot.term());
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, entries); rc != 0) return errors.lmdb("mdb_cursor_open", rc);
  MDB_val key, value;
  int rc = cursor.get(&key, &value, MDB_FIRST);
  for (; rc == 0; rc = cursor.get(&key, &value, MDB_NEXT)) {
    const LogIndex expected = out.last + 1;
    const std::string_view k = lmdb::view(key);
    if (k.size() != 8 || fmt::get_u64(k) != expected.value) {
      const std::string found =
          k.size() == 8 ? "entry " + std::to_string(fmt::get_u64(k)) : "a malformed key";
      return errors.corruption("expected entry " + std::to_string(expected.value) + " (after snapshot " +
                               std::to_string(snap_index.value) + "), found " + found);
    }
    std::optional<std::string_view> body = fmt::unseal(k, lmdb::view(value));
    if (!body || body->size() < 8)
      return errors.corruption("entry " + std::to_string(expected.value) + " fails its checksum");
    const Term term(fmt::get_u64(*body));
    if (term < prev_term) {
      return errors.corruption("entry " + std::to_string(expected.value) + " has term " +
                               std::to_string(term.value) + ", lower than the term before it (" +
                               std::to_string(prev_term.value) + ")");
    }
    if (out.runs.empty() || term != prev_term) out.runs.push_back({expected, term});
    prev_term = term;
    out.last = expected;
  }
  if (rc != MDB_NOTFOUND) return errors.lmdb("mdb_cursor_get", rc);
  return Status::ok();
}

}  // namespace

Result<LogContents> verify_log(MDB_txn* txn, MDB_dbi entries, MDB_dbi meta, const LogErrors& errors) {
  LogContents out;
  if (Status s = verify_meta(txn, meta, errors, out); !s.is_ok()) return s;
  if (Status s = verify_entries(txn, entries, errors, out); !s.is_ok()) return s;
  return out;
}

}  // namespace castor::raft

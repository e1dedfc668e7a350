#include "raft/storage/lmdb_log.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>
#include <utility>

#include "raft/base/assert.h"
#include "raft/base/crc32c.h"
#include "raft/storage/lmdb_handles.h"
#include "raft/storage/log_env.h"
#include "raft/storage/log_format.h"
#include "raft/storage/log_verifier.h"

// How readers and the writer share the log (the threading rule in lmdb_log.h).
//
// A reader takes mu_ briefly: it checks its range against view_ and opens an LMDB read
// transaction, then reads outside the lock; LMDB's MVCC keeps that transaction on the state it
// began with. The writer stages its transaction without mu_, commits, then takes mu_ to publish
// the new view_. For a plain append that order is safe: a reader that begins between commit and
// publish finds more entries in LMDB than view_ admits, and never asks for them. A write that
// removes entries is not:
//   1. view_ says the log is [1, 10]; a reader checks [8, 11) against it;
//   2. the writer commits a transaction that replaces the suffix from 6 with one entry (6);
//   3. the reader begins its LMDB transaction, finds no entry 8, and stops the node for a
//      corruption that is not there.
// So a write that removes entries (a suffix replacement, a compaction, a snapshot install)
// commits while holding mu_: readers wait for that one fsync, which is rare. A reader holding
// mu_ while it begins its transaction is what ties the transaction to the view.
//
// mdb_env_set_mapsize requires that no transaction is open in the process, so growing the map
// stops new read transactions (growing_) and waits for open ones to end (open_reads_).

namespace castor::raft {
namespace fmt = log_format;
namespace {

// A read found the log damaged or LMDB failing. LogReader cannot report it, and a node must not
// go on from a log it cannot read (docs/STYLE.md, "Fail-stop").
[[noreturn]] void stop_node(const std::string& why) {
  std::fprintf(stderr, "castor: stopping this node, its Raft log cannot be read: %s\n", why.c_str());
  std::abort();
}

// Removes the entries with index >= from (a conflicting suffix, or all of them when from is the
// first index), or with index <= to for a prefix. Re-seeking the end each time keeps clear of
// LMDB's cursor-after-delete subtleties; each seek is O(log n) and this runs rarely.
int delete_suffix(MDB_txn* txn, MDB_dbi dbi, LogIndex from) {
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, dbi); rc != 0) return rc;
  MDB_val key, value;
  int rc;
  while ((rc = cursor.get(&key, &value, MDB_LAST)) == 0 && fmt::get_u64(lmdb::view(key)) >= from.value) {
    if ((rc = cursor.del()) != 0) return rc;
  }
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int delete_prefix(MDB_txn* txn, MDB_dbi dbi, LogIndex to) {
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, dbi); rc != 0) return rc;
  MDB_val key, value;
  int rc;
  while ((rc = cursor.get(&key, &value, MDB_FIRST)) == 0 && fmt::get_u64(lmdb::view(key)) <= to.value) {
    if ((rc = cursor.del()) != 0) return rc;
  }
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

// The pages of the entries and meta databases, in bytes, as `txn` sees them.
int live_bytes(MDB_txn* txn, MDB_dbi entries, MDB_dbi meta, uint64_t* out) {
  *out = 0;
  for (MDB_dbi dbi : {entries, meta}) {
    MDB_stat st;
    if (int rc = mdb_stat(txn, dbi, &st); rc != 0) return rc;
    *out += (uint64_t{st.ms_branch_pages} + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
  }
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Open

Result<std::unique_ptr<LmdbLog>> LmdbLog::open(Options options) {
  if (options.data_dir.empty()) return Status(Code::kInvalidArgument, "LmdbLog: data_dir is empty");
  if (options.map_bytes == 0) return Status(Code::kInvalidArgument, "LmdbLog: map_bytes must be positive");
  options.map_bytes = std::min(options.map_bytes, options.map_bytes_max);
  const std::filesystem::path log_dir = options.data_dir / "log";
  std::error_code ec;
  const bool exists = std::filesystem::exists(log_dir / "data.mdb", ec);
  if (ec) return Status(Code::kInternal, "stat " + (log_dir / "data.mdb").string() + ": " + ec.message());
  if (!exists && !options.create_if_missing) {
    return Status(Code::kCorruption,
                  "no Raft log in " + log_dir.string() +
                      " (data.mdb is missing): this node has lost its votes and acknowledged entries; " +
                      kRestoreAdvice + " (a brand-new node is created with create_if_missing)");
  }
  if (!exists) {
    if (Status s = create_staged(options); !s.is_ok()) return s;
  }
  return open_dir(std::move(options), log_dir);
}

// A brand-new log is built in log.new/ and renamed to log/ once complete and durable, so a
// process killed during a node's very first start leaves no log/ (the next start begins again,
// dropping the unfinished log.new/) or a whole one, never one that refuses to open. Nothing in
// log.new/ was ever acknowledged or voted with: nothing reads it before the rename.
Status LmdbLog::create_staged(const Options& options) {
  const std::filesystem::path staging = options.data_dir / "log.new";
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  if (ec) return Status(Code::kInternal, "remove the unfinished " + staging.string() + ": " + ec.message());
  {
    auto created = open_dir(options, staging);
    if (!created.is_ok()) return created.status();
  }  // closed (and unlocked) before it moves
  // The lock file goes too: log/castor.lock is created afresh by the open that follows.
  std::filesystem::rename(staging, options.data_dir / "log", ec);
  if (ec) return Status(Code::kInternal, "rename " + staging.string() + " to log: " + ec.message());
  return fsync_dir(options.data_dir);
}

Result<std::unique_ptr<LmdbLog>> LmdbLog::open_dir(Options options, const std::filesystem::path& log_dir) {
  const std::filesystem::path snapshot_dir = options.data_dir / "snapshot";
  for (const auto& dir : {log_dir, snapshot_dir}) {
    if (Status s = create_dirs_durably(dir); !s.is_ok()) return s;
  }

  Result<LogEnv> env = open_log_env(log_dir, options.map_bytes, options.unsafe_skip_fsync);
  if (!env.is_ok()) return env.status();
  std::unique_ptr<LmdbLog> log(new LmdbLog(std::move(options), log_dir, env->env, std::move(env->lock_fd)));
  Result<bool> fresh = log->open_tables();
  if (!fresh.is_ok()) return fresh.status();
  if (*fresh) {
    if (Status s = log->init_fresh(); !s.is_ok()) return s;
  }
  if (Status s = log->load_and_verify(); !s.is_ok()) return s;
  return log;
}

Result<bool> LmdbLog::open_tables() {
  lmdb::Txn txn;
  int rc = txn.begin(env_, 0);
  if (rc != 0) return errors_.lmdb("mdb_txn_begin", rc);
  const unsigned create = options_.create_if_missing ? MDB_CREATE : 0;
  rc = mdb_dbi_open(txn.get(), fmt::kEntriesDb, create, &entries_dbi_);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), fmt::kMetaDb, create, &meta_dbi_);
  if (rc == MDB_NOTFOUND) return errors_.corruption("the LMDB environment has no entries or meta database");
  if (rc != 0) return errors_.lmdb("mdb_dbi_open", rc);
  MDB_val key = lmdb::val(fmt::kFormatKey), value;
  rc = mdb_get(txn.get(), meta_dbi_, &key, &value);
  if (rc != 0 && rc != MDB_NOTFOUND) return errors_.lmdb("mdb_get", rc);
  const bool fresh = rc == MDB_NOTFOUND;
  MDB_stat entries_stat, meta_stat;
  if ((rc = mdb_stat(txn.get(), entries_dbi_, &entries_stat)) != 0 ||
      (rc = mdb_stat(txn.get(), meta_dbi_, &meta_stat)) != 0) {
    return errors_.lmdb("mdb_stat", rc);
  }
  if ((rc = mdb_txn_commit(txn.release())) != 0) return errors_.lmdb("mdb_txn_commit", rc);
  if (!fresh) return false;
  // An environment without a format record is one whose creation did not finish (the first
  // transaction writes every meta record at once) — unless it holds anything else.
  if (entries_stat.ms_entries != 0 || meta_stat.ms_entries != 0) {
    return errors_.corruption("the log has records but no format version");
  }
  if (!options_.create_if_missing) return errors_.corruption("the log was never initialized");
  return true;
}

LmdbLog::LmdbLog(Options options, std::filesystem::path log_dir, MDB_env* env, UniqueFd lock_fd)
    : options_(std::move(options)),
      errors_{options_.data_dir},
      log_dir_(std::move(log_dir)),
      snapshot_files_(options_.data_dir / "snapshot"),
      env_(env),
      lock_fd_(std::move(lock_fd)),
      map_bytes_(options_.map_bytes) {
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) == 0) map_bytes_ = info.me_mapsize;
}

LmdbLog::~LmdbLog() { mdb_env_close(env_); }

Status LmdbLog::init_fresh() {
  std::string version;
  fmt::put_u32(version, fmt::kVersion);
  pb::SnapshotMeta meta;
  *meta.mutable_conf() = options_.bootstrap_conf;
  std::string snapshot_body;
  fmt::put_u32(snapshot_body, crc32c_extend(0, ""));
  meta.AppendToString(&snapshot_body);
  Status s = write_txn(
      false, options_.map_bytes_max,
      [&](MDB_txn* txn) {
        int rc = put_record(txn, fmt::kFormatKey, version);
        if (rc == 0) rc = put_record(txn, fmt::kHardStateKey, pb::HardState().SerializeAsString());
        if (rc == 0) rc = put_record(txn, fmt::kSnapshotKey, snapshot_body);
        return rc;
      },
      [] {});
  if (!s.is_ok()) return s;
  // The planted bug skips the fsync of what the log records later, not of its creation: a log
  // never made durable would only refuse to open after a power cut, which hides the lost writes
  // the bug is planted to show.
  if (options_.unsafe_skip_fsync) {
    if (int rc = mdb_env_sync(env_, 1); rc != 0) return errors_.lmdb("mdb_env_sync", rc);
  }
  // LMDB fsyncs its files but not the directories naming them; a power loss right after
  // creation must not leave a node that acknowledged nothing yet with no log at all.
  for (const auto& dir : {log_dir_, options_.data_dir}) {
    if (s = fsync_dir(dir); !s.is_ok()) return s;
  }
  return Status::ok();
}

Status LmdbLog::load_and_verify() {
  lmdb::Txn txn;
  if (int rc = txn.begin(env_, MDB_RDONLY); rc != 0) return errors_.lmdb("mdb_txn_begin", rc);
  uint64_t used = 0;
  if (int rc = live_bytes(txn.get(), entries_dbi_, meta_dbi_, &used); rc != 0)
    return errors_.lmdb("mdb_stat", rc);
  used_bytes_.store(used, std::memory_order_relaxed);

  Result<LogContents> contents = verify_log(txn.get(), entries_dbi_, meta_dbi_, errors_);
  if (!contents.is_ok()) return contents.status();
  View view;
  static_cast<LogContents&>(view) = std::move(contents).value();
  if (view.hard_state.commit() > view.last.value) {
    return errors_.corruption("the hard state's commit index " + std::to_string(view.hard_state.commit()) +
                              " is past the last log index " + std::to_string(view.last.value) +
                              ": committed entries were lost (was the disk's write cache on?)");
  }
  if (Status s = open_snapshot_file(view); !s.is_ok()) return s;

  std::lock_guard lock(mu_);
  view_ = std::move(view);
  return Status::ok();
}

// Opens and checks the snapshot file the record names (if it has data), and removes every other
// snapshot file: older ones, and half-written temporaries left by a crash between writing a
// snapshot file and committing the record that points at it.
Status LmdbLog::open_snapshot_file(View& view) {
  std::string keep;
  if (view.snapshot.data_bytes() > 0) {
    Result<UniqueFd> fd =
        snapshot_files_.open_verified(view.snapshot.index(), view.snapshot.data_bytes(), view.snapshot_crc);
    if (!fd.is_ok()) {
      if (fd.status().code() == Code::kCorruption) return errors_.corruption(fd.status().message());
      return fd.status();
    }
    view.snapshot_fd = std::make_shared<const UniqueFd>(std::move(fd).value());
    keep = SnapshotFiles::file_name(view.snapshot.index(), view.snapshot_crc);
  }
  return snapshot_files_.remove_all_except(keep);
}

// ---------------------------------------------------------------------------------------------
// Reads

pb::HardState LmdbLog::hard_state() const {
  std::lock_guard lock(mu_);
  return view_.hard_state;
}

pb::ConfState LmdbLog::conf_state() const {
  std::lock_guard lock(mu_);
  return view_.snapshot.conf();
}

LogIndex LmdbLog::first_index() const {
  std::lock_guard lock(mu_);
  return LogIndex(view_.snapshot.index() + 1);
}

LogIndex LmdbLog::last_index() const {
  std::lock_guard lock(mu_);
  return view_.last;
}

pb::SnapshotMeta LmdbLog::snapshot_meta() const {
  std::lock_guard lock(mu_);
  return view_.snapshot;
}

uint64_t LmdbLog::map_bytes() const {
  std::lock_guard lock(mu_);
  return map_bytes_;
}

std::optional<Term> LmdbLog::term(LogIndex i) const {
  std::lock_guard lock(mu_);
  if (i.value < view_.snapshot.index() || i > view_.last) return std::nullopt;
  return view_term(i);
}

Term LmdbLog::view_term(LogIndex i) const {
  if (i.value == view_.snapshot.index()) return Term(view_.snapshot.term());
  auto after = std::upper_bound(view_.runs.begin(), view_.runs.end(), i,
                                [](LogIndex x, const TermRun& run) { return x < run.first; });
  CASTOR_ASSERT(after != view_.runs.begin(), "term index does not cover the log");
  return std::prev(after)->term;
}

int LmdbLog::begin_read(LogIndex lo, LogIndex hi, MDB_txn** txn) const {
  std::unique_lock lock(mu_);
  CASTOR_ASSERT(lo.value > view_.snapshot.index(), "entries range starts inside the snapshot");
  CASTOR_ASSERT(hi <= view_.last + 1, "entries range ends past the log");
  *txn = nullptr;
  if (lo >= hi) return 0;
  reads_done_.wait(lock, [this] { return !growing_; });
  const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, txn);
  if (rc == 0) ++open_reads_;
  return rc;
}

void LmdbLog::end_read() const {
  std::lock_guard lock(mu_);
  if (--open_reads_ == 0) reads_done_.notify_all();
}

std::vector<pb::Entry> LmdbLog::entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const {
  // Destroyed after txn: the transaction is gone before the read counts as ended.
  struct EndRead {
    const LmdbLog* log = nullptr;
    ~EndRead() {
      if (log != nullptr) log->end_read();
    }
  } end_read;
  lmdb::Txn txn;
  MDB_txn* raw = nullptr;
  if (int rc = begin_read(lo, hi, &raw); rc != 0) stop_node(errors_.lmdb("mdb_txn_begin", rc).to_string());
  std::vector<pb::Entry> out;
  if (raw == nullptr) return out;
  end_read.log = this;
  txn.adopt(raw);

  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), entries_dbi_); rc != 0)
    stop_node(errors_.lmdb("mdb_cursor_open", rc).to_string());
  const std::string lo_key = fmt::index_key(lo);
  MDB_val key = lmdb::val(lo_key), value;
  uint64_t bytes = 0;
  for (LogIndex i = lo; i < hi; ++i) {
    const int rc = cursor.get(&key, &value, i == lo ? MDB_SET_KEY : MDB_NEXT);
    if (rc == MDB_NOTFOUND)
      stop_node(errors_.corruption("entry " + std::to_string(i.value) + " is missing").to_string());
    if (rc != 0) stop_node(errors_.lmdb("mdb_cursor_get", rc).to_string());
    const std::string_view k = lmdb::view(key);
    std::optional<std::string_view> body = fmt::unseal(k, lmdb::view(value));
    if (k.size() != 8 || fmt::get_u64(k) != i.value || !body || body->size() < 8) {
      stop_node(errors_.corruption("entry " + std::to_string(i.value) + " fails its checksum").to_string());
    }
    pb::Entry e;
    if (!e.ParseFromArray(body->data() + 8, static_cast<int>(body->size() - 8)) || e.index() != i.value ||
        e.term() != fmt::get_u64(*body)) {
      stop_node(errors_
                    .corruption("entry " + std::to_string(i.value) +
                                " does not parse or names another index or term")
                    .to_string());
    }
    bytes += e.data().size();
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(std::move(e));
  }
  return out;
}

std::string LmdbLog::snapshot_chunk(uint64_t offset, uint64_t bytes_max) const {
  std::shared_ptr<const UniqueFd> fd;
  uint64_t size;
  {
    std::lock_guard lock(mu_);
    fd = view_.snapshot_fd;
    size = view_.snapshot.data_bytes();
  }
  if (offset >= size) return {};
  std::string out(std::min(bytes_max, size - offset), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd->get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stop_node("reading the snapshot file in " + snapshot_files_.dir().string() +
                " failed: " + (n < 0 ? std::strerror(errno) : "the file is shorter than its record says"));
    }
    done += static_cast<size_t>(n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writes

int LmdbLog::put_record(MDB_txn* txn, std::string_view key, std::string_view body) {
  return lmdb::put(txn, meta_dbi_, key, fmt::seal(key, body));
}

template <typename Fill, typename Publish>
Status LmdbLog::write_txn(bool removes, uint64_t map_limit, Fill&& fill, Publish&& publish) {
  for (;;) {
    int rc;
    uint64_t used = 0;
    {
      lmdb::Txn txn;
      if ((rc = txn.begin(env_, 0)) != 0) return errors_.lmdb("mdb_txn_begin", rc);
      rc = fill(txn.get());
      if (rc == 0) rc = live_bytes(txn.get(), entries_dbi_, meta_dbi_, &used);
      if (rc == 0 && removes) {
        std::lock_guard lock(mu_);
        rc = mdb_txn_commit(txn.release());
        if (rc == 0) publish();
      } else if (rc == 0) {
        rc = mdb_txn_commit(txn.release());
        if (rc == 0) {
          std::lock_guard lock(mu_);
          publish();
        }
      }
    }  // an uncommitted transaction is aborted here, before the map may grow
    if (rc == 0) {
      used_bytes_.store(used, std::memory_order_relaxed);
      return Status::ok();
    }
    if (rc != MDB_MAP_FULL) return errors_.lmdb("write transaction", rc);
    if (Status s = grow_map(map_limit); !s.is_ok()) return s;
  }
}

uint64_t LmdbLog::compaction_map_limit() const {
  return options_.map_bytes_max + std::max(options_.map_bytes_max / 16, uint64_t{1} << 20);
}

Status LmdbLog::grow_map(uint64_t map_limit) {
  std::unique_lock lock(mu_);
  if (map_bytes_ >= map_limit) {
    return Status(Code::kResourceExhausted,
                  "the Raft log's LMDB map in " + options_.data_dir.string() +
                      " is full at map_bytes_max = " + std::to_string(options_.map_bytes_max) +
                      " bytes: take a snapshot to compact the log, or raise the maximum");
  }
  growing_ = true;
  reads_done_.wait(lock, [this] { return open_reads_ == 0; });
  const uint64_t grown = std::min(map_bytes_ * 2, map_limit);
  const int rc = mdb_env_set_mapsize(env_, grown);
  if (rc == 0) map_bytes_ = grown;
  growing_ = false;
  reads_done_.notify_all();
  if (rc != 0) return errors_.lmdb("mdb_env_set_mapsize", rc);
  return Status::ok();
}

Status LmdbLog::append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries) {
  if (!hs && entries.empty()) return Status::ok();
  // The writer is the only thread that changes view_, so it reads it without the lock.
  const LogIndex first = entries.empty() ? view_.last + 1 : LogIndex(entries.front().index());
  const LogIndex new_last = entries.empty() ? view_.last : LogIndex(entries.back().index());
  CASTOR_ASSERT(first.value > view_.snapshot.index(), "append rewrites the snapshot");
  CASTOR_ASSERT(first <= view_.last + 1, "append leaves a gap");
  Term prev = view_term(first - 1);
  for (size_t k = 0; k < entries.size(); ++k) {
    CASTOR_ASSERT(entries[k].index() == first.value + k, "appended entries are not consecutive");
    CASTOR_ASSERT(Term(entries[k].term()) >= prev, "appended entries' terms decrease (paper 5.3)");
    prev = Term(entries[k].term());
  }
  const pb::HardState& next_hs = hs ? *hs : view_.hard_state;
  CASTOR_ASSERT(next_hs.commit() <= new_last.value, "hard state commits past the end of the log");

  // Encode before the transaction so the write lock is held for as short as possible.
  std::vector<std::pair<std::string, std::string>> records;
  records.reserve(entries.size());
  for (const pb::Entry& e : entries) {
    std::string key = fmt::index_key(LogIndex(e.index()));
    std::string body;
    fmt::put_u64(body, e.term());
    e.AppendToString(&body);
    std::string value = fmt::seal(key, body);
    records.emplace_back(std::move(key), std::move(value));
  }
  const bool replaces = !entries.empty() && first <= view_.last;
  return write_txn(
      replaces, options_.map_bytes_max,
      [&](MDB_txn* txn) {
        int rc = hs ? put_record(txn, fmt::kHardStateKey, hs->SerializeAsString()) : 0;
        if (rc == 0 && replaces) rc = delete_suffix(txn, entries_dbi_, first);
        // MDB_APPEND: the keys arrive in order past the last one, so LMDB skips the search
        // and fills pages completely (and fails with MDB_KEYEXIST if that were ever untrue).
        for (size_t k = 0; rc == 0 && k < records.size(); ++k) {
          rc = lmdb::put(txn, entries_dbi_, records[k].first, records[k].second, MDB_APPEND);
        }
        return rc;
      },
      [&] {
        if (hs) view_.hard_state = *hs;
        if (entries.empty()) return;
        while (!view_.runs.empty() && view_.runs.back().first >= first) view_.runs.pop_back();
        for (const pb::Entry& e : entries) {
          if (view_.runs.empty() || view_.runs.back().term != Term(e.term())) {
            view_.runs.push_back({LogIndex(e.index()), Term(e.term())});
          }
        }
        view_.last = new_last;
      });
}

Status LmdbLog::install_snapshot(const pb::Snapshot& snapshot) {
  CASTOR_ASSERT(snapshot.meta().data_bytes() == snapshot.data().size(),
                "snapshot data_bytes differs from its data");
  CASTOR_ASSERT(view_.hard_state.commit() <= snapshot.meta().index(),
                "installing a snapshot behind the commit index would lose committed entries");
  return replace_snapshot(snapshot.meta(), snapshot.data(), true);
}

Status LmdbLog::save_snapshot(pb::SnapshotMeta meta, std::string_view data) {
  CASTOR_ASSERT(meta.index() >= view_.snapshot.index(), "snapshot older than the current one");
  CASTOR_ASSERT(LogIndex(meta.index()) <= view_.last, "snapshot past the end of the log");
  CASTOR_ASSERT(Term(meta.term()) == view_term(LogIndex(meta.index())),
                "snapshot term differs from the log's");
  meta.set_data_bytes(data.size());
  meta.set_data_crc32c(crc32c_extend(0, data));
  return replace_snapshot(meta, data, false);
}

// Order for crash safety: the new data file is durable before the record pointing at it
// commits, and the old file is removed only after. A crash in between leaves an unreferenced
// file that the next open removes.
Status LmdbLog::replace_snapshot(const pb::SnapshotMeta& meta, std::string_view data, bool drop_all_entries) {
  const uint32_t crc = crc32c_extend(0, data);
  UniqueFd fd;
  std::string keep;
  if (!data.empty()) {
    if (Status s = snapshot_files_.write(meta.index(), crc, data); !s.is_ok()) return s;
    // Reading the file back checks the whole path through the filesystem before the log
    // commits to it.
    Result<UniqueFd> opened = snapshot_files_.open_verified(meta.index(), data.size(), crc);
    if (!opened.is_ok()) return opened.status();
    fd = std::move(opened).value();
    keep = SnapshotFiles::file_name(meta.index(), crc);
  }
  std::string body;
  fmt::put_u32(body, crc);
  meta.AppendToString(&body);
  const LogIndex index(meta.index());
  Status s = write_txn(
      true, compaction_map_limit(),
      [&](MDB_txn* txn) {
        int rc = put_record(txn, fmt::kSnapshotKey, body);
        if (rc == 0) {
          rc = drop_all_entries ? mdb_drop(txn, entries_dbi_, 0) : delete_prefix(txn, entries_dbi_, index);
        }
        return rc;
      },
      [&] {
        if (drop_all_entries || index == view_.last) {
          view_.runs.clear();
          view_.last = index;
        } else {
          // Keep the runs from the one holding index + 1 on, starting it at index + 1.
          auto after = std::upper_bound(view_.runs.begin(), view_.runs.end(), index + 1,
                                        [](LogIndex x, const TermRun& run) { return x < run.first; });
          view_.runs.erase(view_.runs.begin(), std::prev(after));
          view_.runs.front().first = index + 1;
        }
        view_.snapshot = meta;
        view_.snapshot_crc = crc;
        view_.snapshot_fd = fd.valid() ? std::make_shared<const UniqueFd>(std::move(fd)) : nullptr;
      });
  if (!s.is_ok()) return s;
  // LMDB reuses the pages a transaction freed only two transactions later: the previous meta
  // page's tree must stay intact for crash recovery. A second, inert commit makes the space
  // this compaction freed available to the very next append, which matters when the host
  // compacted because the map was full.
  std::string version;
  fmt::put_u32(version, fmt::kVersion);
  s = write_txn(
      false, compaction_map_limit(), [&](MDB_txn* txn) { return put_record(txn, fmt::kFormatKey, version); },
      [] {});
  if (!s.is_ok()) return s;
  return snapshot_files_.remove_all_except(keep);
}

}  // namespace castor::raft

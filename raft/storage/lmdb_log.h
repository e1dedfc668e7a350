// LmdbLog: the durable Raft log of one node (entries, hard state, snapshot) on LMDB, the
// LogReader that castord hands to raft::Node. Same semantics as MemoryLog, plus durability:
// every write returns only after it is fsynced.
//
// The on-disk format is in log_format.h.
//
// Open verifies everything: the format version, every record's checksum, the snapshot file's
// size and checksum, that the entries are exactly (snapshot index, last index] without a gap,
// with non-decreasing terms, and that the hard state's commit index is within the log. Any
// failure refuses the open with kCorruption, because a node that votes or acknowledges from a
// damaged log can break Raft's safety for the whole cluster.
//
// Map growth: the LMDB map starts at Options::map_bytes. When a write meets MDB_MAP_FULL the
// transaction is retried after doubling the map, never beyond Options::map_bytes_max; at the
// maximum an append fails with kResourceExhausted and the log is unchanged, so the node can
// keep serving reads until the host takes a snapshot (which compacts the log) or restarts with
// a larger maximum. Compaction itself needs a few fresh pages (LMDB copies on write), so a
// snapshot write may grow the map past the maximum by a reserve of map_bytes_max / 16 (at
// least 1 MiB): a full log can always be compacted. The map is address space, not disk: the
// file grows only with the data.
//
// Does NOT decide anything about Raft (what to append, when to compact): the host does, from
// raft::Ready. Does not retry or hide a failed write: every non-OK Status other than
// kResourceExhausted means the node must stop (docs/STYLE.md, "Fail-stop"), because
// after a failed fsync what reached the disk is unknown. A read that finds corruption or an
// LMDB failure cannot return a Status (LogReader), so it stops the process with a message.
//
// Threading: one writer thread at a time calls append / install_snapshot / save_snapshot;
// any number of threads may call the LogReader methods concurrently with it (castord reads on
// its Raft strand while its log thread fsyncs). A reader sees either the log before a write or
// the log after it, never a mix; see lmdb_log.cc for how.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raft/base/status.h"
#include "raft/log_reader.h"
#include "raft/storage/log_errors.h"
#include "raft/storage/log_verifier.h"
#include "raft/storage/snapshot_files.h"
#include "raft/storage/unique_fd.h"

namespace castor::raft {

class LmdbLog final : public LogReader {
 public:
  struct Options {
    std::filesystem::path data_dir;
    // The LMDB map: initial size and the most it may grow to by doubling (see above). A
    // maximum below the initial size lowers the initial size to it.
    uint64_t map_bytes = uint64_t{1} << 30;
    uint64_t map_bytes_max = uint64_t{16} << 30;
    // The voters of a freshly bootstrapped cluster; only read when the directory is created.
    pb::ConfState bootstrap_conf;
    // Create an empty log when <data_dir>/log/ holds none. Off for a node that has run
    // before: its log missing means it lost its votes and acknowledged entries.
    bool create_if_missing = false;
    // Test only, a planted bug (castord --unsafe-skip-fsync): commits skip the fsync, so what a
    // node acknowledged lives only in the page cache. A kill -9 keeps the page cache and cannot
    // tell; a power cut (tests/powerfs) loses it.
    bool unsafe_skip_fsync = false;
  };

  // Opens (or creates) the log and verifies it. kCorruption when the log is missing (and not
  // create_if_missing), of an unknown format, or damaged; kUnavailable when another process
  // (or another LmdbLog in this one) has it open; kInternal on an LMDB or I/O failure.
  static Result<std::unique_ptr<LmdbLog>> open(Options options);
  ~LmdbLog() override;
  LmdbLog(const LmdbLog&) = delete;
  LmdbLog& operator=(const LmdbLog&) = delete;

  // --- LogReader ---
  pb::HardState hard_state() const override;
  // The snapshot's configuration, exactly as MemoryLog (ENTRY_CONF entries are not scanned).
  pb::ConfState conf_state() const override;
  LogIndex first_index() const override;
  LogIndex last_index() const override;
  // Answered from memory: open builds an index of where each term starts.
  std::optional<Term> term(LogIndex i) const override;
  std::vector<pb::Entry> entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const override;
  pb::SnapshotMeta snapshot_meta() const override;
  std::string snapshot_chunk(uint64_t offset, uint64_t bytes_max) const override;

  // --- Writes (one writer thread), each one fsynced LMDB transaction ---
  // Persists the hard state (if given) and appends entries; entries[0] may start at or below
  // last_index(), in which case the old suffix from entries[0].index() on is removed in the
  // same transaction. Pass everything that is ready at once: one call, one fsync.
  Status append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries);
  // Replaces the whole log with a snapshot received from the leader (Ready::snapshot); the
  // hard state is kept. meta.data_bytes must equal the data's size.
  Status install_snapshot(const pb::Snapshot& snapshot);
  // The host snapshotted its state machine at meta.index() (within the log): keep the data for
  // InstallSnapshot and drop the entries it covers (paper section 7). Sets meta.data_bytes and
  // meta.data_crc32c.
  Status save_snapshot(pb::SnapshotMeta meta, std::string_view data);

  // The current size of the LMDB map (for metrics, and tests of the growth rule).
  uint64_t map_bytes() const;
  // What the log's pages take (its entries and records, as of the last write or the open), and
  // the most the map may grow to. A write that finds the map at its maximum fails and stops
  // the node, so the host refuses new proposals well before (kv::StorageRoom::log_nearly_full).
  uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
  uint64_t map_bytes_max() const { return options_.map_bytes_max; }

 private:
  // Everything readers see, changed only under mu_.
  struct View : LogContents {
    // Open while snapshot.data_bytes() > 0; shared so that a reader can finish its pread after
    // a new snapshot replaced this one.
    std::shared_ptr<const UniqueFd> snapshot_fd;
  };

  LmdbLog(Options options, std::filesystem::path log_dir, MDB_env* env, UniqueFd lock_fd);

  // Builds a new empty log in <data_dir>/log.new/ and renames it to log/ (see lmdb_log.cc).
  static Status create_staged(const Options& options);
  // Opens (creating with create_if_missing) the environment in `log_dir` and verifies it.
  static Result<std::unique_ptr<LmdbLog>> open_dir(Options options, const std::filesystem::path& log_dir);
  // Opens the entries and meta databases: true for a new log (no format record yet), to be
  // initialized; kCorruption for one with records but no format, or none without
  // create_if_missing.
  Result<bool> open_tables();
  Status init_fresh();
  // Verifies the log (log_verifier.h), its commit index and its snapshot file, into view_.
  Status load_and_verify();
  Status open_snapshot_file(View& view);
  // Runs one write transaction: fill(txn) stages it and returns an LMDB code, then it commits
  // (fsync) and publish() updates view_ under mu_. Retries after growing the map (up to
  // map_limit) on MDB_MAP_FULL, so fill must be repeatable. When `removes` the commit itself
  // happens under mu_, because the write removes entries readers may be reading.
  template <typename Fill, typename Publish>
  Status write_txn(bool removes, uint64_t map_limit, Fill&& fill, Publish&& publish);
  Status grow_map(uint64_t map_limit);
  uint64_t compaction_map_limit() const;
  // Opens an LMDB read transaction consistent with view_ (lo and hi are checked against it,
  // under mu_); end_read() must follow once the transaction is gone.
  int begin_read(LogIndex lo, LogIndex hi, MDB_txn** txn) const;
  void end_read() const;
  int put_record(MDB_txn* txn, std::string_view key, std::string_view body);
  Status replace_snapshot(const pb::SnapshotMeta& meta, std::string_view data, bool drop_all_entries);
  Term view_term(LogIndex i) const;

  const Options options_;
  const LogErrors errors_;
  const std::filesystem::path log_dir_;  // <data_dir>/log, or log.new while being created
  const SnapshotFiles snapshot_files_;
  MDB_env* const env_;
  const UniqueFd lock_fd_;  // held open to keep the flock
  std::atomic<uint64_t> used_bytes_{0};
  MDB_dbi entries_dbi_ = 0;
  MDB_dbi meta_dbi_ = 0;

  // mu_ guards the fields below. A plain mutex, held briefly by readers: a reader-preferring
  // rwlock (glibc's std::shared_mutex) lets busy readers starve the writer.
  mutable std::mutex mu_;
  mutable std::condition_variable reads_done_;
  mutable int open_reads_ = 0;  // LMDB read transactions open now
  bool growing_ = false;        // the map is being resized: no new read transactions
  uint64_t map_bytes_ = 0;
  View view_;  // the writer may read it without mu_: it is the only thread changing it
};

}  // namespace castor::raft

// What only the durable log has to prove: it survives a restart, it refuses to start on a
// damaged, missing or foreign log, it reports a full map as a value, and it stays consistent
// for readers while a writer changes it.
#include "raft/storage/lmdb_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raft/storage/log_format.h"
#include "tests/unit/raft/storage/test_util.h"

namespace castor::raft {
namespace {

using testing::make_conf;
using testing::make_entries;
using testing::make_entry;
using testing::make_hard_state;
using testing::TempDir;

LmdbLog::Options options_for(const TempDir& dir, bool create = true) {
  LmdbLog::Options options;
  options.data_dir = dir.path();
  options.bootstrap_conf = make_conf({1, 2, 3});
  options.create_if_missing = create;
  return options;
}

std::unique_ptr<LmdbLog> open_ok(const LmdbLog::Options& options) {
  Result<std::unique_ptr<LmdbLog>> log = LmdbLog::open(options);
  EXPECT_TRUE(log.is_ok()) << log.status().to_string();
  return log.is_ok() ? std::move(log).value() : nullptr;
}

void expect_ok(const Status& s) { EXPECT_TRUE(s.is_ok()) << s.to_string(); }

// Flips one bit in the middle of every copy of `marker` in the file and returns how many it
// found (LMDB's copy-on-write can leave stale copies in free pages; damaging all of them makes
// sure the live one is among them). Writes in place, so a process that has the file mapped
// sees the change, as it would see a disk returning bad data.
int flip_marker(const std::filesystem::path& file, std::string_view marker) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int fd = ::open(file.c_str(), O_WRONLY);
  EXPECT_GE(fd, 0);
  int found = 0;
  for (size_t pos = bytes.find(marker); pos != std::string::npos; pos = bytes.find(marker, pos + 1)) {
    const size_t at = pos + marker.size() / 2;
    const char flipped = static_cast<char>(bytes[at] ^ 0x01);
    EXPECT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(at)), 1);
    ++found;
  }
  ::close(fd);
  return found;
}

// The log's LMDB environment opened directly, to plant what a bad disk or an old or future
// castord could leave there. The LmdbLog must be closed: LMDB allows one handle per process.
class RawLmdb {
 public:
  explicit RawLmdb(const std::filesystem::path& data_dir) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    EXPECT_EQ(mdb_env_set_maxdbs(env_, 2), 0);
    EXPECT_EQ(mdb_env_open(env_, (data_dir / "log").c_str(), 0, 0644), 0);
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn_), 0);
    EXPECT_EQ(mdb_dbi_open(txn_, log_format::kEntriesDb, 0, &entries_), 0);
    EXPECT_EQ(mdb_dbi_open(txn_, log_format::kMetaDb, 0, &meta_), 0);
  }
  ~RawLmdb() {
    EXPECT_EQ(mdb_txn_commit(txn_), 0);
    mdb_env_close(env_);
  }
  void put_meta(std::string_view key, std::string value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), value.data()};
    EXPECT_EQ(mdb_put(txn_, meta_, &k, &v, 0), 0);
  }
  void delete_entry(uint64_t index) {
    std::string key = log_format::index_key(LogIndex(index));
    MDB_val k{key.size(), key.data()};
    EXPECT_EQ(mdb_del(txn_, entries_, &k, nullptr), 0);
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  MDB_dbi entries_ = 0;
  MDB_dbi meta_ = 0;
};

void expect_corruption(const LmdbLog::Options& options, const std::string& what) {
  Result<std::unique_ptr<LmdbLog>> log = LmdbLog::open(options);
  ASSERT_FALSE(log.is_ok()) << "opened a log that should be refused for: " << what;
  EXPECT_EQ(log.status().code(), Code::kCorruption) << log.status().to_string();
  EXPECT_NE(log.status().message().find(what), std::string::npos) << log.status().to_string();
  // Every refusal tells the operator what to do.
  EXPECT_NE(log.status().message().find("restore this node from a peer"), std::string::npos)
      << log.status().to_string();
}

TEST(LmdbLog, ReopenKeepsEntriesTermsHardStateAndSnapshot) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    std::vector<pb::Entry> entries;
    for (uint64_t i = 1; i <= 300; ++i) entries.push_back(make_entry(i, 1 + i / 50));
    expect_ok(log->append(make_hard_state(7, 2, 250), entries));
    pb::SnapshotMeta meta;
    meta.set_index(100);
    meta.set_term(3);
    *meta.mutable_conf() = make_conf({1, 2, 3});
    expect_ok(log->save_snapshot(meta, "state machine at 100"));
  }
  auto log = open_ok(options_for(dir, false));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->first_index(), LogIndex(101));
  EXPECT_EQ(log->last_index(), LogIndex(300));
  for (uint64_t i = 100; i <= 300; ++i) EXPECT_EQ(log->term(LogIndex(i)), Term(1 + i / 50)) << i;
  EXPECT_EQ(log->hard_state().ShortDebugString(), make_hard_state(7, 2, 250).ShortDebugString());
  EXPECT_EQ(log->snapshot_chunk(0, 100), "state machine at 100");
  const std::vector<pb::Entry> read = log->entries(LogIndex(101), LogIndex(301), UINT64_MAX);
  ASSERT_EQ(read.size(), 200u);
  EXPECT_EQ(read.back().data(), make_entry(300, 7).data());
}

TEST(LmdbLog, BootstrapConfigurationIsOnlyUsedWhenTheLogIsCreated) {
  TempDir dir;
  open_ok(options_for(dir));
  LmdbLog::Options again = options_for(dir);
  again.bootstrap_conf = make_conf({7, 8, 9});
  auto log = open_ok(again);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->conf_state().ShortDebugString(), make_conf({1, 2, 3}).ShortDebugString());
}

TEST(LmdbLog, MissingLogWithoutCreateIfMissingRefusesToStart) {
  TempDir dir;
  expect_corruption(options_for(dir, false), "data.mdb is missing");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "log")) << "a refused open must not create anything";
}

// A brand-new node killed during its first start: what it left is log.new/ (here an LMDB
// environment whose first transaction never committed, and a stray file), never log/. The
// next start begins again instead of refusing a log that was never finished.
TEST(LmdbLog, AFirstStartKilledBeforeTheLogWasCompleteStartsOver) {
  TempDir dir;
  const std::filesystem::path staging = dir.path() / "log.new";
  std::filesystem::create_directories(staging);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, staging.c_str(), 0, 0644), 0);
  mdb_env_close(env);
  std::ofstream(staging / "stray") << "half";
  auto log = open_ok(options_for(dir));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_index(), LogIndex(0));
  EXPECT_EQ(log->conf_state().voters_size(), 3);
  EXPECT_FALSE(std::filesystem::exists(staging));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "log" / "data.mdb"));
  log.reset();
  EXPECT_NE(open_ok(options_for(dir, false)), nullptr) << "the finished log opens as a node's own";
}

TEST(LmdbLog, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto first = open_ok(options_for(dir));
  Result<std::unique_ptr<LmdbLog>> second = LmdbLog::open(options_for(dir));
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().to_string();
}

TEST(LmdbLog, FlippedByteInAStoredEntryRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(std::nullopt,
                          {make_entry(1, 1), make_entry(2, 1, "MARKER-OF-ENTRY-TWO"), make_entry(3, 1)}));
  }
  ASSERT_GE(flip_marker(dir.path() / "log" / "data.mdb", "MARKER-OF-ENTRY-TWO"), 1);
  expect_corruption(options_for(dir, false), "entry 2 fails its checksum");
}

TEST(LmdbLog, FlippedByteFoundByAReadStopsTheNode) {
  TempDir dir;
  auto log = open_ok(options_for(dir));
  expect_ok(log->append(std::nullopt, {make_entry(1, 1, "MARKER-READ-AFTER-OPEN")}));
  // The damage appears after open verified the log, as a failing disk would produce it.
  ASSERT_GE(flip_marker(dir.path() / "log" / "data.mdb", "MARKER-READ-AFTER-OPEN"), 1);
  EXPECT_DEATH(log->entries(LogIndex(1), LogIndex(2), UINT64_MAX), "entry 1 fails its checksum");
}

TEST(LmdbLog, DamagedSnapshotFileRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(std::nullopt, make_entries(1, 3, 1)));
    pb::SnapshotMeta meta;
    meta.set_index(2);
    meta.set_term(1);
    expect_ok(log->save_snapshot(meta, "SNAPSHOT-MARKER"));
  }
  const auto files = std::distance(std::filesystem::directory_iterator(dir.path() / "snapshot"),
                                   std::filesystem::directory_iterator());
  ASSERT_EQ(files, 1);
  const std::filesystem::path file = std::filesystem::directory_iterator(dir.path() / "snapshot")->path();
  ASSERT_EQ(flip_marker(file, "SNAPSHOT-MARKER"), 1);
  expect_corruption(options_for(dir, false), "snapshot file");
}

TEST(LmdbLog, MissingSnapshotFileRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(std::nullopt, make_entries(1, 3, 1)));
    pb::SnapshotMeta meta;
    meta.set_index(2);
    meta.set_term(1);
    expect_ok(log->save_snapshot(meta, "data"));
  }
  std::filesystem::remove_all(dir.path() / "snapshot");
  expect_corruption(options_for(dir, false), "cannot be opened");
}

// A power cut after writes that were never fsynced (--unsafe-skip-fsync, or a disk that lies)
// can leave data.mdb shorter than its meta page says. LMDB would read the missing pages
// through its map and die of SIGBUS; the log must name the damage instead (seen in the chaos
// suite's planted-bug run: a node exited with no word).
TEST(LmdbLog, FileShorterThanItsMetaPageRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    std::vector<pb::Entry> entries;
    for (uint64_t i = 1; i <= 200; ++i) entries.push_back(make_entry(i, 1, std::string(1000, 'x')));
    expect_ok(log->append(std::nullopt, entries));
  }
  const std::filesystem::path file = dir.path() / "log" / "data.mdb";
  ASSERT_GT(std::filesystem::file_size(file), 16u * 4096);
  std::filesystem::resize_file(file, 4u * 4096);
  expect_corruption(options_for(dir, false), "never reached the disk");
}

TEST(LmdbLog, UnknownFormatVersionRefusesToStart) {
  TempDir dir;
  open_ok(options_for(dir));
  {
    RawLmdb raw(dir.path());
    std::string version;
    log_format::put_u32(version, 2);
    raw.put_meta(log_format::kFormatKey, log_format::seal(log_format::kFormatKey, version));
  }
  expect_corruption(options_for(dir, false), "format version 2, this build reads only version 1");
}

TEST(LmdbLog, HardStateCommittingPastTheLastEntryRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(make_hard_state(2, 1, 5), make_entries(1, 6, 2)));
  }
  {
    // Committed entries vanished, as behind a disk cache that acknowledged writes it lost.
    RawLmdb raw(dir.path());
    raw.delete_entry(5);
    raw.delete_entry(4);
  }
  expect_corruption(options_for(dir, false), "commit index 5 is past the last log index 3");
}

TEST(LmdbLog, GapInTheEntriesRefusesToStart) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(std::nullopt, make_entries(1, 6, 1)));
  }
  {
    RawLmdb raw(dir.path());
    raw.delete_entry(3);
  }
  expect_corruption(options_for(dir, false), "expected entry 3 (after snapshot 0), found entry 4");
}

TEST(LmdbLog, FullMapFailsTheAppendWithResourceExhaustedAndReadsStillWork) {
  TempDir dir;
  LmdbLog::Options options = options_for(dir);
  options.map_bytes = options.map_bytes_max = 256 << 10;
  auto log = open_ok(options);
  ASSERT_NE(log, nullptr);
  Status s;
  uint64_t next = 1;
  while (s.is_ok() && next < 1000) {
    s = log->append(make_hard_state(1, 1, next - 1), {make_entry(next, 1, std::string(8 << 10, 'v'))});
    if (s.is_ok()) ++next;
  }
  ASSERT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
  EXPECT_NE(s.message().find("map_bytes_max"), std::string::npos) << s.to_string();
  const LogIndex last(next - 1);
  ASSERT_GT(last, LogIndex(5));
  // The failed append left no trace, and everything before it reads back.
  EXPECT_EQ(log->last_index(), last);
  EXPECT_EQ(log->hard_state().commit(), last.value - 1);
  EXPECT_EQ(log->term(last), Term(1));
  EXPECT_EQ(log->entries(LogIndex(1), last + 1, UINT64_MAX).size(), last.value);
  // Compaction is what frees the map again: the host takes a snapshot and appends go on.
  pb::SnapshotMeta meta;
  meta.set_index(last.value);
  meta.set_term(1);
  expect_ok(log->save_snapshot(meta, "compacted"));
  expect_ok(log->append(std::nullopt, {make_entry(next, 1, std::string(8 << 10, 'v'))}));
}

TEST(LmdbLog, MapGrowsByDoublingUpToItsMaximum) {
  TempDir dir;
  LmdbLog::Options options = options_for(dir);
  options.map_bytes = 128 << 10;
  options.map_bytes_max = 1 << 20;
  auto log = open_ok(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->map_bytes(), uint64_t{128} << 10);
  // 64 entries of 8 KiB need about 512 KiB: the map doubles twice or three times, no further.
  for (uint64_t i = 1; i <= 64; ++i)
    expect_ok(log->append(std::nullopt, {make_entry(i, 1, std::string(8 << 10, 'g'))}));
  EXPECT_GE(log->map_bytes(), uint64_t{512} << 10);
  EXPECT_LE(log->map_bytes(), uint64_t{1} << 20);
  Status s;
  for (uint64_t i = 65; s.is_ok() && i < 1000; ++i)
    s = log->append(std::nullopt, {make_entry(i, 1, std::string(8 << 10, 'g'))});
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
  EXPECT_EQ(log->map_bytes(), uint64_t{1} << 20);
}

TEST(LmdbLog, AMaximumBelowTheInitialMapSizeLowersTheInitialSize) {
  TempDir dir;
  LmdbLog::Options options = options_for(dir);
  options.map_bytes_max = 4 << 20;  // the default map_bytes is 1 GiB
  auto log = open_ok(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->map_bytes(), uint64_t{4} << 20);
}

TEST(LmdbLog, OpenRemovesSnapshotFilesLeftByAnInterruptedSnapshot) {
  TempDir dir;
  {
    auto log = open_ok(options_for(dir));
    expect_ok(log->append(std::nullopt, make_entries(1, 4, 1)));
    pb::SnapshotMeta meta;
    meta.set_index(2);
    meta.set_term(1);
    expect_ok(log->save_snapshot(meta, "kept"));
  }
  // A crash after writing the next snapshot's file, or during it, before LMDB pointed at it.
  std::ofstream(dir.path() / "snapshot" / "snap-00000000000000000003-0badf00d.bin") << "orphan";
  std::ofstream(dir.path() / "snapshot" / "snap-00000000000000000003-0badf00d.bin.tmp") << "half";
  auto log = open_ok(options_for(dir, false));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->snapshot_chunk(0, 100), "kept");
  const auto files = std::distance(std::filesystem::directory_iterator(dir.path() / "snapshot"),
                                   std::filesystem::directory_iterator());
  EXPECT_EQ(files, 1);
}

TEST(LmdbLog, ReadersSeeAConsistentLogWhileTheWriterAppendsReplacesAndCompacts) {
  TempDir dir;
  auto log = open_ok(options_for(dir));
  ASSERT_NE(log, nullptr);
  expect_ok(log->append(std::nullopt, make_entries(1, 30, 1)));
  // What castord's host guarantees: a compaction does not run between a reader's
  // first_index() and its entries() call (the Raft core reads on the strand that also
  // schedules compaction). Appends and suffix replacements need no such care.
  std::mutex host;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  auto reader = [&] {
    while (!done) {
      std::lock_guard lock(host);
      const LogIndex first = log->first_index();
      const LogIndex last = log->last_index();
      // Suffix replacements below touch at most the last 3 entries and never shrink the log.
      if (last.value < first.value + 10) continue;
      const LogIndex hi = last - 9;
      const std::vector<pb::Entry> got = log->entries(first, hi, UINT64_MAX);
      ASSERT_EQ(got.size(), hi - first);
      for (size_t k = 0; k < got.size(); ++k) {
        ASSERT_EQ(got[k].index(), first.value + k);
        ASSERT_EQ(got[k].data(), make_entry(got[k].index(), got[k].term()).data());
        ASSERT_EQ(log->term(LogIndex(got[k].index())), Term(got[k].term()));
      }
      ++reads;
    }
  };
  std::thread r1(reader), r2(reader);
  uint64_t term = 1;
  for (int round = 1; round <= 150; ++round) {
    const LogIndex last = log->last_index();
    if (round % 7 == 0) {
      ++term;  // a new leader replaces the last 3 entries and adds 2 more
      expect_ok(log->append(std::nullopt, make_entries(last.value - 2, last.value + 3, term)));
    } else if (round % 11 == 0) {
      std::lock_guard lock(host);
      pb::SnapshotMeta meta;
      meta.set_index(last.value - 20);
      meta.set_term(log->term(LogIndex(meta.index()))->value);
      expect_ok(log->save_snapshot(meta, "snapshot " + std::to_string(round)));
    } else {
      expect_ok(log->append(make_hard_state(term, 1, last.value - 5),
                            make_entries(last.value + 1, last.value + 6, term)));
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_GT(reads.load(), 0u);
}

}  // namespace
}  // namespace castor::raft

// One suite, two logs: every case runs against MemoryLog (the reference) and LmdbLog, so the
// durable log is held to exactly the reference semantics. For LmdbLog each case also checks
// its expectations again after closing and reopening the log, proving they were durable.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/memory_log.h"
#include "raft/storage/lmdb_log.h"
#include "tests/unit/raft/storage/test_util.h"

namespace castor::raft {
namespace {

using testing::make_conf;
using testing::make_entries;
using testing::make_entry;
using testing::make_hard_state;

std::string debug(const std::vector<pb::Entry>& entries) {
  std::string out;
  for (const pb::Entry& e : entries) out += "{" + e.ShortDebugString() + "} ";
  return out;
}

// The writes of both logs behind one interface; LmdbLog's Status must be OK.
class MemoryHarness {
 public:
  explicit MemoryHarness(const pb::ConfState& conf) : log_(conf) {}
  const LogReader& log() const { return log_; }
  void append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries) {
    log_.append(hs, entries);
  }
  void install_snapshot(const pb::Snapshot& snapshot) { log_.install_snapshot(snapshot); }
  void save_snapshot(const pb::SnapshotMeta& meta, const std::string& data) {
    log_.save_snapshot(meta, data);
  }
  // The simulator keeps a MemoryLog across a simulated crash: nothing to reopen.
  void reopen() {}

 private:
  MemoryLog log_;
};

class LmdbHarness {
 public:
  explicit LmdbHarness(const pb::ConfState& conf) {
    options_.data_dir = dir_.path();
    options_.bootstrap_conf = conf;
    options_.create_if_missing = true;
    open();
  }
  const LogReader& log() const { return *log_; }
  void append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries) {
    const Status s = log_->append(hs, entries);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void install_snapshot(const pb::Snapshot& snapshot) {
    const Status s = log_->install_snapshot(snapshot);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void save_snapshot(const pb::SnapshotMeta& meta, const std::string& data) {
    const Status s = log_->save_snapshot(meta, data);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void reopen() {
    log_.reset();
    options_.create_if_missing = false;
    open();
  }

 private:
  void open() {
    Result<std::unique_ptr<LmdbLog>> opened = LmdbLog::open(options_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    log_ = std::move(opened).value();
  }

  testing::TempDir dir_;
  LmdbLog::Options options_;
  std::unique_ptr<LmdbLog> log_;
};

template <typename Harness>
class LogConformance : public ::testing::Test {
 protected:
  LogConformance() : h_(make_conf({1, 2, 3})) {}

  const LogReader& log() const { return h_.log(); }

  // Runs the checks, then again after a reopen (a no-op for MemoryLog).
  template <typename Checks>
  void check_durably(Checks checks) {
    {
      SCOPED_TRACE("before reopen");
      checks();
    }
    h_.reopen();
    SCOPED_TRACE("after reopen");
    checks();
  }

  void expect_entries(LogIndex lo, LogIndex hi, const std::vector<pb::Entry>& want) {
    EXPECT_EQ(debug(log().entries(lo, hi, UINT64_MAX)), debug(want));
  }

  pb::SnapshotMeta snapshot_meta(uint64_t index, uint64_t term, const pb::ConfState& conf) {
    pb::SnapshotMeta meta;
    meta.set_index(index);
    meta.set_term(term);
    *meta.mutable_conf() = conf;
    return meta;
  }

  std::string read_snapshot(uint64_t chunk_bytes) {
    std::string all;
    for (;;) {
      std::string chunk = log().snapshot_chunk(all.size(), chunk_bytes);
      if (chunk.empty()) return all;
      EXPECT_LE(chunk.size(), chunk_bytes);
      all += chunk;
    }
  }

  Harness h_;
};

using Harnesses = ::testing::Types<MemoryHarness, LmdbHarness>;
class HarnessNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryHarness> ? "MemoryLog" : "LmdbLog";
  }
};
TYPED_TEST_SUITE(LogConformance, Harnesses, HarnessNames);

TYPED_TEST(LogConformance, FreshLogIsEmptyWithTheBootstrapConfiguration) {
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.first_index(), LogIndex(1));
    EXPECT_EQ(log.last_index(), LogIndex(0));
    EXPECT_EQ(log.term(LogIndex(0)), Term(0));
    EXPECT_EQ(log.term(LogIndex(1)), std::nullopt);
    EXPECT_EQ(log.hard_state().ShortDebugString(), pb::HardState().ShortDebugString());
    EXPECT_EQ(log.conf_state().ShortDebugString(), make_conf({1, 2, 3}).ShortDebugString());
    EXPECT_EQ(log.snapshot_meta().index(), 0u);
    EXPECT_EQ(log.snapshot_chunk(0, 100), "");
  });
}

TYPED_TEST(LogConformance, AppendedEntriesAndHardStateReadBack) {
  std::vector<pb::Entry> all = make_entries(1, 3, 1);
  for (const pb::Entry& e : make_entries(3, 5, 2)) all.push_back(e);
  all.push_back(make_entry(5, 3));
  this->h_.append(make_hard_state(3, 2, 4), all);
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.first_index(), LogIndex(1));
    EXPECT_EQ(log.last_index(), LogIndex(5));
    const uint64_t terms[] = {0, 1, 1, 2, 2, 3};
    for (uint64_t i = 0; i <= 5; ++i) EXPECT_EQ(log.term(LogIndex(i)), Term(terms[i])) << i;
    EXPECT_EQ(log.term(LogIndex(6)), std::nullopt);
    this->expect_entries(LogIndex(1), LogIndex(6), all);
    this->expect_entries(LogIndex(2), LogIndex(4), {all[1], all[2]});
    EXPECT_TRUE(log.entries(LogIndex(3), LogIndex(3), UINT64_MAX).empty());
    EXPECT_EQ(log.hard_state().ShortDebugString(), make_hard_state(3, 2, 4).ShortDebugString());
  });
}

TYPED_TEST(LogConformance, HardStateAloneIsPersistedWithoutTouchingEntries) {
  this->h_.append(make_hard_state(1, 1, 0), make_entries(1, 4, 1));
  this->h_.append(make_hard_state(2, 3, 3), {});
  this->check_durably([&] {
    EXPECT_EQ(this->log().hard_state().ShortDebugString(), make_hard_state(2, 3, 3).ShortDebugString());
    this->expect_entries(LogIndex(1), LogIndex(4), make_entries(1, 4, 1));
  });
}

TYPED_TEST(LogConformance, AppendsWithoutHardStateKeepTheLastOne) {
  this->h_.append(make_hard_state(1, 1, 0), make_entries(1, 3, 1));
  this->h_.append(std::nullopt, make_entries(3, 5, 1));
  this->check_durably([&] {
    EXPECT_EQ(this->log().hard_state().ShortDebugString(), make_hard_state(1, 1, 0).ShortDebugString());
    this->expect_entries(LogIndex(1), LogIndex(5), make_entries(1, 5, 1));
  });
}

TYPED_TEST(LogConformance, Section5_3_ConflictingSuffixIsReplacedByAShorterOne) {
  this->h_.append(std::nullopt, make_entries(1, 6, 1));
  const std::vector<pb::Entry> replacement = {make_entry(3, 2), make_entry(4, 2)};
  this->h_.append(std::nullopt, replacement);
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.last_index(), LogIndex(4));
    EXPECT_EQ(log.term(LogIndex(2)), Term(1));
    EXPECT_EQ(log.term(LogIndex(3)), Term(2));
    EXPECT_EQ(log.term(LogIndex(5)), std::nullopt);
    this->expect_entries(LogIndex(1), LogIndex(5),
                         {make_entry(1, 1), make_entry(2, 1), replacement[0], replacement[1]});
  });
}

TYPED_TEST(LogConformance, Section5_3_ConflictingSuffixIsReplacedByALongerOne) {
  this->h_.append(std::nullopt, make_entries(1, 4, 1));
  this->h_.append(std::nullopt, make_entries(2, 8, 3));
  this->check_durably([&] {
    EXPECT_EQ(this->log().last_index(), LogIndex(7));
    EXPECT_EQ(this->log().term(LogIndex(1)), Term(1));
    EXPECT_EQ(this->log().term(LogIndex(7)), Term(3));
    std::vector<pb::Entry> want = {make_entry(1, 1)};
    for (const pb::Entry& e : make_entries(2, 8, 3)) want.push_back(e);
    this->expect_entries(LogIndex(1), LogIndex(8), want);
  });
}

TYPED_TEST(LogConformance, ReplacingFromTheFirstIndexRewritesTheWholeLog) {
  this->h_.append(std::nullopt, make_entries(1, 4, 1));
  this->h_.append(std::nullopt, make_entries(1, 3, 2));
  this->check_durably([&] {
    EXPECT_EQ(this->log().last_index(), LogIndex(2));
    this->expect_entries(LogIndex(1), LogIndex(3), make_entries(1, 3, 2));
  });
}

TYPED_TEST(LogConformance, EntriesStopAtBytesMaxButReturnAtLeastOne) {
  std::vector<pb::Entry> all;
  for (uint64_t i = 1; i <= 5; ++i)
    all.push_back(make_entry(i, 1, std::string(100, static_cast<char>('a' + i))));
  this->h_.append(std::nullopt, all);
  this->check_durably([&] {
    const LogReader& log = this->log();
    // bytes_max counts entry data; the entry that would pass it is left out, unless it is the first.
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(6), 0).size(), 1u);
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(6), 99).size(), 1u);
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(6), 199).size(), 1u);
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(6), 200).size(), 2u);
    EXPECT_EQ(log.entries(LogIndex(2), LogIndex(6), 350).size(), 3u);
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(6), 500).size(), 5u);
    EXPECT_EQ(log.entries(LogIndex(1), LogIndex(3), 10'000).size(), 2u);
    EXPECT_EQ(debug(log.entries(LogIndex(3), LogIndex(6), 250)), debug({all[2], all[3]}));
  });
}

TYPED_TEST(LogConformance, Section7_SaveSnapshotCompactsThePrefixAndKeepsTheSuffix) {
  std::vector<pb::Entry> all = make_entries(1, 4, 1);
  for (const pb::Entry& e : make_entries(4, 7, 2)) all.push_back(e);
  this->h_.append(make_hard_state(2, 1, 5), all);
  pb::SnapshotMeta meta = this->snapshot_meta(4, 2, make_conf({1, 2, 3}));
  this->h_.save_snapshot(meta, "state at 4");
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.first_index(), LogIndex(5));
    EXPECT_EQ(log.last_index(), LogIndex(6));
    EXPECT_EQ(log.snapshot_meta().index(), 4u);
    EXPECT_EQ(log.snapshot_meta().term(), 2u);
    EXPECT_EQ(log.snapshot_meta().data_bytes(), 10u);
    EXPECT_EQ(this->read_snapshot(1 << 20), "state at 4");
    this->expect_entries(LogIndex(5), LogIndex(7), {all[4], all[5]});
    EXPECT_EQ(log.hard_state().commit(), 5u);
  });
}

TYPED_TEST(LogConformance, TermLookupsAtTheSnapshotBoundary) {
  std::vector<pb::Entry> all = make_entries(1, 3, 1);
  for (const pb::Entry& e : make_entries(3, 6, 2)) all.push_back(e);
  this->h_.append(std::nullopt, all);
  this->h_.save_snapshot(this->snapshot_meta(3, 2, make_conf({1, 2, 3})), "s");
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.term(LogIndex(2)), std::nullopt);  // compacted away
    EXPECT_EQ(log.term(LogIndex(3)), Term(2));       // the snapshot's own term
    EXPECT_EQ(log.term(LogIndex(4)), Term(2));
    EXPECT_EQ(log.term(LogIndex(5)), Term(2));
    EXPECT_EQ(log.term(LogIndex(6)), std::nullopt);
  });
}

TYPED_TEST(LogConformance, SnapshotInsideARunOfOneTermKeepsTheTermsAfterIt) {
  std::vector<pb::Entry> all = make_entries(1, 5, 1);
  for (const pb::Entry& e : make_entries(5, 7, 3)) all.push_back(e);
  this->h_.append(std::nullopt, all);
  this->h_.save_snapshot(this->snapshot_meta(2, 1, make_conf({1, 2, 3})), "s");
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.term(LogIndex(2)), Term(1));
    EXPECT_EQ(log.term(LogIndex(3)), Term(1));
    EXPECT_EQ(log.term(LogIndex(4)), Term(1));
    EXPECT_EQ(log.term(LogIndex(5)), Term(3));
    EXPECT_EQ(log.term(LogIndex(6)), Term(3));
  });
}

TYPED_TEST(LogConformance, SaveSnapshotAtTheLastIndexLeavesAnEmptyLogThatAcceptsAppends) {
  this->h_.append(std::nullopt, make_entries(1, 4, 1));
  this->h_.save_snapshot(this->snapshot_meta(3, 1, make_conf({1, 2, 3})), "at 3");
  EXPECT_EQ(this->log().first_index(), LogIndex(4));
  EXPECT_EQ(this->log().last_index(), LogIndex(3));
  this->h_.append(std::nullopt, make_entries(4, 6, 2));
  this->check_durably([&] {
    EXPECT_EQ(this->log().first_index(), LogIndex(4));
    EXPECT_EQ(this->log().last_index(), LogIndex(5));
    EXPECT_EQ(this->log().term(LogIndex(3)), Term(1));
    EXPECT_EQ(this->log().term(LogIndex(4)), Term(2));
    this->expect_entries(LogIndex(4), LogIndex(6), make_entries(4, 6, 2));
  });
}

TYPED_TEST(LogConformance, ANewerSnapshotReplacesTheOlderOnesData) {
  this->h_.append(std::nullopt, make_entries(1, 10, 1));
  this->h_.save_snapshot(this->snapshot_meta(3, 1, make_conf({1, 2, 3})), "old");
  this->h_.save_snapshot(this->snapshot_meta(7, 1, make_conf({1, 2, 3})), "newer data");
  this->check_durably([&] {
    EXPECT_EQ(this->log().first_index(), LogIndex(8));
    EXPECT_EQ(this->log().snapshot_meta().data_bytes(), 10u);
    EXPECT_EQ(this->read_snapshot(4), "newer data");
  });
}

TYPED_TEST(LogConformance, ASnapshotRetakenAtTheSameIndexReplacesTheData) {
  this->h_.append(std::nullopt, make_entries(1, 5, 1));
  this->h_.save_snapshot(this->snapshot_meta(3, 1, make_conf({1, 2, 3})), "first");
  this->h_.save_snapshot(this->snapshot_meta(3, 1, make_conf({1, 2, 3})), "second take");
  this->check_durably([&] {
    EXPECT_EQ(this->log().first_index(), LogIndex(4));
    EXPECT_EQ(this->read_snapshot(100), "second take");
    this->expect_entries(LogIndex(4), LogIndex(5), {make_entry(4, 1)});
  });
}

TYPED_TEST(LogConformance, ASnapshotWithEmptyDataHasNoChunks) {
  this->h_.append(std::nullopt, make_entries(1, 3, 1));
  this->h_.save_snapshot(this->snapshot_meta(2, 1, make_conf({1, 2, 3})), "");
  this->check_durably([&] {
    EXPECT_EQ(this->log().snapshot_meta().index(), 2u);
    EXPECT_EQ(this->log().snapshot_meta().data_bytes(), 0u);
    EXPECT_EQ(this->log().snapshot_chunk(0, 100), "");
  });
}

TYPED_TEST(LogConformance, SnapshotChunksReassembleTheDataAtAnyOffset) {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  this->h_.append(std::nullopt, make_entries(1, 3, 1));
  this->h_.save_snapshot(this->snapshot_meta(2, 1, make_conf({1, 2, 3})), data);
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.snapshot_chunk(0, 300), data.substr(0, 300));
    EXPECT_EQ(log.snapshot_chunk(900, 300), data.substr(900));
    EXPECT_EQ(log.snapshot_chunk(999, 300), data.substr(999));
    EXPECT_EQ(log.snapshot_chunk(1000, 300), "");
    EXPECT_EQ(log.snapshot_chunk(5000, 300), "");
    EXPECT_EQ(this->read_snapshot(300), data);
    EXPECT_EQ(this->read_snapshot(1), data);
  });
}

TYPED_TEST(LogConformance, Section7_InstalledSnapshotReplacesTheWholeLogAndKeepsTheHardState) {
  this->h_.append(make_hard_state(3, 2, 2), make_entries(1, 6, 1));
  pb::Snapshot snap;
  *snap.mutable_meta() = this->snapshot_meta(10, 4, make_conf({1, 2}));
  snap.set_data("leader's state at 10");
  snap.mutable_meta()->set_data_bytes(snap.data().size());
  this->h_.install_snapshot(snap);
  this->check_durably([&] {
    const LogReader& log = this->log();
    EXPECT_EQ(log.first_index(), LogIndex(11));
    EXPECT_EQ(log.last_index(), LogIndex(10));
    EXPECT_EQ(log.term(LogIndex(10)), Term(4));
    EXPECT_EQ(log.term(LogIndex(5)), std::nullopt);
    EXPECT_EQ(log.conf_state().ShortDebugString(), make_conf({1, 2}).ShortDebugString());
    EXPECT_EQ(log.hard_state().ShortDebugString(), make_hard_state(3, 2, 2).ShortDebugString());
    EXPECT_EQ(this->read_snapshot(7), "leader's state at 10");
  });
  this->h_.append(make_hard_state(4, 2, 11), {make_entry(11, 4)});
  this->check_durably([&] {
    EXPECT_EQ(this->log().last_index(), LogIndex(11));
    this->expect_entries(LogIndex(11), LogIndex(12), {make_entry(11, 4)});
  });
}

TYPED_TEST(LogConformance, AnInstalledSnapshotDiscardsEntriesEvenPastItsIndex) {
  this->h_.append(std::nullopt, make_entries(1, 8, 1));
  pb::Snapshot snap;
  *snap.mutable_meta() = this->snapshot_meta(4, 2, make_conf({1, 2, 3}));
  snap.set_data("x");
  snap.mutable_meta()->set_data_bytes(1);
  this->h_.install_snapshot(snap);
  this->check_durably([&] {
    EXPECT_EQ(this->log().first_index(), LogIndex(5));
    EXPECT_EQ(this->log().last_index(), LogIndex(4));
    EXPECT_EQ(this->log().term(LogIndex(4)), Term(2));
    EXPECT_EQ(this->log().term(LogIndex(5)), std::nullopt);
  });
}

}  // namespace
}  // namespace castor::raft

// Snapshots: the stream format (chunks, checksum) and the state machine's snapshot/restore,
// which either replaces the whole state or, on a bad stream, leaves it untouched.
#include <gtest/gtest.h>

#include "kv/machine/snapshot_reader.h"
#include "kv/machine/snapshot_writer.h"
#include "raft/base/crc32c.h"
#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::KvHarness;
using testing::put_request;

// The stream cut into chunks as they came out of the writer.
std::vector<std::string> take_snapshot(StateMachine& sm, uint64_t chunk_bytes, SnapshotInfo* info = nullptr) {
  std::vector<std::string> chunks;
  auto taken = sm.snapshot(chunk_bytes, [&](std::string_view chunk) {
    chunks.emplace_back(chunk);
    return Status::ok();
  });
  EXPECT_TRUE(taken.is_ok()) << taken.status().to_string();
  if (info != nullptr && taken.is_ok()) *info = *taken;
  return chunks;
}

std::string joined(const std::vector<std::string>& chunks) {
  std::string all;
  for (const std::string& c : chunks) all += c;
  return all;
}

// A source serving `bytes` in chunks of `chunk_bytes`.
SnapshotReader::Source source_of(std::string bytes, size_t chunk_bytes) {
  auto data = std::make_shared<std::string>(std::move(bytes));
  auto offset = std::make_shared<size_t>(0);
  return [data, offset, chunk_bytes]() -> Result<std::string> {
    std::string chunk = data->substr(*offset, chunk_bytes);
    *offset += chunk.size();
    return chunk;
  };
}

// Everything a client can observe of a store, as one string.
std::string observe(KvHarness& h) {
  pb::RangeRequest all;
  all.set_prefix(true);
  return h.range(all).SerializeAsString() + "@" + std::to_string(h.sm().applied_index().value);
}

void fill(KvHarness& h) {
  h.put("a", "1");
  h.put("b", std::string(5000, 'x'));
  h.put("a", "2");
  h.del("b");
  h.put(std::string("\xff\x00", 2), "edge");
}

TEST(Crc32c, MatchesTheStandardCheckValueAndExtendsAcrossPieces) {
  EXPECT_EQ(crc32c_extend(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(crc32c_extend(0, "1234"), "56789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(0, ""), 0u);
}

TEST(SnapshotStream, RecordsRoundTripWhateverTheChunkSize) {
  for (uint64_t chunk_bytes : {1, 3, 7, 64, 1 << 20}) {
    std::vector<std::string> chunks;
    SnapshotWriter writer(chunk_bytes, [&](std::string_view c) {
      chunks.emplace_back(c);
      return Status::ok();
    });
    ASSERT_TRUE(writer.add(1, "key", "value").is_ok());
    ASSERT_TRUE(writer.add(2, std::string(1, '\0'), "").is_ok());
    ASSERT_TRUE(writer.add(255, std::string(300, 'k'), std::string(1000, 'v')).is_ok());
    ASSERT_TRUE(writer.finish().is_ok());
    for (size_t i = 0; i + 1 < chunks.size(); ++i) EXPECT_EQ(chunks[i].size(), chunk_bytes);
    EXPECT_EQ(writer.bytes_written(), joined(chunks).size());

    SnapshotReader reader(source_of(joined(chunks), 5), 1 << 20);
    std::vector<SnapshotRecord> records;
    for (;;) {
      auto r = reader.next();
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      if (!r->has_value()) break;
      records.push_back(**r);
    }
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].table, 1);
    EXPECT_EQ(records[0].key, "key");
    EXPECT_EQ(records[0].value, "value");
    EXPECT_EQ(records[1].key, std::string(1, '\0'));
    EXPECT_EQ(records[2].table, 255);
    EXPECT_EQ(records[2].value.size(), 1000u);
  }
}

TEST(SnapshotStream, SinkErrorStopsTheWriter) {
  SnapshotWriter writer(4, [](std::string_view) { return Status(Code::kInternal, "disk full"); });
  EXPECT_EQ(writer.add(1, "key", "value").code(), Code::kInternal);
}

TEST(SnapshotStream, RecordLongerThanTheReaderLimitIsCorruptionBeforeBuffering) {
  std::string stream;
  SnapshotWriter writer(1 << 20, [&](std::string_view c) {
    stream += c;
    return Status::ok();
  });
  ASSERT_TRUE(writer.add(1, "k", std::string(100, 'v')).is_ok());
  ASSERT_TRUE(writer.finish().is_ok());
  SnapshotReader reader(source_of(stream, 1 << 20), 50);
  EXPECT_EQ(reader.next().status().code(), Code::kCorruption);
}

TEST(Snapshot, RoundTripRestoresKeysSessionsAndTheAppliedIndex) {
  KvHarness source;
  fill(source);
  pb::WriteRequest w = source.stamp(put_request("c", "3"));
  pb::ClientResponse answered = source.send(w);
  SnapshotInfo info;
  std::vector<std::string> chunks = take_snapshot(source.sm(), 100, &info);
  EXPECT_EQ(info.index, source.sm().applied_index());
  EXPECT_EQ(info.term.value, 1u);
  EXPECT_EQ(info.bytes, joined(chunks).size());

  KvHarness target;
  target.put("only-in-target", "x");
  auto restored = target.sm().restore(source_of(joined(chunks), 100));
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  EXPECT_EQ(restored->index, info.index);
  EXPECT_EQ(observe(target), observe(source));
  EXPECT_FALSE(target.get("only-in-target").has_value());

  // The sessions came along: the source's client retrying on the target gets its answer.
  raft::pb::Entry retry = testing::entry(info.index.value + 1, {testing::write_command(target.now_ms(), w)});
  auto applied = target.sm().apply(std::span(&retry, 1));
  ASSERT_TRUE(applied.is_ok());
  ASSERT_EQ(applied->size(), 1u);
  EXPECT_EQ((*applied)[0].response.SerializeAsString(), answered.SerializeAsString());
  EXPECT_EQ(target.get("c")->version(), 1u);
}

TEST(Snapshot, RestoredStateSurvivesReopen) {
  KvHarness source;
  fill(source);
  std::string stream = joined(take_snapshot(source.sm(), 4096));
  KvHarness target;
  ASSERT_TRUE(target.sm().restore(source_of(stream, 4096)).is_ok());
  target.reopen();
  EXPECT_EQ(observe(target), observe(source));
}

TEST(Snapshot, OfAnEmptyStateRestoresToAnEmptyState) {
  testing::TempDir d1;
  StateMachineOptions options;
  options.data_dir = d1.path();
  auto empty = StateMachine::open(options);
  ASSERT_TRUE(empty.is_ok());
  std::string stream = joined(take_snapshot(**empty, 64));
  KvHarness target;
  target.put("k", "v");
  auto restored = target.sm().restore(source_of(stream, 64));
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  EXPECT_EQ(target.sm().applied_index().value, 0u);
  EXPECT_FALSE(target.get("k").has_value());
}

TEST(Snapshot, OlderSnapshotWinsAndRewindsTheAppliedIndex) {
  KvHarness h;
  h.put("k", "old");
  std::string stream = joined(take_snapshot(h.sm(), 4096));
  uint64_t snapshot_index = h.sm().applied_index().value;
  h.put("k", "new");
  ASSERT_TRUE(h.sm().restore(source_of(stream, 4096)).is_ok());
  EXPECT_EQ(h.sm().applied_index().value, snapshot_index);
  EXPECT_EQ(h.get("k")->value(), "old");
}

TEST(Snapshot, IsConsistentWhileApplyContinues) {
  KvHarness h;
  h.put("k", "before");
  std::string expected = observe(h);
  std::vector<std::string> chunks;
  bool wrote = false;
  auto taken = h.sm().snapshot(16, [&](std::string_view chunk) {
    if (!wrote) {
      wrote = true;
      h.put("k", "during");  // applies while the snapshot's read transaction is open
      h.put("k2", "during");
    }
    chunks.emplace_back(chunk);
    return Status::ok();
  });
  ASSERT_TRUE(taken.is_ok());
  KvHarness target;
  ASSERT_TRUE(target.sm().restore(source_of(joined(chunks), 16)).is_ok());
  EXPECT_EQ(observe(target), expected);
}

class CorruptSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fill(source);
    stream = joined(take_snapshot(source.sm(), 4096));
    target.put("mine", "intact");
    target_before = observe(target);
  }

  // Restoring `bad` fails with CORRUPTION and leaves the target as it was, still writable.
  void expect_rejected(const std::string& bad) {
    auto restored = target.sm().restore(source_of(bad, 13));
    EXPECT_EQ(restored.status().code(), Code::kCorruption) << restored.status().to_string();
    EXPECT_EQ(observe(target), target_before);
    EXPECT_EQ(target.put("after", "ok").code(), pb::OK);
    target_before = observe(target);
  }

  KvHarness source;
  KvHarness target;
  std::string stream;
  std::string target_before;
};

TEST_F(CorruptSnapshotTest, TruncatedStreamIsRejectedAndTheOldStateStays) {
  for (size_t cut : {size_t{0}, size_t{5}, stream.size() / 2, stream.size() - 13, stream.size() - 1}) {
    SCOPED_TRACE(cut);
    std::string bad = stream.substr(0, cut);
    auto restored = target.sm().restore(source_of(bad, 13));
    EXPECT_EQ(restored.status().code(), Code::kCorruption);
    EXPECT_EQ(observe(target), target_before);
  }
}

TEST_F(CorruptSnapshotTest, FlippedBitAnywhereIsRejected) {
  for (size_t at :
       {size_t{0}, size_t{9}, size_t{20}, stream.size() / 2, stream.size() - 10, stream.size() - 1}) {
    SCOPED_TRACE(at);
    std::string bad = stream;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    auto restored = target.sm().restore(source_of(bad, 13));
    EXPECT_EQ(restored.status().code(), Code::kCorruption);
    EXPECT_EQ(observe(target), target_before);
  }
}

TEST_F(CorruptSnapshotTest, BytesAfterTheEndAreRejected) { expect_rejected(stream + "x"); }

TEST_F(CorruptSnapshotTest, TwoSnapshotsBackToBackAreRejected) { expect_rejected(stream + stream); }

TEST_F(CorruptSnapshotTest, WellFormedStreamWithoutStateMachineRecordsIsRejected) {
  std::string other;
  SnapshotWriter writer(64, [&](std::string_view c) {
    other += c;
    return Status::ok();
  });
  ASSERT_TRUE(writer.add(2, "k", "too short to be a stored value").is_ok());
  ASSERT_TRUE(writer.finish().is_ok());
  expect_rejected(other);
  other.clear();
  SnapshotWriter no_meta(64, [&](std::string_view c) {
    other += c;
    return Status::ok();
  });
  ASSERT_TRUE(no_meta.finish().is_ok());
  expect_rejected(other);
}

TEST_F(CorruptSnapshotTest, SourceErrorIsReturnedAndTheOldStateStays) {
  int calls = 0;
  auto failing = [&]() -> Result<std::string> {
    if (++calls == 2) return Status(Code::kUnavailable, "peer went away");
    return stream.substr(0, 20);
  };
  EXPECT_EQ(target.sm().restore(failing).status().code(), Code::kUnavailable);
  EXPECT_EQ(observe(target), target_before);
}

}  // namespace
}  // namespace castor::kv

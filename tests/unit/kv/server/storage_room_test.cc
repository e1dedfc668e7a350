// StorageRoom (kv/server/storage_room.h): writes are refused once the log's map reaches 7/8 of
// its maximum (before the log itself fails a write), or while the disk is below its reserve.
#include "kv/server/storage_room.h"

#include <gtest/gtest.h>

#include "tests/unit/raft/storage/test_util.h"

namespace castor::kv {
namespace {

using castor::testing::TempDir;

std::unique_ptr<raft::LmdbLog> open_log(const TempDir& dir, uint64_t map_bytes_max) {
  raft::LmdbLog::Options options;
  options.data_dir = dir.path();
  options.map_bytes = map_bytes_max;
  options.map_bytes_max = map_bytes_max;
  options.bootstrap_conf = raft::testing::make_conf({1, 2, 3});
  options.create_if_missing = true;
  auto log = raft::LmdbLog::open(options);
  EXPECT_TRUE(log.is_ok()) << log.status().to_string();
  return log.is_ok() ? std::move(log).value() : nullptr;
}

TEST(StorageRoom, AFreshLogOnADiskWithRoomTakesWrites) {
  TempDir dir;
  auto log = open_log(dir, 64 << 20);
  ASSERT_NE(log, nullptr);
  StorageRoom room(*log, dir.path(), 1);
  room.refresh(std::chrono::steady_clock::now());
  EXPECT_FALSE(room.log_nearly_full());
  EXPECT_EQ(room.full_reason(), "");
  EXPECT_GT(room.log_file_bytes(), 0u);
}

TEST(StorageRoom, TheLogIsNearlyFullBeforeAWriteFails) {
  TempDir dir;
  const uint64_t max = 1 << 20;
  auto log = open_log(dir, max);
  ASSERT_NE(log, nullptr);
  StorageRoom room(*log, dir.path(), 0);
  uint64_t index = 1;
  while (!room.log_nearly_full()) {
    std::vector<raft::pb::Entry> entries{raft::testing::make_entry(index++, 1, std::string(16 << 10, 'x'))};
    ASSERT_TRUE(log->append(std::nullopt, entries).is_ok())
        << "the log failed a write at " << log->used_bytes() << " bytes before the room saw it nearly full";
  }
  EXPECT_GE(log->used_bytes(), max / 8 * 7);
  EXPECT_NE(room.full_reason().find("--log-map-bytes-max"), std::string::npos) << room.full_reason();
}

TEST(StorageRoom, ADiskBelowItsReserveRefusesWrites) {
  TempDir dir;
  auto log = open_log(dir, 64 << 20);
  ASSERT_NE(log, nullptr);
  StorageRoom room(*log, dir.path(), uint64_t{1} << 62);
  room.refresh(std::chrono::steady_clock::now());
  EXPECT_TRUE(room.disk().low());
  EXPECT_NE(room.full_reason().find("--disk-reserve-bytes"), std::string::npos) << room.full_reason();
}

}  // namespace
}  // namespace castor::kv

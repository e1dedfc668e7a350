// DiskSpace (kv/server/disk_space.h): a reserve larger than any disk is always short, a reserve of 0
// never is, and a failed measurement keeps the node as it was.
#include "kv/server/disk_space.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace castor::kv {
namespace {

const auto kNow = std::chrono::steady_clock::now();

TEST(DiskSpace, IsLowOnlyOnceMeasuredBelowTheReserve) {
  DiskSpace d(std::filesystem::temp_directory_path(), uint64_t{1} << 62);
  EXPECT_FALSE(d.low()) << "not measured yet";
  d.refresh(kNow);
  EXPECT_TRUE(d.low());
  EXPECT_NE(d.message().find("--disk-reserve-bytes"), std::string::npos) << d.message();
}

TEST(DiskSpace, AReserveOfZeroIsNeverShort) {
  DiskSpace d(std::filesystem::temp_directory_path(), 0);
  d.refresh(kNow);
  EXPECT_FALSE(d.low());
}

TEST(DiskSpace, ASmallReserveIsNotShortOnADiskWithRoom) {
  DiskSpace d(std::filesystem::temp_directory_path(), 1);
  d.refresh(kNow);
  EXPECT_FALSE(d.low());
}

TEST(DiskSpace, ADirectoryThatCannotBeMeasuredIsNotCalledFull) {
  DiskSpace d("/nonexistent/castor/disk-space-test", uint64_t{1} << 62);
  d.refresh(kNow);
  EXPECT_FALSE(d.low());
}

}  // namespace
}  // namespace castor::kv

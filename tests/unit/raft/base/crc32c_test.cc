// Every record LmdbLog stores is checked with CRC-32C (raft/base/crc32c.h); these known answers pin
// the function down, so that a log written by one build verifies under the next.
#include "raft/base/crc32c.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace castor {
namespace {

struct KnownAnswer {
  std::string data;
  uint32_t crc;
};

// The CRC catalogue's check value, and the iSCSI test vectors of RFC 3720 appendix B.4.
std::vector<KnownAnswer> known_answers() {
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  return {
      {"", 0x00000000u},
      {"123456789", 0xE3069283u},
      {std::string(32, '\0'), 0x8A9136AAu},
      {std::string(32, '\xff'), 0x62A8AB43u},
      {ascending, 0x46DD794Eu},
      {descending, 0x113FDB5Cu},
  };
}

TEST(Crc32c, MatchesTheCheckValueAndTheRfc3720Vectors) {
  for (const auto& [data, crc] : known_answers()) {
    EXPECT_EQ(crc32c_extend(0, data), crc) << data.size() << " bytes";
    EXPECT_EQ(crc32c_extend_portable(0, data), crc) << data.size() << " bytes";
  }
}

TEST(Crc32c, TheHardwarePathEqualsTheTableAtEveryLengthAndAlignment) {
  std::string bytes(300, '\0');
  uint32_t x = 12345;
  for (char& b : bytes) {
    x = x * 1103515245u + 12345u;
    b = static_cast<char>(x >> 16);
  }
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; offset + len <= bytes.size(); ++len) {
      const std::string_view piece(bytes.data() + offset, len);
      ASSERT_EQ(crc32c_extend(7, piece), crc32c_extend_portable(7, piece)) << offset << "+" << len;
    }
  }
}

TEST(Crc32c, ExtendingPieceByPieceEqualsOneShotAtEveryCut) {
  const std::string_view all = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    EXPECT_EQ(crc32c_extend(crc32c_extend(0, all.substr(0, cut)), all.substr(cut)), crc32c_extend(0, all))
        << cut;
  }
}

}  // namespace
}  // namespace castor

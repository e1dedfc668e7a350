#include "raft/base/base64.h"

#include <gtest/gtest.h>

namespace castor::net {
namespace {

TEST(Base64, Rfc4648Section10Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto back = base64_decode(encoded);
    ASSERT_TRUE(back.is_ok()) << encoded << ": " << back.status().to_string();
    EXPECT_EQ(*back, plain);
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    const std::string bytes = all.substr(0, len) + all.substr(0, len % 3);
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, RejectsMalformedInputNamingTheOffset) {
  struct Case {
    std::string text;
    size_t offset;
    std::string what;
  };
  const Case cases[] = {
      {"Zg=", 3, "multiple of 4"},
      {"Zg==Zm8=", 2, "padding before the end"},
      {"Z!==", 1, "expected a base64 character"},
      {"Zg\n=", 2, "expected a base64 character"},
      {"Zm9v-_==", 4, "expected a base64 character"},  // the URL-safe alphabet is not this one
      {"====", 0, "padding before the end"},
      {"Zh==", 1, "non-zero bits"},  // "Zg==" is the canonical spelling of "f"
      {"Zm9=", 2, "non-zero bits"},
  };
  for (const Case& c : cases) {
    auto r = base64_decode(c.text);
    ASSERT_FALSE(r.is_ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("at byte " + std::to_string(c.offset) + ":"), std::string::npos)
        << c.text << " -> " << r.status().message();
    EXPECT_NE(r.status().message().find(c.what), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace castor::net

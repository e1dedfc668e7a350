#include "net/endpoint.h"

#include <gtest/gtest.h>

namespace castor::net {
namespace {

TEST(Endpoint, ParsesHostPortAndBracketedIpv6) {
  auto a = parse_endpoint("127.0.0.1:2380");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2380);
  auto b = parse_endpoint("[::1]:7");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(parse_endpoint("localhost:1")->to_string(), "localhost:1");
}

TEST(Endpoint, RejectsWhatIsNotHostPortWithANamedError) {
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:12x", "[::1:80"}) {
    auto r = parse_endpoint(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace castor::net

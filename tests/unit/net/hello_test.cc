#include "net/hello.h"

#include <gtest/gtest.h>

#include "net/frame.h"

namespace castor::net {
namespace {

TEST(Hello, AcceptsAPeerOfTheSameClusterAndProtocol) {
  EXPECT_TRUE(check_hello(make_hello("c1", 2, pb::Hello::PEER, "n2"), "c1", pb::Hello::PEER).is_ok());
  EXPECT_TRUE(check_hello(make_hello("c1", 0, pb::Hello::CLIENT, ""), "c1", pb::Hello::CLIENT).is_ok());
}

TEST(Hello, CarriesTheHttpAddressWhenGivenOne) {
  EXPECT_EQ(make_hello("c1", 2, pb::Hello::PEER, "n2", "10.0.0.2:8080").http_address(), "10.0.0.2:8080");
  EXPECT_EQ(make_hello("c1", 2, pb::Hello::PEER, "n2").http_address(), "");
}

TEST(Hello, RefusesOtherClustersProtocolsRolesAndMagic) {
  EXPECT_FALSE(check_hello(make_hello("c2", 2, pb::Hello::PEER, ""), "c1", pb::Hello::PEER).is_ok());
  EXPECT_FALSE(check_hello(make_hello("c1", 0, pb::Hello::CLIENT, ""), "c1", pb::Hello::PEER).is_ok());
  EXPECT_FALSE(check_hello(make_hello("c1", 0, pb::Hello::PEER, ""), "c1", pb::Hello::PEER).is_ok());
  pb::Hello v = make_hello("c1", 2, pb::Hello::PEER, "");
  v.set_protocol_version(kProtocolVersion + 1);
  EXPECT_NE(check_hello(v, "c1", pb::Hello::PEER).message().find("protocol version"), std::string::npos);
  pb::Hello m = make_hello("c1", 2, pb::Hello::PEER, "");
  m.set_magic(1);
  EXPECT_NE(check_hello(m, "c1", pb::Hello::PEER).message().find("magic"), std::string::npos);
}

}  // namespace
}  // namespace castor::net

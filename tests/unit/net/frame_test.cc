#include "net/frame.h"

#include <gtest/gtest.h>

#include <random>

namespace castor::net {
namespace {

TEST(Frame, RoundTripsManyFramesFedOneByteAtATime) {
  std::string wire;
  for (int i = 0; i < 50; ++i) append_frame(wire, FrameKind::kRaft, std::string(static_cast<size_t>(i), 'x'));
  FrameReader r(1024);
  int got = 0;
  for (char c : wire) {
    r.feed(&c, 1);
    for (;;) {
      auto f = r.next();
      ASSERT_TRUE(f.is_ok()) << f.status().to_string();
      if (!f->has_value()) break;
      EXPECT_EQ((*f)->kind, FrameKind::kRaft);
      EXPECT_EQ((*f)->payload, std::string(static_cast<size_t>(got), 'x'));
      ++got;
    }
  }
  EXPECT_EQ(got, 50);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(Frame, OversizeLengthIsTooLargeBeforeThePayloadArrives) {
  FrameReader r(100);
  const char header[] = {0x00, 0x10, 0x00, 0x00};  // 1 MiB announced
  r.feed(header, sizeof header);
  auto f = r.next();
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), Code::kTooLarge);
  // The reader stays broken: the connection must close.
  EXPECT_FALSE(r.next().is_ok());
}

TEST(Frame, ZeroLengthAndUnknownKindAreInvalid) {
  FrameReader zero(100);
  const char z[] = {0, 0, 0, 0};
  zero.feed(z, 4);
  EXPECT_EQ(zero.next().status().code(), Code::kInvalidArgument);

  FrameReader unknown(100);
  const char u[] = {0, 0, 0, 2, 99, 'x'};
  unknown.feed(u, sizeof u);
  EXPECT_EQ(unknown.next().status().code(), Code::kInvalidArgument);
}

TEST(Frame, PingAndPongAreTheLastKnownKinds) {
  for (FrameKind k : {FrameKind::kPing, FrameKind::kPong}) {
    std::string wire;
    append_frame(wire, k, "n");
    FrameReader r(100);
    r.feed(wire.data(), wire.size());
    auto f = r.next();
    ASSERT_TRUE(f.is_ok() && f->has_value());
    EXPECT_EQ((*f)->kind, k);
  }
  FrameReader next(100);
  const char u[] = {0, 0, 0, 2, static_cast<char>(static_cast<uint8_t>(FrameKind::kPong) + 1), 'x'};
  next.feed(u, sizeof u);
  EXPECT_EQ(next.next().status().code(), Code::kInvalidArgument);
}

TEST(Frame, RandomGarbageEndsInAnErrorOrFramesNeverACrash) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    FrameReader r(4096);
    std::string junk(1 + rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    r.feed(junk.data(), junk.size());
    for (int k = 0; k < 300; ++k) {
      auto f = r.next();
      if (!f.is_ok() || !f->has_value()) break;
      EXPECT_LE((*f)->payload.size(), 4096u);
    }
  }
}

}  // namespace
}  // namespace castor::net

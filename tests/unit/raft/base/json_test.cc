#include "raft/base/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace castor::net {
namespace {

Json parse_ok(std::string_view text) {
  auto r = Json::parse(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : Json();
}

TEST(Json, RoundTripsEveryTypeCompactlyAndInOrder) {
  const std::string text =
      R"({"z":null,"t":true,"f":false,"i":-42,"u":18446744073709551615,"d":2.5,"s":"x\"y","a":[1,[],{}],"o":{"b":1,"a":2}})";
  Json j = parse_ok(text);
  EXPECT_EQ(j.dump(), text);
  EXPECT_EQ(Json::parse(j.dump()).value(), j);
  // Members keep the order they were written in, not sorted order.
  ASSERT_NE(j.find("o"), nullptr);
  EXPECT_EQ(j.find("o")->get_object()->front().first, "b");
  EXPECT_EQ(j.find("u")->type(), Json::Type::kUint64);
  EXPECT_EQ(j.find("i")->type(), Json::Type::kInt64);
  EXPECT_EQ(j.find("d")->type(), Json::Type::kDouble);
}

TEST(Json, AcceptsWhitespaceAroundTokens) {
  EXPECT_EQ(parse_ok(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n").dump(), R"({"a":[1,2]})");
}

TEST(Json, BuildsValuesWithSetAndPushBack) {
  Json j;
  j.set("key", "k").set("revision", uint64_t{7}).set("ok", true);
  j.set("key", "k2");  // replaces in place
  Json list;
  list.push_back(1).push_back("two").push_back(Json());
  j.set("list", std::move(list));
  EXPECT_EQ(j.dump(), R"({"key":"k2","revision":7,"ok":true,"list":[1,"two",null]})");
}

TEST(Json, NumbersKeepIntegerRangeAndDoublesRoundTrip) {
  EXPECT_EQ(parse_ok("9223372036854775807").get_int64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_ok("-9223372036854775808").get_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(parse_ok("18446744073709551615").get_uint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(parse_ok("18446744073709551615").get_int64().has_value());
  EXPECT_FALSE(parse_ok("-1").get_uint64().has_value());
  // Past uint64 an integer becomes a double rather than an error (RFC 8259 section 6).
  EXPECT_EQ(parse_ok("18446744073709551616").type(), Json::Type::kDouble);
  EXPECT_EQ(parse_ok("-9223372036854775809").type(), Json::Type::kDouble);
  EXPECT_EQ(parse_ok("2.0").get_uint64(), 2u);
  EXPECT_FALSE(parse_ok("2.5").get_int64().has_value());
  EXPECT_EQ(parse_ok("1E3").get_double(), 1000.0);
  EXPECT_EQ(parse_ok("-0.5e-1").get_double(), -0.05);
  EXPECT_FALSE(parse_ok("\"7\"").get_int64().has_value());

  EXPECT_EQ(Json(2.0).dump(), "2.0");  // stays a double when read back
  EXPECT_EQ(Json(0.1).dump(), "0.1");
  EXPECT_EQ(Json(0.0005).dump(), "0.0005");
  EXPECT_EQ(Json(123456789.5).dump(), "1.234567895e+08");  // %g switches at 10^6, as Go does
  EXPECT_EQ(Json(1e20).dump(), "1e+20");
  EXPECT_EQ(Json(-1.5e-7).dump(), "-1.5e-07");
  EXPECT_EQ(Json(std::nan("")).dump(), "null");
  EXPECT_EQ(Json(std::numeric_limits<double>::infinity()).dump(), "null");
  for (double d : {0.1, 1.0 / 3, 6.02214076e23, 5e-324, 1.7976931348623157e308}) {
    EXPECT_EQ(Json::parse(Json(d).dump())->get_double(), d);
  }
  EXPECT_EQ(Json(int64_t{-3}), Json(-3));
  EXPECT_EQ(Json(5), Json(uint64_t{5}));
  EXPECT_FALSE(Json(5) == Json(5.0));
}

TEST(Json, DecodesEscapesAndSurrogatePairs) {
  EXPECT_EQ(*parse_ok(R"("\"\\\/\b\f\n\r\t")").get_string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(*parse_ok(R"("\u0041\u00e9\u20AC")").get_string(), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(*parse_ok(R"("\uD83D\uDE00")").get_string(), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(*parse_ok(R"("\u0000")").get_string(), std::string(1, '\0'));
  EXPECT_EQ(*parse_ok("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"").get_string(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Json, EscapesControlCharactersAndReplacesInvalidUtf8WhenWriting) {
  EXPECT_EQ(Json(std::string("a\"b\\c\n\x01\x1f\x7f", 9)).dump(), "\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f\"");
  EXPECT_EQ(Json(std::string("\0", 1)).dump(), "\"\\u0000\"");
  EXPECT_EQ(Json("\xC3\xA9").dump(), "\"\xC3\xA9\"");
  // One U+FFFD per byte that is not part of a valid sequence; the output is always UTF-8.
  EXPECT_EQ(Json("a\xFF"
                 "b\xC3")
                .dump(),
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  EXPECT_TRUE(is_valid_utf8(Json("\xED\xA0\x80").dump()));

  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9 \xE2\x82\xAC \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

TEST(Json, EveryErrorNamesItsByteOffsetAndWhatWasExpected) {
  struct Case {
    std::string text;
    size_t offset;
    std::string what;
  };
  const Case cases[] = {
      {"", 0, "expected a value, found end of input"},
      {"   ", 3, "expected a value, found end of input"},
      {"[1,]", 3, "expected a value"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {"[1", 2, "expected ',' or ']'"},
      {R"({"a" 1})", 5, "expected ':'"},
      {R"({"a":1,})", 7, "expected a string key"},
      {"{a:1}", 1, "expected a string key"},
      {R"({"a":1 "b":2})", 7, "expected ',' or '}'"},
      {R"({"a":1,"a":2})", 7, "duplicate key"},
      {"01", 1, "no leading zero"},
      {"-", 1, "expected a digit"},
      {"-x", 1, "expected a digit"},
      {"+1", 0, "expected a value"},
      {".5", 0, "expected a value"},
      {"1.", 2, "after the decimal point"},
      {"1e", 2, "exponent"},
      {"1e+", 3, "exponent"},
      {"1e400", 0, "out of the range"},
      {"NaN", 0, "expected a value"},
      {"tru", 0, "expected a value"},
      {"nulls", 4, "expected end of input"},
      {"1 2", 2, "expected end of input"},
      {"{} x", 3, "expected end of input"},
      {"\xEF\xBB\xBF{}", 0, "expected a value"},  // a byte order mark is not JSON
      {R"("abc)", 0, "unterminated string"},
      {"\"a\x01\"", 2, "control character"},
      {"\"a\nb\"", 2, "control character"},
      {R"("\x")", 2, "after a backslash"},
      {R"("\)", 2, "found end of input"},
      {R"("\u12G4")", 5, "hex digit"},
      {R"("\u12")", 3, "four hex digits"},
      {R"("\uDC00")", 1, "low surrogate \\u escape without a high one"},
      {R"("\uD800")", 1, "high surrogate \\u escape without a low one"},
      {R"("\uD800\u0041")", 7, "expected a low surrogate"},
      {"\"\xFF\"", 1, "invalid UTF-8"},
      {"\"ab\xC0\xAF\"", 3, "invalid UTF-8"},
      {"\"\xED\xA0\x80\"", 1, "invalid UTF-8"},
      {"\"\xE2\x82\"", 1, "invalid UTF-8"},
  };
  for (const Case& c : cases) {
    auto r = Json::parse(c.text);
    ASSERT_FALSE(r.is_ok()) << "accepted: " << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.text;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("at byte " + std::to_string(c.offset) + ":"), std::string::npos)
        << c.text << " -> " << m;
    EXPECT_NE(m.find(c.what), std::string::npos) << c.text << " -> " << m;
  }
}

TEST(Json, NestingDeeperThanTheLimitIsRejected) {
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(Json::parse(nested(64)).is_ok());
  auto r = Json::parse(nested(65));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("at byte 64: nesting deeper than 64"), std::string::npos)
      << r.status().message();
  // A hostile body cannot exhaust the stack: depth a million fails fast at the limit.
  EXPECT_FALSE(Json::parse(std::string(1000000, '[')).is_ok());
  JsonLimits shallow;
  shallow.depth_max = 2;
  EXPECT_TRUE(Json::parse(R"({"a":[1]})", shallow).is_ok());
  EXPECT_FALSE(Json::parse(R"({"a":[[1]]})", shallow).is_ok());
}

TEST(Json, InputOverTheSizeLimitIsTooLarge) {
  JsonLimits small;
  small.input_bytes_max = 8;
  EXPECT_TRUE(Json::parse("[1,2,3]", small).is_ok());
  auto r = Json::parse("[1,2,3,4]", small);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  EXPECT_NE(r.status().message().find("over the limit of 8"), std::string::npos);
}

TEST(Json, ManyDuplicateCheckedMembersParseQuickly) {
  std::string text = "{";
  for (int i = 0; i < 50000; ++i)
    text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  text += "}";
  Json j = parse_ok(text);
  ASSERT_NE(j.get_object(), nullptr);
  EXPECT_EQ(j.get_object()->size(), 50000u);
  EXPECT_EQ(j.find("k49999")->get_int64(), 49999);
}

// Random bytes and random mutations of a valid document never crash the parser, and whatever
// it accepts serializes to text that parses back to the same value.
TEST(Json, FuzzedInputNeverCrashesAndAcceptedInputRoundTrips) {
  std::mt19937_64 rng(20240607);
  const std::string seed_doc =
      R"({"key":"a\u00e9\uD83D\uDE00","v":[1,-2,3.5e2,true,false,null,{"x":{}}],"n":18446744073709551615})";
  const std::string alphabet = "{}[]\":,-+.eE0123456789tfnrul\\ \n\x01\xC3\xA9\xFF\xED";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (i % 2 == 0) {
      text = seed_doc;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        const size_t pos = rng() % text.size();
        switch (rng() % 3) {
          case 0:
            text[pos] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            text.erase(pos, 1 + rng() % 3);
            break;
          default:
            text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
            break;
        }
      }
    } else {
      const size_t len = rng() % 40;
      for (size_t k = 0; k < len; ++k) {
        text += rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng());
      }
    }
    auto r = Json::parse(text);
    if (!r.is_ok()) {
      EXPECT_NE(r.status().message().find("at byte "), std::string::npos);
      continue;
    }
    ++accepted;
    const std::string out = r->dump();
    auto again = Json::parse(out);
    ASSERT_TRUE(again.is_ok()) << out;
    EXPECT_EQ(*again, *r) << text;
    EXPECT_TRUE(is_valid_utf8(out));
  }
  EXPECT_GT(accepted, 100);  // the mutations do reach the accepting paths
}

}  // namespace
}  // namespace castor::net

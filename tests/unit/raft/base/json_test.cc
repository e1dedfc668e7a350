// castor's JSON (raft/base/json.h): nlohmann's values under the limits a public port needs.
// What is ours is tested here: strictness as a value (never an exception), the byte offset of a
// syntax error, duplicate keys, depth and size bounds, integer reads, dumping bytes that are not
// UTF-8, and round trips under random input.
#include "raft/base/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace castor {
namespace {

Json parse_ok(std::string_view text) {
  auto r = parse_json(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : Json();
}

TEST(Json, RoundTripsEveryTypeCompactlyAndInOrder) {
  const std::string text =
      R"({"z":null,"t":true,"f":false,"i":-42,"u":18446744073709551615,"d":2.5,"s":"x\"y","a":[1,[],{}],"o":{"b":1,"a":2}})";
  Json j = parse_ok(text);
  EXPECT_EQ(dump_json(j), text);
  EXPECT_EQ(parse_json(dump_json(j)).value(), j);
  // Members keep the order they were written in, not sorted order.
  EXPECT_EQ(j.at("o").begin().key(), "b");
  EXPECT_TRUE(j.at("u").is_number_unsigned());
  EXPECT_TRUE(j.at("i").is_number_integer() && !j.at("i").is_number_unsigned());
  EXPECT_TRUE(j.at("d").is_number_float());
}

TEST(Json, AcceptsWhitespaceAroundTokens) {
  EXPECT_EQ(dump_json(parse_ok(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n")), R"({"a":[1,2]})");
}

TEST(Json, FindsMembersOnlyInObjects) {
  const Json j = parse_ok(R"({"a":1,"b":[2]})");
  ASSERT_NE(json_find(j, "a"), nullptr);
  EXPECT_EQ(*json_find(j, "a"), 1);
  EXPECT_EQ(json_find(j, "c"), nullptr);
  EXPECT_EQ(json_find(j.at("b"), "a"), nullptr) << "an array has no members";
  EXPECT_EQ(json_find(Json(), "a"), nullptr);
}

TEST(Json, IntegerReadsTakeExactValuesInRangeOnly) {
  EXPECT_EQ(json_int64(parse_ok("9223372036854775807")), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(json_int64(parse_ok("-9223372036854775808")), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(json_uint64(parse_ok("18446744073709551615")), std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(json_int64(parse_ok("18446744073709551615")).has_value());
  EXPECT_FALSE(json_uint64(parse_ok("-1")).has_value());
  // Past uint64 an integer becomes a double rather than an error (RFC 8259 section 6).
  EXPECT_TRUE(parse_ok("18446744073709551616").is_number_float());
  EXPECT_FALSE(json_uint64(parse_ok("18446744073709551616")).has_value());
  EXPECT_TRUE(parse_ok("-9223372036854775809").is_number_float());
  EXPECT_EQ(json_uint64(parse_ok("2.0")), 2u);
  EXPECT_EQ(json_int64(parse_ok("-2.0")), -2);
  EXPECT_FALSE(json_int64(parse_ok("2.5")).has_value());
  EXPECT_FALSE(json_uint64(parse_ok("1e300")).has_value());
  EXPECT_FALSE(json_int64(parse_ok("\"7\"")).has_value());
  EXPECT_FALSE(json_uint64(parse_ok("true")).has_value());
}

TEST(Json, DoublesRoundTripAndStayDoubles) {
  EXPECT_EQ(dump_json(Json(2.0)), "2.0");  // stays a double when read back
  EXPECT_EQ(dump_json(Json(0.1)), "0.1");
  EXPECT_EQ(dump_json(Json(std::nan(""))), "null");
  EXPECT_EQ(dump_json(Json(std::numeric_limits<double>::infinity())), "null");
  for (double d : {0.1, 1.0 / 3, 6.02214076e23, 5e-324, 1.7976931348623157e308, 123456789.5}) {
    EXPECT_EQ(parse_json(dump_json(Json(d)))->get<double>(), d);
  }
}

TEST(Json, DecodesEscapesAndSurrogatePairs) {
  EXPECT_EQ(parse_ok(R"("\"\\\/\b\f\n\r\t")"), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parse_ok(R"("\u0041\u00e9\u20AC")"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(parse_ok(R"("\uD83D\uDE00")"), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(parse_ok(R"("\u0000")"), std::string(1, '\0'));
  EXPECT_EQ(parse_ok("\"caf\xC3\xA9 \xF0\x9F\x98\x80\""), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Json, EscapesControlCharactersAndReplacesInvalidUtf8WhenWriting) {
  EXPECT_EQ(dump_json(Json(std::string("a\"b\\c\n\x01\x1f\x7f", 9))), "\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f\"");
  EXPECT_EQ(dump_json(Json(std::string("\0", 1))), "\"\\u0000\"");
  EXPECT_EQ(dump_json(Json("\xC3\xA9")), "\"\xC3\xA9\"");
  // Bytes that are not valid UTF-8 become U+FFFD; the output is always UTF-8, and never throws.
  EXPECT_EQ(dump_json(Json("a\xFF"
                           "b")),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_TRUE(is_valid_utf8(dump_json(Json("\xED\xA0\x80"))));
  EXPECT_TRUE(is_valid_utf8(dump_json(Json("x\xC3"))));

  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9 \xE2\x82\xAC \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

// Every malformed text is refused as a value: a syntax error names the byte offset (0-based)
// where the text stopped making sense and what was wrong there.
TEST(Json, EverySyntaxErrorNamesItsByteOffsetAndWhatWasWrong) {
  struct Case {
    std::string text;
    size_t offset;
    std::string what;
  };
  const Case cases[] = {
      {"", 0, "unexpected end of input"},
      {"   ", 3, "unexpected end of input"},
      {"[1,]", 3, "unexpected ']'"},
      {"[1 2]", 3, "expected ']'"},
      {"[1", 2, "unexpected end of input"},
      {R"({"a" 1})", 5, "expected ':'"},
      {R"({"a":1,})", 7, "expected string literal"},
      {"{a:1}", 1, "expected string literal"},
      {R"({"a":1 "b":2})", 9, "expected '}'"},
      {"01", 1, "expected end of input"},
      {"-", 1, "expected digit after '-'"},
      {"-x", 1, "expected digit after '-'"},
      {"+1", 0, "invalid literal"},
      {".5", 0, "invalid literal"},
      {"1.", 2, "expected digit after '.'"},
      {"1e", 2, "after exponent"},
      {"1e+", 3, "after exponent sign"},
      {"1e400", 4, "number overflow"},
      {"NaN", 0, "invalid literal"},
      {"tru", 3, "invalid literal"},
      {"nulls", 4, "expected end of input"},
      {"1 2", 2, "expected end of input"},
      {"{} x", 3, "expected end of input"},
      {"[1]//c", 3, "expected end of input"},  // no comments
      {"/*c*/1", 0, "invalid literal"},
      {R"("abc)", 4, "missing closing quote"},
      {"\"a\x01\"", 2, "control character U+0001"},
      {"\"a\nb\"", 2, "control character U+000A"},
      {R"("\x")", 2, "forbidden character after backslash"},
      {R"("\)", 2, "forbidden character after backslash"},
      {R"("\u12G4")", 5, "4 hex digits"},
      {R"("\u12")", 5, "4 hex digits"},
      {R"("\uDC00")", 6, "must follow U+D800..U+DBFF"},
      {R"("\uD800")", 7, "must be followed by U+DC00..U+DFFF"},
      {R"("\uD800\u0041")", 12, "must be followed by U+DC00..U+DFFF"},
      {"\"\xFF\"", 1, "ill-formed UTF-8"},
      {"\"ab\xC0\xAF\"", 3, "ill-formed UTF-8"},
      {"\"\xED\xA0\x80\"", 2, "ill-formed UTF-8"},
      {"\"\xE2\x82\"", 3, "ill-formed UTF-8"},
  };
  for (const Case& c : cases) {
    auto r = parse_json(c.text);
    ASSERT_FALSE(r.is_ok()) << "accepted: " << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.text;
    const std::string& m = r.status().message();
    EXPECT_EQ(m.rfind("at byte " + std::to_string(c.offset) + ": ", 0), 0u) << c.text << " -> " << m;
    EXPECT_NE(m.find(c.what), std::string::npos) << c.text << " -> " << m;
  }
}

TEST(Json, ADuplicateKeyIsRefusedAtAnyDepth) {
  for (const char* text :
       {R"({"a":1,"a":2})", R"({"x":{"cas":1,"b":2,"cas":3}})", R"([{"k":1},{"k":2,"k":3}])"}) {
    auto r = parse_json(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_NE(r.status().message().find("duplicate key"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(parse_json(R"([{"k":1},{"k":2}])").is_ok()) << "the same key in two objects is fine";
  EXPECT_TRUE(parse_json(R"({"a":{"a":{"a":1}}})").is_ok()) << "and at two depths";
}

TEST(Json, ALeadingByteOrderMarkIsIgnored) {
  // RFC 8259 section 8.1 lets a parser ignore a UTF-8 byte order mark; nlohmann does.
  EXPECT_EQ(dump_json(parse_ok("\xEF\xBB\xBF{}")), "{}");
}

TEST(Json, NestingDeeperThanTheLimitIsRejected) {
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(parse_json(nested(64)).is_ok());
  auto r = parse_json(nested(65));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "nesting deeper than 64 levels");
  // A hostile body cannot exhaust the stack or memory: depth a million fails fast at the limit.
  EXPECT_FALSE(parse_json(std::string(1000000, '[')).is_ok());
  JsonLimits shallow;
  shallow.depth_max = 2;
  EXPECT_TRUE(parse_json(R"({"a":[1]})", shallow).is_ok());
  EXPECT_FALSE(parse_json(R"({"a":[[1]]})", shallow).is_ok());
  EXPECT_FALSE(parse_json(R"({"a":{"b":{}}})", shallow).is_ok());
}

TEST(Json, InputOverTheSizeLimitIsTooLarge) {
  JsonLimits small;
  small.input_bytes_max = 8;
  EXPECT_TRUE(parse_json("[1,2,3]", small).is_ok());
  auto r = parse_json("[1,2,3,4]", small);
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
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 50000u);
  EXPECT_EQ(json_int64(j.at("k49999")), 49999);
  EXPECT_EQ(j.begin().key(), "k0") << "in the order written";
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
    auto r = parse_json(text);
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      const std::string& m = r.status().message();
      EXPECT_TRUE(m.rfind("at byte ", 0) == 0 || m.rfind("duplicate key", 0) == 0) << m;
      continue;
    }
    ++accepted;
    const std::string out = dump_json(*r);
    auto again = parse_json(out);
    ASSERT_TRUE(again.is_ok()) << out;
    EXPECT_EQ(*again, *r) << text;
    EXPECT_TRUE(is_valid_utf8(out));
  }
  EXPECT_GT(accepted, 100);  // the mutations do reach the accepting paths
}

}  // namespace
}  // namespace castor

#include "tools/json_writer.h"

#include <gtest/gtest.h>

namespace castor::tools {
namespace {

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("\n\r\t\b\f"), "\\n\\r\\t\\b\\f");
  EXPECT_EQ(json_escape(std::string("\0\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\\u007f");
  EXPECT_EQ(json_escape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 stays as it is
}

TEST(JsonWriter, BytesThatAreNotUtf8BecomeReplacementCharactersInText) {
  EXPECT_EQ(json_escape("a\xff"
                        "b"),
            "a\\ufffdb");
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\ufffd\\ufffd");             // overlong '/'
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
  EXPECT_EQ(json_escape("\xe2\x82"), "\\ufffd\\ufffd");             // truncated
}

TEST(JsonWriter, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("models/fraud/serving"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));   // U+1F600
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

TEST(JsonWriter, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\xfe", 3)), "/wD+");
}

TEST(JsonWriter, CompactNestedObjectsAndBinaryFields) {
  JsonWriter j;
  j.begin_object();
  j.key("header").begin_object().key("revision").number(42).key("leader").number(1).end_object();
  j.key("kvs").begin_array();
  j.begin_object().bytes_field("key", "k\"1").bytes_field("value", std::string("\x00\xff", 2)).end_object();
  j.begin_object().bytes_field("key", "k2").end_object();
  j.end_array();
  j.key("more").boolean(false);
  j.key("leader_name").string("n1");
  j.end_object();
  EXPECT_EQ(
      j.str(),
      R"({"header":{"revision":42,"leader":1},"kvs":[{"key":"k\"1","value_base64":"AP8="},{"key":"k2"}],)"
      R"("more":false,"leader_name":"n1"})");
}

}  // namespace
}  // namespace castor::tools

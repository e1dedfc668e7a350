#include "tools/json_writer.h"

#include <gtest/gtest.h>

namespace castor::tools {
namespace {

// Escaping, UTF-8 validation and base64 are castor::append_json_string, castor::is_valid_utf8 and
// castor::base64_encode, tested in tests/unit/raft/base; these check that the writer uses them.
TEST(JsonWriter, StringsAndKeysAreEscapedJsonStrings) {
  JsonWriter j;
  j.begin_object().key("a\"b").string("line\n\\end").end_object();
  EXPECT_EQ(j.str(), R"({"a\"b":"line\n\\end"})");
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

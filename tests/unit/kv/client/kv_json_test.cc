// Keys, values and headers as JSON (kv/client/kv_json.h): text stays text, other bytes travel
// as base64 and come back exactly; members in the order docs/HTTP.md shows them.
#include "kv/client/kv_json.h"

#include <gtest/gtest.h>

#include "raft/base/base64.h"

namespace castor::kv {
namespace {

pb::KeyValue kv(std::string key, std::string value) {
  pb::KeyValue k;
  k.set_key(std::move(key));
  k.set_value(std::move(value));
  k.set_create_revision(3);
  k.set_mod_revision(7);
  k.set_version(2);
  return k;
}

TEST(KvJson, TextKeysAndValuesAreStringsInDocumentedOrder) {
  EXPECT_EQ(dump_json(kv_json(kv("k\"1", "v\n"))),
            R"({"key":"k\"1","value":"v\n","create_revision":3,"mod_revision":7,"version":2})");
  EXPECT_EQ(dump_json(kv_json(kv("k", "v"), /*keys_only=*/true)),
            R"({"key":"k","create_revision":3,"mod_revision":7,"version":2})");
}

TEST(KvJson, BytesThatAreNotUtf8TravelAsBase64AndComeBackExactly) {
  const std::string binary("\x00\xff\xc3", 3);
  const Json j = kv_json(kv("k", binary));
  EXPECT_EQ(json_find(j, "value"), nullptr);
  ASSERT_NE(json_find(j, "value_base64"), nullptr);
  EXPECT_EQ(j.at("value_base64"), "AP/D");
  EXPECT_EQ(base64_decode(j.at("value_base64").get<std::string>()).value(), binary);
}

TEST(KvJson, EventsSayTheirTypeAndADeleteCarriesNoValue) {
  pb::Event put;
  put.set_type(pb::Event::PUT);
  *put.mutable_kv() = kv("k", "new");
  *put.mutable_prev_kv() = kv("k", "old");
  EXPECT_EQ(
      dump_json(event_json(put)),
      R"({"type":"PUT","kv":{"key":"k","value":"new","create_revision":3,"mod_revision":7,"version":2},)"
      R"("prev_kv":{"key":"k","value":"old","create_revision":3,"mod_revision":7,"version":2}})");
  pb::Event del;
  del.set_type(pb::Event::DELETE);
  *del.mutable_kv() = kv("k", "");
  EXPECT_EQ(dump_json(event_json(del)),
            R"({"type":"DELETE","kv":{"key":"k","create_revision":3,"mod_revision":7,"version":2}})");
}

TEST(KvJson, HeadersAndLists) {
  pb::ResponseHeader h;
  h.set_revision(42);
  h.set_term(5);
  h.set_leader(1);
  h.set_node(2);
  EXPECT_EQ(dump_json(header_json(h)), R"({"revision":42,"term":5,"leader":1,"node":2})");
  google::protobuf::RepeatedPtrField<pb::KeyValue> kvs;
  *kvs.Add() = kv("a", "1");
  *kvs.Add() = kv("b", "2");
  const Json list = kvs_json(kvs, true);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].at("key"), "b");
}

}  // namespace
}  // namespace castor::kv

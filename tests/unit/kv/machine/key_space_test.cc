// Get, Range, Put, Delete and DeleteRange through the state machine: revisions, versions,
// absent keys, range bounds, limits and flags.
#include <gtest/gtest.h>

#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::KvHarness;

pb::RangeRequest range_of(const std::string& key, const std::string& range_end) {
  pb::RangeRequest r;
  r.set_key(key);
  r.set_range_end(range_end);
  return r;
}

pb::RangeRequest prefix_of(const std::string& prefix) {
  pb::RangeRequest r;
  r.set_key(prefix);
  r.set_prefix(true);
  return r;
}

std::vector<std::string> keys_of(const pb::RangeResponse& r) {
  std::vector<std::string> keys;
  for (const pb::KeyValue& kv : r.kvs()) keys.push_back(kv.key());
  return keys;
}

TEST(Put, CreatesKeyWithVersionOneAndBothRevisionsAtTheNextStoreRevision) {
  KvHarness h;
  uint64_t revision = h.sm().revision() + 1;
  pb::ClientResponse r = h.put("a", "1");
  EXPECT_EQ(r.code(), pb::OK);
  EXPECT_EQ(r.header().revision(), revision);
  auto kv = h.get("a");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "1");
  EXPECT_EQ(kv->version(), 1u);
  EXPECT_EQ(kv->create_revision(), revision);
  EXPECT_EQ(kv->mod_revision(), revision);
}

TEST(Put, OverwriteBumpsVersionAndModRevisionButKeepsCreateRevision) {
  KvHarness h;
  uint64_t created = h.put("a", "1").header().revision();
  uint64_t modified = h.put("a", "2").header().revision();
  EXPECT_EQ(modified, created + 1);
  auto kv = h.get("a");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "2");
  EXPECT_EQ(kv->version(), 2u);
  EXPECT_EQ(kv->create_revision(), created);
  EXPECT_EQ(kv->mod_revision(), modified);
}

TEST(Put, PrevKvIsReturnedOnlyWhenAskedAndTheKeyExisted) {
  KvHarness h;
  EXPECT_FALSE(h.put("a", "1", true).write().put().has_prev_kv());
  EXPECT_FALSE(h.put("a", "2", false).write().put().has_prev_kv());
  pb::ClientResponse r = h.put("a", "3", true);
  ASSERT_TRUE(r.write().put().has_prev_kv());
  EXPECT_EQ(r.write().put().prev_kv().value(), "2");
  EXPECT_EQ(r.write().put().prev_kv().version(), 2u);
}

TEST(Put, EmptyValueIsStoredAndDiffersFromAbsent) {
  KvHarness h;
  h.put("a", "");
  auto kv = h.get("a");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "");
  EXPECT_EQ(kv->version(), 1u);
}

TEST(Put, ValueWithZeroAndHighBytesRoundTrips) {
  KvHarness h;
  const std::string value("\x00\xff\x01\x80", 4);
  h.put(std::string("k\x00\xff", 3), value);
  auto kv = h.get(std::string("k\x00\xff", 3));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), value);
}

TEST(Get, AbsentKeyHasNoKvAndOkCode) {
  KvHarness h;
  pb::GetRequest request;
  request.set_key("missing");
  auto r = h.sm().get(request);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->code(), pb::OK);
  EXPECT_FALSE(r->get().has_kv());
}

TEST(Get, HeaderRevisionIsTheStoreRevisionNotTheAppliedIndex) {
  KvHarness h;
  const uint64_t written = h.put("a", "1").header().revision();
  raft::pb::Entry noops[] = {testing::noop_entry(h.next_index()), testing::noop_entry(h.next_index() + 1)};
  ASSERT_TRUE(h.sm().apply(noops).is_ok());
  pb::GetRequest request;
  request.set_key("a");
  auto r = h.sm().get(request);
  ASSERT_TRUE(r.is_ok());
  // No-op entries advance the applied index but change no key, so take no revision.
  EXPECT_EQ(r->header().revision(), written);
  EXPECT_EQ(r->header().revision(), h.sm().revision());
  EXPECT_LT(r->header().revision(), h.sm().applied_index().value);
}

TEST(Delete, RemovesTheKeyAndReportsOneDeletedWithPrevKv) {
  KvHarness h;
  h.put("a", "1");
  pb::ClientResponse r = h.del("a", true);
  EXPECT_EQ(r.code(), pb::OK);
  EXPECT_EQ(r.write().delete_key().deleted(), 1u);
  EXPECT_EQ(r.write().delete_key().prev_kv().value(), "1");
  EXPECT_FALSE(h.get("a").has_value());
}

TEST(Delete, AbsentKeyDeletesZeroAndChangesNothing) {
  KvHarness h;
  h.put("b", "1");
  auto before = h.get("b");
  pb::ClientResponse r = h.del("a", true);
  EXPECT_EQ(r.code(), pb::OK);
  EXPECT_EQ(r.write().delete_key().deleted(), 0u);
  EXPECT_FALSE(r.write().delete_key().has_prev_kv());
  EXPECT_FALSE(h.get("a").has_value());
  EXPECT_EQ(h.get("b")->SerializeAsString(), before->SerializeAsString());
}

TEST(Delete, RecreatedKeyStartsOverAtVersionOneWithANewCreateRevision) {
  KvHarness h;
  h.put("a", "1");
  h.put("a", "2");
  h.del("a");
  uint64_t recreated = h.put("a", "3").header().revision();
  auto kv = h.get("a");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->version(), 1u);
  EXPECT_EQ(kv->create_revision(), recreated);
}

class RangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* key : {"a", "b", "b/1", "b/2", "c"}) h.put(key, std::string("v-") + key);
  }
  KvHarness h;
};

TEST_F(RangeTest, HalfOpenRangeIncludesStartAndExcludesEnd) {
  pb::RangeResponse r = h.range(range_of("b", "c"));
  EXPECT_EQ(keys_of(r), (std::vector<std::string>{"b", "b/1", "b/2"}));
  EXPECT_EQ(r.count(), 3u);
  EXPECT_FALSE(r.more());
}

TEST_F(RangeTest, EmptyRangeEndMeansNoUpperBound) {
  EXPECT_EQ(keys_of(h.range(range_of("b/2", ""))), (std::vector<std::string>{"b/2", "c"}));
  EXPECT_EQ(h.range(range_of("", "")).count(), 5u);
}

TEST_F(RangeTest, EmptyRangesReturnNothing) {
  for (auto [key, end] : {std::pair{"b", "b"}, {"c", "a"}, {"bb", "c"}, {"d", ""}}) {
    pb::RangeResponse r = h.range(range_of(key, end));
    EXPECT_EQ(r.kvs_size(), 0) << key << " " << end;
    EXPECT_EQ(r.count(), 0u);
    EXPECT_FALSE(r.more());
  }
}

TEST_F(RangeTest, PrefixSelectsOnlyKeysStartingWithIt) {
  EXPECT_EQ(keys_of(h.range(prefix_of("b/"))), (std::vector<std::string>{"b/1", "b/2"}));
  EXPECT_EQ(keys_of(h.range(prefix_of("b"))), (std::vector<std::string>{"b", "b/1", "b/2"}));
  EXPECT_EQ(h.range(prefix_of("z")).kvs_size(), 0);
}

TEST_F(RangeTest, EmptyPrefixSelectsEverything) { EXPECT_EQ(h.range(prefix_of("")).count(), 5u); }

TEST_F(RangeTest, LimitTruncatesSetsMoreAndCountsTheWholeRange) {
  pb::RangeRequest request = range_of("", "");
  request.set_limit(2);
  pb::RangeResponse r = h.range(request);
  EXPECT_EQ(keys_of(r), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 5u);
  request.set_limit(5);
  EXPECT_FALSE(h.range(request).more());
}

TEST_F(RangeTest, KeysOnlyOmitsValuesButKeepsMetadata) {
  pb::RangeRequest request = range_of("a", "b");
  request.set_keys_only(true);
  pb::RangeResponse r = h.range(request);
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).key(), "a");
  EXPECT_EQ(r.kvs(0).value(), "");
  EXPECT_EQ(r.kvs(0).version(), 1u);
  EXPECT_GT(r.kvs(0).mod_revision(), 0u);
}

TEST_F(RangeTest, CountOnlyReturnsTheCountWithoutKvs) {
  pb::RangeRequest request = prefix_of("b");
  request.set_count_only(true);
  pb::RangeResponse r = h.range(request);
  EXPECT_EQ(r.kvs_size(), 0);
  EXPECT_EQ(r.count(), 3u);
  EXPECT_FALSE(r.more());
}

TEST(Range, PrefixWith0xffBytesIncludesEveryExtension) {
  KvHarness h;
  const std::string ff("\xff", 1);
  for (const std::string& key :
       std::vector<std::string>{"a", "a" + ff, "a" + ff + ff, "a" + ff + "x", "b", ff, ff + ff, ff + "a"}) {
    h.put(key, "v");
  }
  // "a\xff" has no one-byte successor of the same length: its end is "b".
  EXPECT_EQ(keys_of(h.range(prefix_of("a" + ff))),
            (std::vector<std::string>{"a" + ff, "a" + ff + "x", "a" + ff + ff}));
  // An all-0xff prefix has no end at all.
  EXPECT_EQ(keys_of(h.range(prefix_of(ff))), (std::vector<std::string>{ff, ff + "a", ff + ff}));
  EXPECT_EQ(keys_of(h.range(prefix_of(ff + ff))), (std::vector<std::string>{ff + ff}));
}

TEST(Range, OnAnEmptyStoreReturnsNothing) {
  KvHarness h;
  pb::RangeResponse r = h.range(prefix_of(""));
  EXPECT_EQ(r.kvs_size(), 0);
  EXPECT_EQ(r.count(), 0u);
}

TEST(Range, ServerLimitCapsTheRequestedLimit) {
  StateMachineOptions options;
  options.limits.range_kvs_max = 3;
  KvHarness h(options);
  for (int i = 0; i < 5; ++i) h.put("k" + std::to_string(i), "v");
  pb::RangeRequest request = prefix_of("k");
  EXPECT_EQ(h.range(request).kvs_size(), 3);
  request.set_limit(100);
  pb::RangeResponse r = h.range(request);
  EXPECT_EQ(r.kvs_size(), 3);
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 5u);
}

TEST(Range, ResponseByteBudgetStopsAddingKvsButReturnsAtLeastOne) {
  StateMachineOptions options;
  options.limits.range_response_bytes_max = 250;
  KvHarness h(options);
  for (int i = 0; i < 4; ++i) h.put("k" + std::to_string(i), std::string(100, 'x'));
  pb::RangeResponse r = h.range(prefix_of("k"));
  EXPECT_EQ(r.kvs_size(), 2);  // 2 * 102 bytes fit in 250, a third does not
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 4u);
  h.put("big", std::string(1000, 'x'));
  EXPECT_EQ(h.range(prefix_of("big")).kvs_size(), 1);
  // Without values the same keys fit.
  pb::RangeRequest keys_only = prefix_of("k");
  keys_only.set_keys_only(true);
  EXPECT_EQ(h.range(keys_only).kvs_size(), 4);
}

TEST(DeleteRange, HalfOpenRangeDeletesStartButNotEnd) {
  KvHarness h;
  for (const char* key : {"a", "b", "c", "d"}) h.put(key, "v");
  pb::WriteRequest w;
  w.mutable_delete_range()->set_key("b");
  w.mutable_delete_range()->set_range_end("d");
  pb::ClientResponse r = h.write(w);
  EXPECT_EQ(r.write().delete_range().deleted(), 2u);
  EXPECT_EQ(keys_of(h.range(prefix_of(""))), (std::vector<std::string>{"a", "d"}));
}

TEST(DeleteRange, PrefixDeletesOnlyPrefixedKeys) {
  KvHarness h;
  const std::string ff("\xff", 1);
  for (const std::string& key : std::vector<std::string>{"a", "a" + ff, "a" + ff + ff, "b"}) h.put(key, "v");
  pb::WriteRequest w;
  w.mutable_delete_range()->set_key("a" + ff);
  w.mutable_delete_range()->set_prefix(true);
  EXPECT_EQ(h.write(w).write().delete_range().deleted(), 2u);
  EXPECT_EQ(keys_of(h.range(prefix_of(""))), (std::vector<std::string>{"a", "b"}));
}

TEST(DeleteRange, EmptyRangeDeletesNothing) {
  KvHarness h;
  h.put("a", "v");
  pb::WriteRequest w;
  w.mutable_delete_range()->set_key("b");
  w.mutable_delete_range()->set_range_end("z");
  pb::ClientResponse r = h.write(w);
  EXPECT_EQ(r.code(), pb::OK);
  EXPECT_EQ(r.write().delete_range().deleted(), 0u);
  EXPECT_TRUE(h.get("a").has_value());
}

TEST(DeleteRange, EmptyKeyWithoutEndDeletesEverything) {
  KvHarness h;
  for (const char* key : {"a", "b", "c"}) h.put(key, "v");
  pb::WriteRequest w;
  w.mutable_delete_range()->set_key("");
  EXPECT_EQ(h.write(w).write().delete_range().deleted(), 3u);
  EXPECT_EQ(h.range(prefix_of("")).count(), 0u);
}

}  // namespace
}  // namespace castor::kv

// Txn: every compare target with every operator, absent keys, branches, atomicity, and CAS.
#include <gtest/gtest.h>

#include "kv/client/request_builders.h"
#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::KvHarness;
using Op = pb::Compare::Op;

// A store holding "k" = "m" at version 2, created at revision `created`, modified at `modified`.
class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    created = h.put("k", "a").header().revision();
    modified = h.put("k", "m").header().revision();
  }

  // Whether `compare` holds, judged by a Txn with no ops.
  bool holds(const pb::Compare& compare) {
    pb::TxnRequest t;
    *t.add_compares() = compare;
    return h.txn(t).succeeded();
  }

  KvHarness h;
  uint64_t created = 0;
  uint64_t modified = 0;
};

TEST_F(CompareTest, CompareValueEqual) {
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::EQUAL, "m")));
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::EQUAL, "a")));
}

TEST_F(CompareTest, CompareValueNotEqual) {
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::NOT_EQUAL, "a")));
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::NOT_EQUAL, "m")));
}

TEST_F(CompareTest, CompareValueLessThanIsBytewise) {
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::LESS, "n")));
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::LESS, "m\x01")));  // a proper prefix is smaller
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::LESS, "\xff")));   // bytes are unsigned
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::LESS, "m")));
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::LESS, "")));
}

TEST_F(CompareTest, CompareValueGreaterThanIsBytewise) {
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::GREATER, "a")));
  EXPECT_TRUE(holds(compare_value("k", pb::Compare::GREATER, "")));
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::GREATER, "m")));
  EXPECT_FALSE(holds(compare_value("k", pb::Compare::GREATER, "\x80")));
}

TEST_F(CompareTest, CompareValueOnAnAbsentKeyIsFalseForEveryOperator) {
  for (Op op : {pb::Compare::EQUAL, pb::Compare::NOT_EQUAL, pb::Compare::LESS, pb::Compare::GREATER}) {
    EXPECT_FALSE(holds(compare_value("absent", op, ""))) << op;
    EXPECT_FALSE(holds(compare_value("absent", op, "x"))) << op;
  }
}

TEST_F(CompareTest, CompareVersionEqual) {
  EXPECT_TRUE(holds(compare_version("k", pb::Compare::EQUAL, 2)));
  EXPECT_FALSE(holds(compare_version("k", pb::Compare::EQUAL, 1)));
}

TEST_F(CompareTest, CompareVersionNotEqual) {
  EXPECT_TRUE(holds(compare_version("k", pb::Compare::NOT_EQUAL, 0)));
  EXPECT_FALSE(holds(compare_version("k", pb::Compare::NOT_EQUAL, 2)));
}

TEST_F(CompareTest, CompareVersionLessThan) {
  EXPECT_TRUE(holds(compare_version("k", pb::Compare::LESS, 3)));
  EXPECT_FALSE(holds(compare_version("k", pb::Compare::LESS, 2)));
}

TEST_F(CompareTest, CompareVersionGreaterThan) {
  EXPECT_TRUE(holds(compare_version("k", pb::Compare::GREATER, 1)));
  EXPECT_FALSE(holds(compare_version("k", pb::Compare::GREATER, 2)));
}

TEST_F(CompareTest, CompareVersionZeroMeansAbsent) {
  EXPECT_TRUE(holds(compare_version("absent", pb::Compare::EQUAL, 0)));
  EXPECT_FALSE(holds(compare_version("k", pb::Compare::EQUAL, 0)));
  EXPECT_FALSE(holds(compare_version("absent", pb::Compare::GREATER, 0)));
  EXPECT_TRUE(holds(compare_version("absent", pb::Compare::LESS, 1)));
}

TEST_F(CompareTest, CompareCreateRevisionEqual) {
  EXPECT_TRUE(holds(compare_create_revision("k", pb::Compare::EQUAL, created)));
  EXPECT_FALSE(holds(compare_create_revision("k", pb::Compare::EQUAL, modified)));
}

TEST_F(CompareTest, CompareCreateRevisionNotEqual) {
  EXPECT_TRUE(holds(compare_create_revision("k", pb::Compare::NOT_EQUAL, modified)));
  EXPECT_FALSE(holds(compare_create_revision("k", pb::Compare::NOT_EQUAL, created)));
}

TEST_F(CompareTest, CompareCreateRevisionLessThan) {
  EXPECT_TRUE(holds(compare_create_revision("k", pb::Compare::LESS, created + 1)));
  EXPECT_FALSE(holds(compare_create_revision("k", pb::Compare::LESS, created)));
}

TEST_F(CompareTest, CompareCreateRevisionGreaterThan) {
  EXPECT_TRUE(holds(compare_create_revision("k", pb::Compare::GREATER, created - 1)));
  EXPECT_FALSE(holds(compare_create_revision("k", pb::Compare::GREATER, created)));
}

TEST_F(CompareTest, CompareCreateRevisionZeroMeansAbsent) {
  EXPECT_TRUE(holds(compare_create_revision("absent", pb::Compare::EQUAL, 0)));
  EXPECT_FALSE(holds(compare_create_revision("k", pb::Compare::EQUAL, 0)));
}

TEST_F(CompareTest, CompareModRevisionEqual) {
  EXPECT_TRUE(holds(compare_mod_revision("k", pb::Compare::EQUAL, modified)));
  EXPECT_FALSE(holds(compare_mod_revision("k", pb::Compare::EQUAL, created)));
}

TEST_F(CompareTest, CompareModRevisionNotEqual) {
  EXPECT_TRUE(holds(compare_mod_revision("k", pb::Compare::NOT_EQUAL, created)));
  EXPECT_FALSE(holds(compare_mod_revision("k", pb::Compare::NOT_EQUAL, modified)));
}

TEST_F(CompareTest, CompareModRevisionLessThan) {
  EXPECT_TRUE(holds(compare_mod_revision("k", pb::Compare::LESS, modified + 1)));
  EXPECT_FALSE(holds(compare_mod_revision("k", pb::Compare::LESS, modified)));
}

TEST_F(CompareTest, CompareModRevisionGreaterThan) {
  EXPECT_TRUE(holds(compare_mod_revision("k", pb::Compare::GREATER, modified - 1)));
  EXPECT_FALSE(holds(compare_mod_revision("k", pb::Compare::GREATER, modified)));
}

TEST_F(CompareTest, CompareModRevisionZeroMeansAbsent) {
  EXPECT_TRUE(holds(compare_mod_revision("absent", pb::Compare::EQUAL, 0)));
  EXPECT_TRUE(holds(compare_mod_revision("absent", pb::Compare::LESS, 1)));
}

TEST_F(CompareTest, EveryCompareMustHold) {
  pb::TxnRequest t;
  *t.add_compares() = compare_version("k", pb::Compare::EQUAL, 2);
  *t.add_compares() = compare_value("k", pb::Compare::EQUAL, "wrong");
  EXPECT_FALSE(h.txn(t).succeeded());
  t.mutable_compares(1)->set_value("m");
  EXPECT_TRUE(h.txn(t).succeeded());
}

TEST(Txn, FailedComparesWithEmptyFailureBranchChangeNothing) {
  KvHarness h;
  h.put("k", "v");
  auto before = h.get("k");
  pb::TxnRequest t;
  *t.add_compares() = compare_value("k", pb::Compare::EQUAL, "other");
  pb::PutRequest* put = t.add_success()->mutable_put();
  put->set_key("k");
  put->set_value("new");
  t.add_success()->mutable_put()->set_key("created");
  pb::TxnResponse r = h.txn(t);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.responses_size(), 0);
  EXPECT_EQ(h.get("k")->SerializeAsString(), before->SerializeAsString());
  EXPECT_FALSE(h.get("created").has_value());
}

TEST(Txn, FailureBranchRunsWhenACompareFails) {
  KvHarness h;
  pb::TxnRequest t;
  *t.add_compares() = compare_version("k", pb::Compare::GREATER, 0);
  t.add_success()->mutable_put()->set_key("success");
  pb::PutRequest* put = t.add_failure()->mutable_put();
  put->set_key("failure");
  put->set_value("ran");
  pb::TxnResponse r = h.txn(t);
  EXPECT_FALSE(r.succeeded());
  ASSERT_EQ(r.responses_size(), 1);
  EXPECT_TRUE(r.responses(0).has_put());
  EXPECT_FALSE(h.get("success").has_value());
  EXPECT_EQ(h.get("failure")->value(), "ran");
}

TEST(Txn, NoComparesRunsTheSuccessBranch) {
  KvHarness h;
  pb::TxnRequest t;
  t.add_success()->mutable_put()->set_key("a");
  EXPECT_TRUE(h.txn(t).succeeded());
  EXPECT_TRUE(h.get("a").has_value());
}

TEST(Txn, LaterOpsSeeEarlierOpsAndAllWritesShareOneRevision) {
  KvHarness h;
  h.put("gone", "v");
  h.put("old", "1");
  const uint64_t revision = h.sm().revision() + 1;
  pb::TxnRequest t;
  pb::PutRequest* put = t.add_success()->mutable_put();
  put->set_key("a");
  put->set_value("1");
  t.add_success()->mutable_get()->set_key("a");
  t.add_success()->mutable_delete_key()->set_key("gone");
  t.add_success()->mutable_range()->set_prefix(true);
  pb::PutRequest* again = t.add_success()->mutable_put();
  again->set_key("old");
  again->set_value("2");
  pb::TxnResponse r = h.txn(t);
  ASSERT_TRUE(r.succeeded());
  ASSERT_EQ(r.responses_size(), 5);
  EXPECT_EQ(r.responses(1).get().kv().value(), "1");
  EXPECT_EQ(r.responses(2).delete_key().deleted(), 1u);
  EXPECT_EQ(r.responses(3).range().count(), 2u);  // "a" and "old": "gone" is gone
  EXPECT_EQ(h.get("a")->mod_revision(), revision);
  EXPECT_EQ(h.get("old")->mod_revision(), revision);
  EXPECT_EQ(h.sm().revision(), revision);
  EXPECT_EQ(h.get("old")->version(), 2u);
}

TEST(Txn, DeleteRangeInsideATxn) {
  KvHarness h;
  h.put("p/1", "v");
  h.put("p/2", "v");
  pb::TxnRequest t;
  t.add_success()->mutable_delete_range()->set_key("p/");
  t.mutable_success(0)->mutable_delete_range()->set_prefix(true);
  pb::TxnResponse r = h.txn(t);
  EXPECT_EQ(r.responses(0).delete_range().deleted(), 2u);
  EXPECT_FALSE(h.get("p/1").has_value());
}

TEST(Cas, SwapsWhenModRevisionIsUnchanged) {
  KvHarness h;
  h.put("leader", "n1");
  uint64_t seen = h.get("leader")->mod_revision();
  pb::TxnResponse r = h.txn(cas(compare_mod_revision("leader", pb::Compare::EQUAL, seen), "leader", "n2"));
  EXPECT_TRUE(r.succeeded());
  EXPECT_EQ(h.get("leader")->value(), "n2");
}

TEST(Cas, FailsWhenSomeoneWroteInBetweenAndReturnsTheCurrentValue) {
  KvHarness h;
  h.put("leader", "n1");
  uint64_t seen = h.get("leader")->mod_revision();
  h.put("leader", "n3");
  pb::TxnResponse r = h.txn(cas(compare_mod_revision("leader", pb::Compare::EQUAL, seen), "leader", "n2"));
  EXPECT_FALSE(r.succeeded());
  ASSERT_EQ(r.responses_size(), 1);
  EXPECT_EQ(r.responses(0).get().kv().value(), "n3");
  EXPECT_EQ(h.get("leader")->value(), "n3");
}

TEST(Cas, CreateOnlyIfAbsentWithVersionZero) {
  KvHarness h;
  pb::TxnRequest create = cas(compare_version("lock", pb::Compare::EQUAL, 0), "lock", "me");
  EXPECT_TRUE(h.txn(create).succeeded());
  pb::TxnRequest again = cas(compare_version("lock", pb::Compare::EQUAL, 0), "lock", "you");
  pb::TxnResponse r = h.txn(again);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.responses(0).get().kv().value(), "me");
}

}  // namespace
}  // namespace castor::kv

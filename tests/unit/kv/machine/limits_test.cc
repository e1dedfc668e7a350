// Limits: every bound is checked before proposing (validate), with a named error; apply checks
// only the request's shape and LMDB's key bound, never a node's size flags, so replicas with
// other flags apply an entry alike. A refused write changes nothing and its answer is kept.
#include "kv/machine/limits.h"

#include <gtest/gtest.h>

#include "kv/client/request_builders.h"
#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::KvHarness;
using testing::put_request;

pb::WriteRequest stamped(pb::WriteRequest w) {
  w.set_client_id(1);
  w.set_seq(1);
  w.set_lowest_outstanding_seq(1);
  return w;
}

Code code_of(const pb::WriteRequest& w, const Limits& limits = {}) { return validate(w, limits).code(); }

TEST(Limits, KeyAtTheLimitIsAcceptedAndStored) {
  Limits limits;
  std::string key(limits.key_bytes_max, 'k');
  EXPECT_EQ(code_of(stamped(put_request(key, "v"))), Code::kOk);
  KvHarness h;
  EXPECT_EQ(h.put(key, "v").code(), pb::OK);
  EXPECT_TRUE(h.get(key).has_value());
}

TEST(Limits, KeyOverTheLimitIsTooLargeBeforeProposingAndOnApply) {
  std::string key(Limits{}.key_bytes_max + 1, 'k');
  EXPECT_EQ(code_of(stamped(put_request(key, "v"))), Code::kTooLarge);
  KvHarness h;
  pb::ClientResponse r = h.put(key, "v");
  EXPECT_EQ(r.code(), pb::TOO_LARGE);
  EXPECT_FALSE(r.has_write());
  pb::GetRequest get;
  get.set_key(key);
  EXPECT_EQ(h.sm().get(get).status().code(), Code::kTooLarge);
}

TEST(Limits, EmptyKeyIsInvalid) {
  EXPECT_EQ(code_of(stamped(put_request("", "v"))), Code::kInvalidArgument);
  EXPECT_EQ(code_of(stamped(testing::delete_request(""))), Code::kInvalidArgument);
  KvHarness h;
  EXPECT_EQ(h.put("", "v").code(), pb::INVALID_ARGUMENT);
  pb::GetRequest get;
  EXPECT_EQ(h.sm().get(get).status().code(), Code::kInvalidArgument);
}

TEST(Limits, ValueOverTheLimitIsTooLarge) {
  Limits limits;
  limits.value_bytes_max = 10;
  EXPECT_EQ(code_of(stamped(put_request("k", std::string(10, 'v'))), limits), Code::kOk);
  EXPECT_EQ(code_of(stamped(put_request("k", std::string(11, 'v'))), limits), Code::kTooLarge);
  // A replica whose flag is lower applies what the proposer accepted (kApplyLimits).
  StateMachineOptions options;
  options.limits = limits;
  KvHarness h(options);
  EXPECT_EQ(h.put("k", std::string(11, 'v')).code(), pb::OK);
  EXPECT_EQ(h.get("k")->value().size(), 11u);
}

TEST(Limits, DefaultValueLimitIsOneMebibyteAndFitsTheRequestLimit) {
  EXPECT_EQ(code_of(stamped(put_request("k", std::string(1 << 20, 'v')))), Code::kOk);
  EXPECT_EQ(code_of(stamped(put_request("k", std::string((1 << 20) + 1, 'v')))), Code::kTooLarge);
  KvHarness h;
  EXPECT_EQ(h.put("k", std::string(1 << 20, 'v')).code(), pb::OK);
  EXPECT_EQ(h.get("k")->value().size(), size_t{1} << 20);
}

TEST(Limits, TxnWithTooManyOpsIsTooLargeCountingComparesAndBothBranches) {
  Limits limits;
  limits.txn_ops_max = 4;
  pb::TxnRequest t;
  *t.add_compares() = compare_version("a", pb::Compare::EQUAL, 0);
  *t.add_compares() = compare_version("b", pb::Compare::EQUAL, 0);
  t.add_success()->mutable_put()->set_key("a");
  t.add_failure()->mutable_get()->set_key("a");
  EXPECT_EQ(code_of(stamped(testing::txn_request(t)), limits), Code::kOk);
  t.add_failure()->mutable_get()->set_key("b");
  EXPECT_EQ(code_of(stamped(testing::txn_request(t)), limits), Code::kTooLarge);
  StateMachineOptions options;
  options.limits = limits;
  KvHarness h(options);
  EXPECT_EQ(h.write(testing::txn_request(t)).code(), pb::OK);
}

TEST(Limits, RequestOverTheByteLimitIsTooLarge) {
  Limits limits;
  limits.request_bytes_max = 100;
  EXPECT_EQ(code_of(stamped(put_request("k", std::string(50, 'v'))), limits), Code::kOk);
  EXPECT_EQ(code_of(stamped(put_request("k", std::string(100, 'v'))), limits), Code::kTooLarge);
  pb::ClientRequest request;
  *request.mutable_write() = stamped(put_request("k", std::string(100, 'v')));
  EXPECT_EQ(validate(request, limits).code(), Code::kTooLarge);
  StateMachineOptions options;
  options.limits = limits;
  KvHarness h(options);
  EXPECT_EQ(h.put("k", std::string(100, 'v')).code(), pb::OK);
}

TEST(Limits, TxnOpsAndComparesAreCheckedOneByOne) {
  Limits limits;
  pb::TxnRequest t;
  t.add_success()->mutable_put()->set_key(std::string(limits.key_bytes_max + 1, 'k'));
  EXPECT_EQ(code_of(stamped(testing::txn_request(t))), Code::kTooLarge);
  t.Clear();
  t.add_failure();  // an op with no request
  EXPECT_EQ(code_of(stamped(testing::txn_request(t))), Code::kInvalidArgument);
  t.Clear();
  t.add_compares()->set_key("k");  // no operand
  EXPECT_EQ(code_of(stamped(testing::txn_request(t))), Code::kInvalidArgument);
  t.Clear();
  *t.add_compares() = compare_version("k", static_cast<pb::Compare::Op>(9), 0);
  EXPECT_EQ(code_of(stamped(testing::txn_request(t))), Code::kInvalidArgument);
  t.Clear();
  *t.add_compares() = compare_value("k", pb::Compare::EQUAL, std::string(limits.value_bytes_max + 1, 'v'));
  EXPECT_EQ(code_of(stamped(testing::txn_request(t))), Code::kTooLarge);
}

TEST(Limits, MalformedSessionFieldsAndMissingOpsAreInvalid) {
  pb::WriteRequest w = stamped(put_request("k", "v"));
  w.set_client_id(0);  // a write without a session (kv.proto): valid, it still needs its seq tag
  EXPECT_EQ(code_of(w), Code::kOk);
  w.set_seq(0);
  EXPECT_EQ(code_of(w), Code::kInvalidArgument);
  w = stamped(put_request("k", "v"));
  w.set_seq(0);
  w.set_lowest_outstanding_seq(0);
  EXPECT_EQ(code_of(w), Code::kInvalidArgument);
  w = stamped(put_request("k", "v"));
  w.set_lowest_outstanding_seq(2);
  EXPECT_EQ(code_of(w), Code::kInvalidArgument);
  EXPECT_EQ(code_of(stamped(pb::WriteRequest{})), Code::kInvalidArgument);
  EXPECT_EQ(validate(pb::ClientRequest{}, Limits{}).code(), Code::kInvalidArgument);
}

TEST(Limits, RangeBoundsAreCheckedAndPrefixExcludesRangeEnd) {
  Limits limits;
  pb::RangeRequest r;
  EXPECT_EQ(validate(r, limits).code(), Code::kOk);  // empty start key: from the first key
  r.set_prefix(true);
  r.set_range_end("z");
  EXPECT_EQ(validate(r, limits).code(), Code::kInvalidArgument);
  r.Clear();
  r.set_range_end(std::string(limits.key_bytes_max + 1, 'z'));
  EXPECT_EQ(validate(r, limits).code(), Code::kTooLarge);
  KvHarness h;
  pb::WriteRequest w;
  w.mutable_delete_range()->set_key("a");
  w.mutable_delete_range()->set_range_end("b");
  w.mutable_delete_range()->set_prefix(true);
  EXPECT_EQ(h.write(w).code(), pb::INVALID_ARGUMENT);
}

TEST(Limits, AWatchOfAnEmptyRangeIsInvalidAndEveryOtherRangeIsAccepted) {
  Limits limits;
  pb::ClientRequest req;
  pb::WatchRequest* w = req.mutable_watch();
  w->set_key("b");
  EXPECT_EQ(validate(req, limits).code(), Code::kOk);  // one key
  w->set_range_end("c");
  EXPECT_EQ(validate(req, limits).code(), Code::kOk);
  w->set_range_end("b");
  EXPECT_EQ(validate(req, limits).code(), Code::kInvalidArgument) << "[b, b) holds no key";
  w->set_range_end("a");
  EXPECT_EQ(validate(req, limits).code(), Code::kInvalidArgument) << "[b, a) holds no key";
  w->set_key("");
  w->set_range_end("");
  w->set_prefix(true);
  EXPECT_EQ(validate(req, limits).code(), Code::kOk);  // every key
}

TEST(Limits, RefusedWriteGetsTheSameAnswerOnRetryAndLeavesTheSessionAlone) {
  KvHarness h;
  pb::WriteRequest w = h.stamp(put_request("", "v"));
  pb::ClientResponse first = h.send(w);
  EXPECT_EQ(first.code(), pb::INVALID_ARGUMENT);
  EXPECT_EQ(h.send(w).code(), first.code());
  // A malformed lowest_outstanding_seq (above seq) must not make the session forget answers.
  pb::WriteRequest good = h.stamp(put_request("k", "v"));
  pb::ClientResponse answered = h.send(good);
  pb::WriteRequest bad = put_request("other", "v");
  bad.set_client_id(h.client_id());
  bad.set_seq(good.seq() + 1);
  bad.set_lowest_outstanding_seq(good.seq() + 5);
  EXPECT_EQ(h.send(bad).code(), pb::INVALID_ARGUMENT);
  EXPECT_EQ(h.send(good).SerializeAsString(), answered.SerializeAsString());
}

TEST(Limits, KeyLimitAboveWhatLmdbStoresIsRefusedAtOpen) {
  testing::TempDir dir;
  StateMachineOptions options;
  options.data_dir = dir.path();
  options.limits.key_bytes_max = 4096;
  auto opened = StateMachine::open(options);
  EXPECT_EQ(opened.status().code(), Code::kInvalidArgument);
}

pb::RequestOp range_op(const std::string& prefix, uint64_t limit = 0) {
  pb::RequestOp op;
  op.mutable_range()->set_key(prefix);
  op.mutable_range()->set_prefix(true);
  op.mutable_range()->set_limit(limit);
  return op;
}

pb::RequestOp get_op(const std::string& key) {
  pb::RequestOp op;
  op.mutable_get()->set_key(key);
  return op;
}

// 128 Range ops over keys holding 1 MiB values once built a 384 MiB answer and stalled the
// leader; a Txn whose reads could outgrow a frame is refused before it is proposed.
TEST(Limits, ATxnWhoseReadsCouldAnswerMoreThanAFrameIsTooLarge) {
  pb::TxnRequest many_ranges;
  for (int i = 0; i < 128; ++i) *many_ranges.add_success() = range_op("k");
  const Status s = validate(stamped(testing::txn_request(many_ranges)), Limits{});
  EXPECT_EQ(s.code(), Code::kTooLarge);
  EXPECT_NE(s.message().find("the txn's reads could answer"), std::string::npos) << s.to_string();

  pb::TxnRequest range_and_prev;  // a range and a put asking for the value it replaces
  *range_and_prev.add_success() = range_op("k");
  range_and_prev.add_success()->mutable_put()->set_key("k");
  range_and_prev.mutable_success(1)->mutable_put()->set_prev_kv(true);
  EXPECT_EQ(code_of(stamped(testing::txn_request(range_and_prev))), Code::kTooLarge);

  pb::TxnRequest range_and_get;  // 3 MiB and its metadata for the range, 1 MiB for the get
  *range_and_get.add_success() = range_op("k");
  *range_and_get.add_failure() = get_op("k");
  EXPECT_EQ(code_of(stamped(testing::txn_request(range_and_get))), Code::kTooLarge);
}

TEST(Limits, TxnsWhoseReadsFitAFrameAreAccepted) {
  pb::TxnRequest cas_like;  // a CAS: compare, put, and a get of the current value on failure
  *cas_like.add_compares() = compare_version("k", pb::Compare::EQUAL, 1);
  cas_like.add_success()->mutable_put()->set_key("k");
  *cas_like.add_failure() = get_op("k");
  EXPECT_EQ(code_of(stamped(testing::txn_request(cas_like))), Code::kOk);
  pb::TxnRequest three_gets;
  for (int i = 0; i < 3; ++i) *three_gets.add_success() = get_op("k" + std::to_string(i));
  EXPECT_EQ(code_of(stamped(testing::txn_request(three_gets))), Code::kOk);
  pb::TxnRequest bounded_ranges;  // a limit and keys_only bound a range's answer
  for (int i = 0; i < 64; ++i) {
    *bounded_ranges.add_success() = range_op("k", 10);
    bounded_ranges.mutable_success(i)->mutable_range()->set_keys_only(true);
  }
  *bounded_ranges.add_success() = get_op("k");
  EXPECT_EQ(code_of(stamped(testing::txn_request(bounded_ranges))), Code::kOk);
}

// The bound is the proposer's; a replica applies what the log carries (kApplyLimits).
TEST(Limits, ATxnWithManyRangesInTheLogIsAppliedNotRefused) {
  KvHarness h;
  h.put("k", "v");
  pb::TxnRequest many_ranges;
  for (int i = 0; i < 128; ++i) *many_ranges.add_success() = range_op("k");
  EXPECT_EQ(h.write(testing::txn_request(many_ranges)).code(), pb::OK);
}

}  // namespace
}  // namespace castor::kv

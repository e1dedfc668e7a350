#include "tools/txn_text.h"

#include <gtest/gtest.h>

namespace castor::tools {
namespace {

namespace pb = kv::pb;

TEST(TxnText, ParsesThePromotionExample) {
  auto txn = parse_txn_text(
      "# promote v8\n"
      "compare mod_revision models/fraud/serving = 42\n"
      "compare mod models/fraud/schema = 41\n"
      "\n"
      "success put models/fraud/serving v8\n"
      "success put models/fraud/schema \"schema v8\"   # quoted: it has a space\n"
      "failure get models/fraud/serving\n");
  ASSERT_TRUE(txn.is_ok()) << txn.status().to_string();
  ASSERT_EQ(txn->compares_size(), 2);
  EXPECT_EQ(txn->compares(0).key(), "models/fraud/serving");
  EXPECT_EQ(txn->compares(0).op(), pb::Compare::EQUAL);
  EXPECT_EQ(txn->compares(0).mod_revision(), 42u);
  EXPECT_EQ(txn->compares(1).mod_revision(), 41u);
  ASSERT_EQ(txn->success_size(), 2);
  EXPECT_EQ(txn->success(1).put().key(), "models/fraud/schema");
  EXPECT_EQ(txn->success(1).put().value(), "schema v8");
  ASSERT_EQ(txn->failure_size(), 1);
  EXPECT_EQ(txn->failure(0).get().key(), "models/fraud/serving");
}

TEST(TxnText, EveryFieldOperatorAndOp) {
  auto txn = parse_txn_text(
      "compare value a != x\n"
      "compare version b < 3\n"
      "compare create_revision c > 7\n"
      "compare ver d == 0\n"
      "success range p/\n"
      "success del k\n"
      "failure del_prefix q/\n");
  ASSERT_TRUE(txn.is_ok()) << txn.status().to_string();
  EXPECT_EQ(txn->compares(0).value(), "x");
  EXPECT_EQ(txn->compares(0).op(), pb::Compare::NOT_EQUAL);
  EXPECT_EQ(txn->compares(1).op(), pb::Compare::LESS);
  EXPECT_EQ(txn->compares(1).version(), 3u);
  EXPECT_EQ(txn->compares(2).op(), pb::Compare::GREATER);
  EXPECT_EQ(txn->compares(2).create_revision(), 7u);
  EXPECT_TRUE(txn->compares(3).has_version());
  EXPECT_EQ(txn->compares(3).version(), 0u);
  EXPECT_TRUE(txn->success(0).range().prefix());
  EXPECT_EQ(txn->success(1).delete_key().key(), "k");
  EXPECT_TRUE(txn->failure(0).delete_range().prefix());
}

TEST(TxnText, QuotedTokensCarryArbitraryBytes) {
  auto tokens = split_txn_line(R"(put "a b" "q\"\\\n\t\x00\xff#" plain#comment)");
  ASSERT_TRUE(tokens.is_ok()) << tokens.status().to_string();
  ASSERT_EQ(tokens->size(), 4u);
  EXPECT_EQ((*tokens)[1], "a b");
  EXPECT_EQ((*tokens)[2], std::string("q\"\\\n\t\0\xff#", 8));
  EXPECT_EQ((*tokens)[3], "plain");
  auto empty = split_txn_line(R"(put k "")");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ((*empty)[2], "");
}

TEST(TxnText, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"success put k v\ncompare version k = x\n", "line 2: 'x' is not a number"},
      {"compare size k = 1", "line 1: unknown field 'size'"},
      {"compare version k ~ 1", "line 1: unknown operator '~'"},
      {"success put k", "line 1: want: success put KEY VALUE"},
      {"success frob k", "line 1: unknown op 'frob'"},
      {"maybe put k v", "line 1: a line starts with compare, success or failure"},
      {"success put k \"v", "line 1: unterminated quote"},
      {"success put k \"\\q\"", "line 1: unknown escape \\q"},
      {"success put k \"\\x4\"", "line 1: \\x needs two hex digits"},
      {"success put k \"v\"w", "line 1: a closing quote must end the token"},
  };
  for (const auto& [text, want] : cases) {
    auto txn = parse_txn_text(text);
    ASSERT_FALSE(txn.is_ok()) << text;
    EXPECT_EQ(txn.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(txn.status().message().rfind(want, 0), 0u) << txn.status().message();
  }
}

}  // namespace
}  // namespace castor::tools

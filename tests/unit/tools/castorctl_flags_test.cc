// castorctl's command line (tools/castorctl_flags.h): commands with their arguments in order,
// global flags anywhere, a command's own flags after it, and every mistake refused by name.
#include "tools/castorctl_flags.h"

#include <gtest/gtest.h>

#include "tests/unit/tools/refusal.h"

namespace castor::tools {
namespace {

CtlFlags parsed(const std::vector<std::string>& args) {
  auto r = parse_castorctl_flags(args);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : CtlFlags{};
}

std::string refusal(const std::vector<std::string>& args) {
  return testing::refusal(parse_castorctl_flags, args);
}
using testing::mentions;
using Args = std::vector<std::string>;

TEST(CastorctlFlags, ACommandAndItsArgumentsInOrderWithTheLocalClusterByDefault) {
  const CtlFlags f = parsed({"put", "models/fraud/serving", "v1"});
  EXPECT_EQ(f.args, (Args{"put", "models/fraud/serving", "v1"}));
  ASSERT_EQ(f.endpoints.size(), 3u);
  EXPECT_EQ(f.endpoints[1].to_string(), "127.0.0.1:22379");
  EXPECT_EQ(f.format, Format::kSimple);
  EXPECT_EQ(f.timeout, std::chrono::seconds(5));
  EXPECT_EQ(parsed({"leader", "transfer", "n2"}).args, (Args{"leader", "transfer", "n2"}));
  EXPECT_EQ(parsed({"status"}).args, (Args{"status"}));
}

TEST(CastorctlFlags, GlobalFlagsGoAnywhereAndCommandFlagsAfterTheCommand) {
  const CtlFlags f = parsed({"--timeout", "500ms", "get", "k", "-w", "json", "--serializable", "--endpoints",
                             "127.0.0.1:1,127.0.0.1:2"});
  EXPECT_EQ(f.args, (Args{"get", "k"}));
  EXPECT_EQ(f.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(f.format, Format::kJson);
  EXPECT_TRUE(f.serializable);
  EXPECT_EQ(f.endpoints.size(), 2u);
  EXPECT_EQ(parsed({"status", "--cluster-id", "a", "--cluster-id", "b"}).cluster_id, "b")
      << "the last one wins";
  EXPECT_TRUE(mentions(refusal({"--prev-kv", "put", "k", "v"}), "--prev-kv")) << "put's flag before put";
}

TEST(CastorctlFlags, CasTakesItsExpectationsAndRangeItsBounds) {
  CtlFlags f = parsed({"cas", "k", "new", "--expect-mod-revision", "42"});
  EXPECT_EQ(parsed({"cas", "k", "new", "--expect-value", "a", "--expect-version", "1"}).expect.size(), 2u)
      << "castorctl refuses two kinds (exactly one expectation); the flags keep both";
  EXPECT_EQ(f.args, (Args{"cas", "k", "new"}));
  ASSERT_EQ(f.expect.size(), 1u);
  f = parsed({"cas", "k", "new", "--expect-absent"});
  EXPECT_EQ(f.expect.size(), 1u);
  f = parsed({"range", "--from", "a", "--to", "b", "--limit", "5", "--keys-only"});
  EXPECT_EQ(f.args, (Args{"range"}));
  EXPECT_EQ(f.from, "a");
  EXPECT_EQ(f.to, "b");
  EXPECT_EQ(f.limit, 5u);
  EXPECT_TRUE(f.keys_only);
}

TEST(CastorctlFlags, WatchTakesAKeyPrefixRevisionAndPrevKv) {
  CtlFlags f = parsed({"watch", "models/", "--prefix", "--rev", "7", "--prev-kv", "-w", "json"});
  EXPECT_EQ(f.args, (Args{"watch", "models/"}));
  EXPECT_TRUE(f.prefix);
  EXPECT_EQ(f.rev, std::optional<uint64_t>(7));
  EXPECT_TRUE(f.prev_kv);
  EXPECT_EQ(f.format, Format::kJson);
  f = parsed({"watch", "k"});
  EXPECT_FALSE(f.prefix);
  EXPECT_EQ(f.rev, std::nullopt) << "no --rev: from now";
  EXPECT_FALSE(f.prev_kv);
  EXPECT_TRUE(mentions(refusal({"watch"}), "KEY"));
  EXPECT_TRUE(mentions(refusal({"watch", "k", "--rev", "0"}), "revisions start at 1"));
  EXPECT_TRUE(mentions(refusal({"watch", "k", "--rev", "-1"}), "--rev")) << "no wrap to 2^64-1";
  EXPECT_TRUE(mentions(refusal({"watch", "k", "--rev", "x"}), "--rev"));
  EXPECT_TRUE(mentions(refusal({"--prefix", "watch", "k"}), "--prefix")) << "watch's flag before watch";
  EXPECT_TRUE(mentions(parsed({"watch", "--help"}).help_text, "etcdctl --rev"));
}

TEST(CastorctlFlags, KeysThatLookLikeFlagsOrCommandsAreArguments) {
  EXPECT_EQ(parsed({"put", "--", "-k", "-v"}).args, (Args{"put", "-k", "-v"}));
  EXPECT_EQ(parsed({"put", "get", "status"}).args, (Args{"put", "get", "status"}));
  EXPECT_EQ(parsed({"put", "k", "-1"}).args, (Args{"put", "k", "-1"}));
}

TEST(CastorctlFlags, EveryMistakeIsRefusedByName) {
  EXPECT_TRUE(mentions(refusal({"put", "k"}), "VALUE"));
  EXPECT_TRUE(mentions(refusal({"frobnicate"}), "unknown command 'frobnicate'"));
  EXPECT_TRUE(
      mentions(refusal({"--endpoints", "127.0.0.1:1", "frobnicate"}), "unknown command 'frobnicate'"));
  EXPECT_TRUE(mentions(refusal({"-w", "json"}), "subcommand is required"));
  EXPECT_TRUE(mentions(refusal({"--timeout", "0"}), "--timeout")) << "a bad global flag is named, not hidden";
  EXPECT_TRUE(mentions(refusal({"range", "--limit", "-1"}), "--limit")) << "no wrap to 2^64-1";
  EXPECT_TRUE(mentions(refusal({"cas", "k", "v", "--expect-version", "0x10"}), "--expect-version"));
  EXPECT_TRUE(mentions(refusal({"cas", "k", "v", "--expect-version", "1", "--expect-version", "2"}),
                       "--expect-version"))
      << "two expectations of one kind: never silently one of them";
  EXPECT_TRUE(mentions(refusal({"get", "k", "--timeout", "0"}), "--timeout"));
  EXPECT_TRUE(mentions(refusal({"get", "k", "--timeout", "2x"}), "--timeout"));
  EXPECT_TRUE(mentions(refusal({"get", "k", "-w", "yaml"}), "yaml"));
  EXPECT_TRUE(mentions(refusal({"get", "k", "--endpoints", "nohost"}), "--endpoints"));
  EXPECT_TRUE(mentions(refusal({"cas", "k", "v", "--expect-version", "x"}), "--expect-version"));
  EXPECT_TRUE(mentions(refusal({"get", "k", "extra"}), "extra"));
  EXPECT_TRUE(mentions(refusal({"leader"}), "subcommand")) << "leader needs transfer";
}

TEST(CastorctlFlags, HelpDescribesTheToolOrOneCommand) {
  CtlFlags f = parsed({"--help"});
  EXPECT_TRUE(f.help);
  EXPECT_TRUE(mentions(f.help_text, "Exit codes")) << f.help_text;
  EXPECT_TRUE(mentions(f.help_text, "txn")) << f.help_text;
  f = parsed({"cas", "--help"});
  EXPECT_TRUE(f.help);
  EXPECT_TRUE(mentions(f.help_text, "--expect-value")) << f.help_text;
  EXPECT_EQ(castorctl_usage().find("--expect-value"), std::string::npos) << "the tool's help lists commands";
}

}  // namespace
}  // namespace castor::tools

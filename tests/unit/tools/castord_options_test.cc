// castord's flags and config file (tools/castord_options.h): what a node is started with is
// what it runs with, and every bad flag is refused with its name before anything opens.
#include "tools/castord_options.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/temp_dir.h"
#include "tests/unit/tools/refusal.h"

namespace castor::tools {
namespace {

const std::vector<std::string> kMinimal = {"--name",
                                           "n2",
                                           "--data-dir",
                                           "/tmp/d",
                                           "--listen-client",
                                           "127.0.0.1:22379",
                                           "--initial-cluster",
                                           "n1=127.0.0.1:2380,n2=127.0.0.1:22380,n3=127.0.0.1:32380"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = kMinimal;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string refusal(const std::vector<std::string>& args) {
  return testing::refusal(parse_castord_options, args);
}
using testing::mentions;

TEST(CastordOptions, TheRequiredFlagsMakeANodeAndItsPeerAddressComesFromTheCluster) {
  auto r = parse_castord_options(kMinimal);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const kv::ServerOptions& s = r->server;
  EXPECT_EQ(s.name, "n2");
  EXPECT_EQ(s.data_dir, "/tmp/d");
  EXPECT_EQ(s.listen_client.to_string(), "127.0.0.1:22379");
  ASSERT_EQ(s.members.size(), 3u);
  EXPECT_EQ(s.members[2].first, "n3");
  EXPECT_EQ(s.listen_peer.to_string(), "127.0.0.1:22380");
  EXPECT_FALSE(s.listen_http.has_value());
  EXPECT_FALSE(s.unsafe_skip_fsync);
  EXPECT_EQ(r->log_level, "info");
}

TEST(CastordOptions, FlagsSetWhatTheyNameInEitherSpelling) {
  auto r =
      parse_castord_options(with({"--heartbeat-ms=50", "--election-ms", "400", "--request-timeout-ms", "1234",
                                  "--listen-http", "0.0.0.0:2381", "--client-connections-max", "7",
                                  "--value-bytes-max", "99", "--unsafe-skip-fsync", "--log-format", "json"}));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->server.heartbeat_ms, 50u);
  EXPECT_EQ(r->server.election_ms, 400u);
  EXPECT_EQ(r->server.request_timeout, std::chrono::milliseconds(1234));
  ASSERT_TRUE(r->server.listen_http.has_value());
  EXPECT_EQ(r->server.listen_http->to_string(), "0.0.0.0:2381");
  EXPECT_EQ(r->server.client_connections_max, 7u);
  EXPECT_EQ(r->server.limits.value_bytes_max, 99u);
  EXPECT_TRUE(r->server.unsafe_skip_fsync);
  EXPECT_FALSE(r->server.unsafe_skip_dedup);
  EXPECT_EQ(r->log_format, "json");
}

TEST(CastordOptions, TheWatchFlagsSetTheHistoryAndTheHub) {
  auto r = parse_castord_options(with({"--watch-history-revisions", "500", "--watch-history-bytes", "65536",
                                       "--watches-max", "3", "--watch-queued-bytes-max", "4096"}));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->server.history.revisions_max, 500u);
  EXPECT_EQ(r->server.history.bytes_max, 65536u);
  EXPECT_EQ(r->server.watch.watchers_max, 3u);
  EXPECT_EQ(r->server.watch.queued_bytes_max, 4096u);
  EXPECT_TRUE(mentions(refusal(with({"--watches-max", "many"})), "--watches-max"));
}

TEST(CastordOptions, EveryBadFlagIsRefusedByName) {
  EXPECT_TRUE(mentions(refusal({"--data-dir", "/tmp/d"}), "--name")) << "a required flag missing";
  EXPECT_TRUE(mentions(refusal(with({"--heartbeat-ms", "abc"})), "--heartbeat-ms"));
  EXPECT_TRUE(mentions(refusal(with({"--heartbeat-ms"})), "--heartbeat-ms")) << "no value";
  EXPECT_TRUE(mentions(refusal(with({"--heartbeat", "5"})), "--heartbeat")) << "an unknown flag";
  EXPECT_TRUE(mentions(refusal(with({"--listen-http", "nowhere"})), "--listen-http"));
  EXPECT_TRUE(mentions(refusal(with({"--client-connections-max", "0"})), "--client-connections-max"));
  EXPECT_TRUE(mentions(refusal(with({"--log-level", "loud"})), "--log-level"));
  EXPECT_TRUE(mentions(refusal(with({"--initial-cluster", "n1"})), "--initial-cluster"));
  EXPECT_TRUE(mentions(refusal(with({"stray"})), "stray")) << "a positional argument";
  EXPECT_TRUE(mentions(refusal(with({"--snapshot-entries", "-1"})), "--snapshot-entries"))
      << "no wrap to 2^64-1";
  EXPECT_TRUE(mentions(refusal(with({"--disk-reserve-bytes", "0x10"})), "--disk-reserve-bytes"));
  EXPECT_TRUE(mentions(refusal(with({"--request-timeout-ms", "5s"})), "--request-timeout-ms"));
  EXPECT_TRUE(mentions(refusal(with({"--listen-client", "127.0.0.1:0"})), "--listen-client"));
  EXPECT_TRUE(mentions(refusal(with({"--data-dir", ""})), "--data-dir"));
  EXPECT_TRUE(mentions(refusal(with({"--initial-cluster", "n2=127.0.0.1:1,n2=127.0.0.1:2"})), "named twice"));
  EXPECT_TRUE(mentions(refusal(with({"--name", "n9"})), "--name n9 is not in --initial-cluster"))
      << "a flag given twice takes its last value, which must still be a member";
}

TEST(CastordOptions, AConfigFileGivesTheSameKeysAndFlagsWin) {
  castor::testing::TempDir dir;
  const std::string path = (dir.path() / "castord.conf").string();
  const std::string data = (dir.path() / "my data").string();
  std::ofstream(path)
      << "# a node\nheartbeat-ms = 70\nelection-ms = 700\nunsafe-skip-dedup = true\n"
      << "log-level = debug\ndata-dir = " << data << "\n"
      << "initial-cluster = n1=127.0.0.1:2380,n2=127.0.0.1:22380,n3=127.0.0.1:32380,n4=127.0.0.1:42380\n";
  auto r = parse_castord_options(with({"--config", path, "--election-ms", "900"}));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->server.heartbeat_ms, 70u);
  EXPECT_EQ(r->server.election_ms, 900u) << "the flag wins over the file";
  EXPECT_TRUE(r->server.unsafe_skip_dedup);
  EXPECT_EQ(r->log_level, "debug");
  EXPECT_EQ(r->server.data_dir, "/tmp/d") << "the flag wins";
  ASSERT_EQ(r->server.members.size(), 3u) << "the flag wins";

  // A value with commas and spaces is one value, never split (CLI11 reads arrays otherwise).
  r = parse_castord_options({"--config", path, "--name", "n4", "--listen-client", "127.0.0.1:1"});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->server.data_dir, data);
  ASSERT_EQ(r->server.members.size(), 4u);
  EXPECT_EQ(r->server.members[0].first, "n1");
  EXPECT_EQ(r->server.listen_peer.to_string(), "127.0.0.1:42380");

  std::ofstream(path) << "heartbeat-msec = 70\n";
  EXPECT_TRUE(mentions(refusal(with({"--config", path})), "heartbeat-msec")) << "an unknown key in the file";
  EXPECT_TRUE(mentions(refusal(with({"--config", (dir.path() / "missing.conf").string()})), "missing.conf"));
}

TEST(CastordOptions, HelpStopsBeforeAnyCheckAndListsEveryFlag) {
  auto r = parse_castord_options({"--help"});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->help);
  const std::string usage = castord_usage();
  for (const char* flag : {"--name", "--initial-cluster", "--disk-reserve-bytes", "--config",
                           "--unsafe-skip-fsync", "CASTOR_FAILPOINTS"}) {
    EXPECT_TRUE(mentions(usage, flag)) << flag;
  }
}

}  // namespace
}  // namespace castor::tools

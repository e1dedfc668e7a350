#include "tools/castord_options.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "tools/cli_parse.h"

namespace castor::tools {

namespace {

constexpr const char* kTestOnly =
    "Test-only, for the chaos harness; they break Castor's guarantees on purpose";

CLI::Option* add_endpoint(CLI::App& app, const std::string& flag, net::Endpoint& out,
                          const std::string& help) {
  return add_parsed(
             app, flag, net::parse_endpoint, [&out](net::Endpoint e) { out = std::move(e); }, help)
      ->type_name("HOST:PORT");
}

// A duration flag in milliseconds (its name ends in -ms).
CLI::Option* add_ms(CLI::App& app, const std::string& flag, std::chrono::milliseconds& out,
                    const std::string& help) {
  return add_unsigned<uint64_t>(
             app, flag, [&out](uint64_t ms) { out = std::chrono::milliseconds(ms); }, help)
      ->default_str(std::to_string(out.count()));
}

using Members = std::vector<std::pair<std::string, net::Endpoint>>;

Result<Members> parse_members(const std::string& v) {
  Members members;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status(Code::kInvalidArgument, "'" + item + "' is not name=host:port");
    }
    auto ep = net::parse_endpoint(item.substr(eq + 1));
    if (!ep.is_ok()) return ep.status();
    const std::string name = item.substr(0, eq);
    for (const auto& m : members) {
      if (m.first == name) return Status(Code::kInvalidArgument, "'" + name + "' is named twice");
    }
    members.emplace_back(name, *ep);
  }
  return members;
}

void add_identity(CLI::App& app, kv::ServerOptions& s) {
  app.add_option("--name", s.name, "this node's name in --initial-cluster")->required()->type_name("NAME");
  app.add_option("--data-dir", s.data_dir, "where the Raft log (DIR/log) and the state (DIR/kv) live")
      ->required()
      ->type_name("DIR");
  add_endpoint(app, "--listen-client", s.listen_client,
               "the client port (castorctl, the C++ and Python clients)")
      ->required();
  add_endpoint(app, "--listen-peer", s.listen_peer,
               "the peer port (Raft traffic); by default this node's address in --initial-cluster");
  add_parsed(
      app, "--initial-cluster", parse_members, [&s](Members m) { s.members = std::move(m); },
      "every member's name=peer-address, comma-separated; ids follow this order")
      ->required()
      ->type_name("n1=HOST:PORT,...");
  add_parsed(
      app, "--listen-http", net::parse_endpoint, [&s](net::Endpoint e) { s.listen_http = std::move(e); },
      "metrics, health, status and the JSON KV API (docs/HTTP.md); off when not given")
      ->type_name("HOST:PORT");
  app.add_option("--cluster-id", s.cluster_id, "refuse peers and clients of any other cluster")
      ->type_name("ID")
      ->capture_default_str();
}

void add_raft(CLI::App& app, kv::ServerOptions& s) {
  add_unsigned(app, "--heartbeat-ms", s.heartbeat_ms, "Raft heartbeat interval, one tick");
  add_unsigned(app, "--election-ms", s.election_ms, "election timeout; a random time in [N, 2N)");
  add_unsigned(app, "--snapshot-entries", s.snapshot_entries, "snapshot and compact the log every N entries");
  add_ms(app, "--request-timeout-ms", s.request_timeout, "server-side deadline of a request");
  add_ms(app, "--slow-fsync-ms", s.slow_fsync, "log and count Raft log writes slower than N ms");
  add_unsigned(app, "--health-apply-lag-max", s.health_apply_lag_max,
               "/health fails when applied trails commit by N entries");
  add_unsigned(app, "--session-timeout-ms", s.sessions.session_timeout_ms,
               "client sessions expire after N ms idle");
}

void add_limits(CLI::App& app, kv::ServerOptions& s) {
  add_ms(app, "--client-idle-timeout-ms", s.client_idle_timeout,
         "close a client connection with nothing asked for N ms; at the connection limit the idlest "
         "one makes room");
  add_ms(app, "--client-write-timeout-ms", s.client_write_timeout,
         "close a client connection whose answers are not taken for N ms");
  add_unsigned(app, "--client-connections-max", s.client_connections_max, "client connections at once")
      ->check(CLI::PositiveNumber);
  add_unsigned(app, "--value-bytes-max", s.limits.value_bytes_max, "largest value");
  add_unsigned(app, "--txn-ops-max", s.limits.txn_ops_max, "compares + ops in one transaction");
  add_unsigned(app, "--request-bytes-max", s.limits.request_bytes_max, "largest request");
  add_unsigned(app, "--frame-bytes-max", s.frame_bytes_max, "largest frame on any connection");
  add_unsigned(app, "--log-map-bytes-max", s.log_map_bytes_max,
               "the Raft log's LMDB map may grow to N bytes");
  add_unsigned(app, "--disk-reserve-bytes", s.disk_reserve_bytes,
               "below N bytes free on the data directory's disk, refuse writes and take no entries "
               "until space is freed (0: off)");
}

void add_watch(CLI::App& app, kv::ServerOptions& s) {
  add_unsigned(app, "--watch-history-revisions", s.history.revisions_max,
               "keep the changes of the last N revisions for watches to start from");
  add_unsigned(app, "--watch-history-bytes", s.history.bytes_max,
               "... and at most N bytes of them; older starts are refused COMPACTED");
  add_unsigned(app, "--watches-max", s.watch.watchers_max, "watches this node serves at once");
  add_unsigned(app, "--watch-queued-bytes-max", s.watch.queued_bytes_max,
               "cancel a watch (TOO_SLOW) whose client leaves N bytes of its answers unread");
}

void add_test_only(CLI::App& app, kv::ServerOptions& s) {
  app.add_flag("--unsafe-local-reads", s.unsafe_local_reads,
               "serve linearizable reads at this node's commit index, without the ReadIndex round "
               "that confirms it still leads")
      ->group(kTestOnly);
  app.add_flag("--unsafe-skip-dedup", s.unsafe_skip_dedup,
               "apply retried writes again instead of answering from the session")
      ->group(kTestOnly);
  app.add_flag("--unsafe-revision-per-entry", s.unsafe_revision_per_entry,
               "every write in one Raft entry takes the entry's index as its revision, so batched "
               "writes share one")
      ->group(kTestOnly);
  app.add_flag("--unsafe-skip-fsync", s.unsafe_skip_fsync,
               "commit the Raft log without fsync: acknowledged writes live in the page cache only "
               "(a kill -9 cannot tell; a power cut can)")
      ->group(kTestOnly);
}

// The whole command line, writing into `o`.
void describe(CLI::App& app, CastordOptions& o) {
  // A flag given twice takes its last value (a script may append an override), as before CLI11.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_identity(app, o.server);
  add_raft(app, o.server);
  add_limits(app, o.server);
  add_watch(app, o.server);
  app.add_option("--log-level", o.log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}))
      ->capture_default_str();
  app.add_option("--log-format", o.log_format, "one line per event")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.set_config("--config", "", "the same keys as `key = value` lines; flags win")->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);
  // One line, one value: CLI11's TOML reader would split "n1=a:2380,n2=b:2380" at its commas
  // (and keep only the last piece), so arrays are off.
  auto config = std::make_shared<CLI::ConfigTOML>();
  config->arrayBounds('\x01', '\x01');
  app.config_formatter(config);
  add_test_only(app, o.server);
  app.footer(
      "Also test-only: CASTOR_FAILPOINTS=before-log-fsync=crash,... crashes at exact points "
      "(kv/server/failpoints.h).\n");
}

// What CLI11 cannot say: a flag given but empty or port 0 where that means nothing; the peer
// address defaults to this node's entry, which must exist.
Status finish(kv::ServerOptions& s) {
  if (s.data_dir.empty()) return Status(Code::kInvalidArgument, "--data-dir: empty");
  if (s.listen_client.port == 0) return Status(Code::kInvalidArgument, "--listen-client: want a port, not 0");
  auto self =
      std::find_if(s.members.begin(), s.members.end(), [&s](const auto& m) { return m.first == s.name; });
  if (self == s.members.end())
    return Status(Code::kInvalidArgument, "--name " + s.name + " is not in --initial-cluster");
  if (s.listen_peer.port == 0) s.listen_peer = self->second;
  return Status::ok();
}

}  // namespace

std::string castord_usage() {
  CastordOptions o;
  CLI::App app("castord: one Castor node.", "castord");
  describe(app, o);
  return app.help();
}

Result<CastordOptions> parse_castord_options(const std::vector<std::string>& args) {
  CastordOptions o;
  CLI::App app("castord: one Castor node.", "castord");
  describe(app, o);
  Result<CliParsed> parsed = parse_cli(app, args);
  if (!parsed.is_ok()) return parsed.status();
  if (*parsed == CliParsed::kHelp) {
    o.help = true;
    return o;
  }
  if (Status s = finish(o.server); !s.is_ok()) return s;
  return o;
}

}  // namespace castor::tools

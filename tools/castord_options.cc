#include "tools/castord_options.h"

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace castor::tools {

namespace {

Status invalid(const std::string& what) { return Status(Code::kInvalidArgument, what); }

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

template <typename T>
Status parse_number(const std::string& key, const std::string& v, T& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size())
    return invalid("--" + key + ": '" + v + "' is not a number");
  return Status::ok();
}

// Reads `key = value` lines; '#' starts a comment.
Status parse_ms(const std::string& key, const std::string& v, std::chrono::milliseconds& out) {
  int64_t ms = 0;
  if (Status st = parse_number(key, v, ms); !st.is_ok()) return st;
  out = std::chrono::milliseconds(ms);
  return Status::ok();
}

Status read_config(const std::string& path, std::map<std::string, std::string>& kv) {
  std::ifstream in(path);
  if (!in) return invalid("--config: cannot read " + path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const size_t eq = line.find_first_of("=:");
    if (eq == std::string::npos) return invalid(path + ":" + std::to_string(n) + ": expected 'key = value'");
    kv.emplace(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
  }
  return Status::ok();
}

// The test-only switch a flag names, or nullptr when it names none.
bool* unsafe_switch(kv::ServerOptions& s, const std::string& key) {
  if (key == "unsafe-local-reads") return &s.unsafe_local_reads;
  if (key == "unsafe-skip-dedup") return &s.unsafe_skip_dedup;
  if (key == "unsafe-revision-per-entry") return &s.unsafe_revision_per_entry;
  if (key == "unsafe-skip-fsync") return &s.unsafe_skip_fsync;
  return nullptr;
}

// A flag whose value is a number or a duration in milliseconds; nullopt when key is none.
std::optional<Status> apply_number(kv::ServerOptions& s, const std::string& key, const std::string& v) {
  if (key == "heartbeat-ms") {
    return parse_number(key, v, s.heartbeat_ms);
  } else if (key == "election-ms") {
    return parse_number(key, v, s.election_ms);
  } else if (key == "snapshot-entries") {
    return parse_number(key, v, s.snapshot_entries);
  } else if (key == "request-timeout-ms") {
    return parse_ms(key, v, s.request_timeout);
  } else if (key == "slow-fsync-ms") {
    return parse_ms(key, v, s.slow_fsync);
  } else if (key == "client-idle-timeout-ms") {
    return parse_ms(key, v, s.client_idle_timeout);
  } else if (key == "client-write-timeout-ms") {
    return parse_ms(key, v, s.client_write_timeout);
  } else if (key == "client-connections-max") {
    if (Status st = parse_number(key, v, s.client_connections_max); !st.is_ok()) return st;
    if (s.client_connections_max == 0) return invalid("--client-connections-max: want at least 1");
    return Status::ok();
  } else if (key == "health-apply-lag-max") {
    return parse_number(key, v, s.health_apply_lag_max);
  } else if (key == "frame-bytes-max") {
    return parse_number(key, v, s.frame_bytes_max);
  } else if (key == "log-map-bytes-max") {
    return parse_number(key, v, s.log_map_bytes_max);
  } else if (key == "disk-reserve-bytes") {
    return parse_number(key, v, s.disk_reserve_bytes);
  } else if (key == "value-bytes-max") {
    return parse_number(key, v, s.limits.value_bytes_max);
  } else if (key == "txn-ops-max") {
    return parse_number(key, v, s.limits.txn_ops_max);
  } else if (key == "request-bytes-max") {
    return parse_number(key, v, s.limits.request_bytes_max);
  } else if (key == "session-timeout-ms") {
    return parse_number(key, v, s.sessions.session_timeout_ms);
  }
  return std::nullopt;
}

Status apply(CastordOptions& o, const std::string& key, const std::string& v) {
  kv::ServerOptions& s = o.server;
  if (key == "name") {
    s.name = v;
  } else if (key == "data-dir") {
    s.data_dir = v;
  } else if (key == "cluster-id") {
    s.cluster_id = v;
  } else if (key == "listen-client" || key == "listen-peer" || key == "listen-http") {
    auto ep = net::parse_endpoint(v);
    if (!ep.is_ok()) return invalid("--" + key + ": " + ep.status().message());
    if (key == "listen-http") {
      s.listen_http = *ep;
    } else {
      (key == "listen-client" ? s.listen_client : s.listen_peer) = *ep;
    }
  } else if (key == "initial-cluster") {
    s.members.clear();
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        return invalid("--initial-cluster: '" + item + "' is not name=host:port");
      auto ep = net::parse_endpoint(item.substr(eq + 1));
      if (!ep.is_ok()) return invalid("--initial-cluster: " + ep.status().message());
      s.members.emplace_back(item.substr(0, eq), *ep);
    }
  } else if (std::optional<Status> number = apply_number(s, key, v)) {
    return *number;
  } else if (auto* unsafe = unsafe_switch(s, key)) {
    if (v != "true" && v != "false") return invalid("--" + key + ": want true or false");
    *unsafe = v == "true";
  } else if (key == "log-level") {
    if (v != "trace" && v != "debug" && v != "info" && v != "warn" && v != "error" && v != "critical") {
      return invalid("--log-level: want trace, debug, info, warn, error or critical");
    }
    o.log_level = v;
  } else if (key == "log-format") {
    if (v != "text" && v != "json") return invalid("--log-format: want text or json");
    o.log_format = v;
  } else {
    return invalid("unknown option --" + key);
  }
  return Status::ok();
}

}  // namespace

std::string castord_usage() {
  return R"(castord: one Castor node.

usage: castord --name NAME --data-dir DIR --listen-client HOST:PORT --listen-peer HOST:PORT
               --initial-cluster n1=HOST:PORT,n2=HOST:PORT,n3=HOST:PORT [options]

  --name NAME                 this node's name in --initial-cluster
  --data-dir DIR              where the Raft log (DIR/log) and the state (DIR/kv) live
  --listen-client HOST:PORT   the client port (castorctl, the C++ and Python clients)
  --listen-peer HOST:PORT     the peer port (Raft traffic); must match --initial-cluster
  --listen-http HOST:PORT     metrics, health, status and the JSON KV API (docs/HTTP.md); off
                              when not given
  --initial-cluster LIST      every member's name=peer-address; ids follow this order
  --cluster-id ID             refuse peers and clients of any other cluster (default castor)
  --heartbeat-ms N            Raft heartbeat interval, one tick (default 100)
  --election-ms N             election timeout; a random time in [N, 2N) (default 1000)
  --snapshot-entries N        snapshot and compact the log every N entries (default 10000)
  --request-timeout-ms N      server-side deadline of a request (default 5000)
  --client-idle-timeout-ms N  close a client connection with nothing asked for N ms (default
                              300000); at the connection limit the idlest one makes room
  --client-connections-max N  client connections at once (default 4096)
  --client-write-timeout-ms N close a client connection whose answers are not taken for N ms
                              (default 30000)
  --value-bytes-max N         largest value (default 1048576)
  --txn-ops-max N             compares + ops in one transaction (default 128)
  --request-bytes-max N       largest request (default 1572864)
  --frame-bytes-max N         largest frame on any connection (default 4194304)
  --log-map-bytes-max N       the Raft log's LMDB map may grow to N bytes (default 16 GiB)
  --disk-reserve-bytes N      below N bytes free on the data directory's disk, refuse writes
                              and take no entries until space is freed (default 67108864; 0: off)
  --session-timeout-ms N      client sessions expire after N ms idle (default 3600000)
  --slow-fsync-ms N           log and count Raft log writes slower than N ms (default 100)
  --health-apply-lag-max N    /health fails when applied trails commit by N entries (default 1000)
  --log-level L               trace, debug, info, warn, error, critical (default info)
  --log-format text|json      one line per event (default text)
  --config FILE               the same keys as `key = value` lines; flags win
  --help

Test-only, for the chaos harness; they break Castor's guarantees on purpose:
  --unsafe-local-reads        serve linearizable reads at this node's commit index, without
                              the ReadIndex round that confirms it still leads
  --unsafe-skip-dedup         apply retried writes again instead of answering from the session
  --unsafe-revision-per-entry every write in one Raft entry takes the entry's index as its
                              revision, so batched writes share one
  --unsafe-skip-fsync         commit the Raft log without fsync: acknowledged writes live in
                              the page cache only (a kill -9 cannot tell; a power cut can)
  CASTOR_FAILPOINTS=before-log-fsync=crash,...   crash at exact points (kv/server/failpoints.h)
)";
}

Result<CastordOptions> parse_castord_options(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags;
  std::string config;
  CastordOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (a.rfind("--", 0) != 0) return invalid("unexpected argument '" + a + "'");
    std::string key = a.substr(2), value;
    if (const size_t eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (key.rfind("unsafe-", 0) == 0) {
      value = "true";  // the test-only switches are plain flags
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return invalid("--" + key + " needs a value");
    }
    if (key == "config") {
      config = value;
    } else {
      flags[key] = value;
    }
  }
  std::map<std::string, std::string> merged;
  if (!config.empty()) {
    if (Status s = read_config(config, merged); !s.is_ok()) return s;
  }
  for (auto& [k, v] : flags) merged[k] = v;
  for (auto& [k, v] : merged) {
    if (Status s = apply(o, k, v); !s.is_ok()) return s;
  }
  kv::ServerOptions& s = o.server;
  if (s.name.empty()) return invalid("--name is required");
  if (s.data_dir.empty()) return invalid("--data-dir is required");
  if (s.listen_client.port == 0) return invalid("--listen-client is required");
  if (s.members.empty()) return invalid("--initial-cluster is required");
  bool found = false;
  for (const auto& [name, ep] : s.members) {
    if (name != s.name) continue;
    found = true;
    if (s.listen_peer.port == 0) s.listen_peer = ep;
  }
  if (!found) return invalid("--name " + s.name + " is not in --initial-cluster");
  return o;
}

}  // namespace castor::tools

// castorctl's command line (with CLI11): the command, its arguments and the flags, checked.
//
//   castorctl [global flags] COMMAND [ARGS] [flags]
//
// Global flags (--endpoints, --cluster-id, --timeout, -w) go anywhere; a command's own flags
// (get --serializable, put --prev-kv, cas --expect-value, watch --rev, ...) after the command. `--` ends the
// flags, for a key or value that starts with '-'. `castorctl COMMAND --help` describes one
// command. A bad command line is INVALID_ARGUMENT saying what is wrong (castorctl exits 2).
//
// What it does NOT do: talk to a node or check what only a node knows (a key's size limit).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "kv/client/cas_expect.h"
#include "net/endpoint.h"
#include "raft/base/status.h"

namespace castor::tools {

enum class Format { kSimple, kJson, kTable };

struct CtlFlags {
  std::vector<net::Endpoint> endpoints;  // default: the local cluster of ./tools/castor up
  std::string cluster_id = "castor";
  std::chrono::milliseconds timeout{5000};
  Format format = Format::kSimple;
  // --help was given: print help_text (the command's, or the whole tool's), nothing else checked.
  bool help = false;
  std::string help_text;
  // The command words ("get", or "leader" "transfer") and then its arguments, in order.
  std::vector<std::string> args;
  bool serializable = false;
  bool prev_kv = false;
  bool keys_only = false;
  bool count_only = false;
  uint64_t limit = 0;
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::vector<kv::CasExpect> expect;  // in the order given; cas wants exactly one
  bool prefix = false;                // watch: every key starting with KEY
  // watch --rev N: the changes at revision N and after, as etcdctl's --rev (N >= 1). The wire's
  // start_revision means "after", so castorctl sends N - 1.
  std::optional<uint64_t> rev;
};

// `args` without the program name.
Result<CtlFlags> parse_castorctl_flags(const std::vector<std::string>& args);
std::string castorctl_usage();

}  // namespace castor::tools

// castord's command line and config file, parsed into kv::ServerOptions.
//
// Every flag `--key value` (or `--key=value`) may also be written as a `key = value` line in
// the file named by `--config`; flags win over the file. Unknown keys, missing values and
// malformed numbers or addresses are INVALID_ARGUMENT naming the key.
#pragma once

#include <string>
#include <vector>

#include "kv/server/server.h"
#include "raft/base/status.h"

namespace castor::tools {

struct CastordOptions {
  kv::ServerOptions server;
  std::string log_level = "info";
  std::string log_format = "text";
  bool help = false;
};

Result<CastordOptions> parse_castord_options(const std::vector<std::string>& args);
std::string castord_usage();

}  // namespace castor::tools

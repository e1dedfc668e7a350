// castord's command line and config file, parsed into kv::ServerOptions (with CLI11).
//
// Every flag `--key value` (or `--key=value`) may also be written as a `key = value` line in
// the file named by `--config`: the value is the rest of the line, commas and spaces included
// ('#' starts a comment; the test-only switches take true or false); flags win over the file.
// A flag given twice keeps its last value. Numbers are plain decimal (no sign, no 0x). Unknown keys (on the
// command line or in the file), missing values, malformed numbers or addresses and a --name missing from
// --initial-cluster are INVALID_ARGUMENT naming the key.
//
// What it does NOT do: check the data directory or the ports (kv::Server::open and run do).
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
  bool help = false;  // --help was given: print castord_usage(), nothing else was checked
};

// `args` without the program name.
Result<CastordOptions> parse_castord_options(const std::vector<std::string>& args);
std::string castord_usage();

}  // namespace castor::tools

// parse_cli: one CLI11 parse for castord and castorctl, with errors as values.
//
// CLI11 reports a bad command line by throwing; this catches at the call (docs/STYLE.md,
// "Errors are values"): its ParseError becomes INVALID_ARGUMENT with CLI11's message, and
// --help becomes kHelp (the caller prints the help of whatever was asked).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "raft/base/status.h"

namespace castor::tools {

enum class CliParsed { kOk, kHelp };

// `args` without the program name, in order.
Result<CliParsed> parse_cli(CLI::App& app, const std::vector<std::string>& args);

}  // namespace castor::tools

// What castord and castorctl share on top of CLI11: one parse with errors as values, and
// number flags read strictly.
//
// CLI11 reports a bad command line by throwing; parse_cli catches at the call (docs/STYLE.md,
// "Errors are values"): its ParseError becomes INVALID_ARGUMENT with CLI11's message, and
// --help becomes kHelp (the caller prints the help of whatever was asked).
//
// CLI11 reads unsigned numbers with strtoull, which takes "-1" as 2^64-1 and "0x10" as 16;
// add_unsigned reads plain decimal only (std::from_chars, parse_decimal), so `--snapshot-entries -1` is an
// error, not a wrapped bound.
//
// What it does NOT do: print or exit: the caller prints the error or the help and chooses the exit
// code. add_unsigned checks no range but the type's own (from_chars refuses what does not fit).
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <functional>
#include <string>
#include <vector>

#include "raft/base/status.h"

namespace castor::tools {

enum class CliParsed { kOk, kHelp };

// `args` without the program name, in order.
Result<CliParsed> parse_cli(CLI::App& app, const std::vector<std::string>& args);

// A flag whose text `parse` turns into a Result; a value is handed to `set`, an error is
// CLI11's "--flag: why", as its own conversion errors read.
template <typename Parse, typename Set>
CLI::Option* add_parsed(CLI::App& app, const std::string& flag, Parse parse, Set set,
                        const std::string& help) {
  return app.add_option_function<std::string>(
      flag,
      [flag, parse, set](const std::string& text) {
        auto parsed = parse(text);
        if (!parsed.is_ok()) throw CLI::ValidationError(flag, parsed.status().message());
        set(std::move(parsed).value());
      },
      help);
}

// `text` as a non-negative decimal integer of type T: no sign, no base prefix, nothing after.
template <typename T>
Result<T> parse_decimal(const std::string& text) {
  T n{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status(Code::kInvalidArgument, "'" + text + "' is not a non-negative decimal integer");
  }
  return n;
}

// A flag taking a non-negative decimal integer of type T, handed to `set`.
template <typename T>
CLI::Option* add_unsigned(CLI::App& app, const std::string& flag, std::function<void(T)> set,
                          const std::string& help) {
  return add_parsed(app, flag, parse_decimal<T>, std::move(set), help)->type_name("UINT");
}

// The same, stored into `out`, whose value is shown as the default.
template <typename T>
CLI::Option* add_unsigned(CLI::App& app, const std::string& flag, T& out, const std::string& help) {
  return add_unsigned<T>(
             app, flag, [&out](T n) { out = n; }, help)
      ->default_str(std::to_string(out));
}

}  // namespace castor::tools

// castord's log lines: one line per event, each naming the node and its current Raft term.
//
//   text: 2026-11-28 19:40:01.123 info [n1 term 7] now leader, leader n1
//   json: {"time":"2026-11-28T19:40:01.123","level":"info","node":"n1","term":7,"msg":"..."}
//
// In JSON the message is escaped (quotes, control characters, invalid UTF-8), so every line
// parses whatever a message holds.
//
// What it does NOT do: choose or open where lines go (spdlog's default sink stays), or check
// `format` and `level` (tools/castord_options.cc does; any format but "json" is text).
// Threading: `term` is called from whichever thread logs; it must be safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace castor::tools {

void setup_logging(const std::string& node, const std::string& format, const std::string& level,
                   std::function<uint64_t()> term);

}  // namespace castor::tools

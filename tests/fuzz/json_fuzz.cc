// The JSON parser of the HTTP API (raft/base/json.h, nlohmann under our limits), which reads
// bodies from anyone who can reach the port. Checked: no exception escapes, and what parses
// dumps to text that parses back to an equal value.
#include <cstdlib>
#include <string_view>

#include "raft/base/json.h"

using castor::Json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = castor::parse_json(text);
  if (!parsed.is_ok()) return 0;
  auto again = castor::parse_json(castor::dump_json(*parsed));
  if (!again.is_ok() || !(*again == *parsed)) abort();
  return 0;
}

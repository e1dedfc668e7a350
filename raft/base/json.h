// JSON for the HTTP API and castorctl's `-w json`: nlohmann::json (Debian's nlohmann-json3-dev)
// with members kept in insertion order, plus what a port open to anyone needs around it.
//
// parse_json() is strict, because it reads requests from anyone who can reach the port: RFC
// 8259 as nlohmann reads it (no comments, no trailing commas, no leading zeros, no NaN, no raw
// control characters or invalid UTF-8 in strings, no lone surrogates in \u escapes, nothing
// after the value but whitespace), and besides: no duplicate keys in one object (a second
// "cas" must not silently win), input size and nesting depth bounded (JsonLimits), so a hostile
// body costs bounded time and memory. Errors are values, never exceptions.
//
// Numbers keep their integer-ness: a non-negative integer literal that fits parses as uint64
// (revisions are uint64), a negative one as int64, anything else as a double.
//
// JSON strings are Unicode text, while Castor keys and values are bytes. dump_json() always
// writes valid UTF-8, replacing each byte that is not part of a valid UTF-8 sequence with
// U+FFFD (lossy), and never throws; Json::dump() without that handler throws on such bytes, so
// project code writes JSON text only through dump_json(). Callers that carry bytes check
// is_valid_utf8() or base64-encode them (kv/client/kv_json.h), as Consul's KV API does.
//
// What it does NOT do: pretty-print or keep the original spelling of numbers.
// Threading: plain values and functions; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "raft/base/status.h"

namespace castor {

using Json = nlohmann::ordered_json;

struct JsonLimits {
  size_t input_bytes_max = 4 * 1024 * 1024;
  // Arrays and objects nested deeper than this are rejected.
  size_t depth_max = 64;
};

// Parses one complete JSON text. kInvalidArgument says what is wrong (and, for syntax errors,
// at which byte offset); kTooLarge when `text` exceeds limits.input_bytes_max.
Result<Json> parse_json(std::string_view text, const JsonLimits& limits = {});

// Compact JSON text (no whitespace), invalid UTF-8 replaced with U+FFFD. Doubles that are NaN
// or infinite are written as null; finite doubles round-trip exactly and always show a '.' or
// an exponent, so that they parse back as doubles.
std::string dump_json(const Json& value);

// The member named `key` of an object, or nullptr (also when `value` is not an object).
const Json* json_find(const Json& value, std::string_view key);

// The exact integer value of a number that holds one in range (2.0 counts, 2.5 does not);
// nullopt for anything else.
std::optional<uint64_t> json_uint64(const Json& value);
std::optional<int64_t> json_int64(const Json& value);

// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

}  // namespace castor

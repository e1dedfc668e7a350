// Base64 (RFC 4648 section 4, the standard alphabet with '=' padding), for carrying bytes in
// JSON: Consul's KV API returns values base64-encoded, and so does Castor's.
//
// The decoder is strict, because its input comes from the network: the length must be a
// multiple of 4, padding only at the end, no whitespace or line breaks, and the unused bits
// of the last group must be zero (RFC 4648 section 3.5), so that every byte string has exactly
// one accepted encoding.
//
// What it does NOT do: the URL-safe alphabet, or unpadded input.
// Threading: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "raft/base/status.h"

namespace castor {

std::string base64_encode(std::string_view bytes);

// The decoded bytes, or kInvalidArgument naming the offending byte offset.
Result<std::string> base64_decode(std::string_view text);

}  // namespace castor

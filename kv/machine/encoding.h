// Fixed-width big-endian integers for LMDB keys and values. Big-endian so that LMDB's bytewise
// key order is numeric order: a cursor walks sessions by client id and responses by seq.
//
// What it does NOT do: check untrusted lengths. Callers check a value is long enough before
// read_*; a short read is a bug and asserts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raft/base/assert.h"

namespace castor::kv {

inline void append_u64_be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void append_u32_be(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Reads 8 bytes at `offset`; the caller has checked the length (a short read is a bug).
inline uint64_t read_u64_be(std::string_view in, size_t offset) {
  CASTOR_ASSERT(in.size() >= offset + 8, "read_u64_be past the end");
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}

inline uint32_t read_u32_be(std::string_view in, size_t offset) {
  CASTOR_ASSERT(in.size() >= offset + 4, "read_u32_be past the end");
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}

inline std::string u64_key(uint64_t v) {
  std::string out;
  append_u64_be(out, v);
  return out;
}

}  // namespace castor::kv

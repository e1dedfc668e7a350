// KeyRange: a span of keys, [start, end) in bytewise order (LMDB's), or with no end.
//
// What it does NOT do: check sizes (validate() in limits.h does) or walk the keys (KeySpace
// does, from `start`). A plain value; safe to copy and share.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace castor::kv {

struct KeyRange {
  std::string start;
  std::optional<std::string> end;  // exclusive; none: no upper bound

  bool contains(std::string_view key) const {
    return key >= std::string_view(start) && (!end.has_value() || key < std::string_view(*end));
  }

  // Every key that starts with `prefix` (every key when it is empty).
  static KeyRange with_prefix(std::string prefix) {
    std::optional<std::string> end = prefix_end(prefix);
    return {std::move(prefix), std::move(end)};
  }
  // A request's range (kv.proto, RangeRequest): with `prefix`, the keys starting with `key`;
  // else [key, range_end), where an empty range_end means no upper bound.
  static KeyRange of_request(const std::string& key, const std::string& range_end, bool prefix) {
    if (prefix) return with_prefix(key);
    if (range_end.empty()) return {key, std::nullopt};
    return {key, range_end};
  }

  // The smallest key greater than every key that starts with `prefix`: drop trailing 0xff
  // bytes and increment the last remaining one. nullopt when there is none (an empty or
  // all-0xff prefix), which means the range has no upper bound.
  static std::optional<std::string> prefix_end(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
    if (prefix.empty()) return std::nullopt;
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
    return prefix;
  }
};

}  // namespace castor::kv

// Json: one JSON value (RFC 8259) for the HTTP API: a strict parser and a compact serializer.
//
// Numbers keep their integer-ness: an integer literal parses as int64 when it fits, else as
// uint64 when it fits (revisions are uint64), else as a double; anything with a fraction or an
// exponent is a double. Objects keep their members in insertion order, so that responses read
// the way the code builds them and tests can compare text.
//
// The parser is strict, because it reads requests from anyone who can reach the port: no
// comments, no trailing commas, no leading zeros, no NaN, no duplicate keys in one object, no
// raw control characters or invalid UTF-8 in strings, no lone surrogates in \u escapes, nothing
// after the value but whitespace. Its input size and nesting depth are bounded (JsonLimits), so
// a hostile body costs bounded time and stack.
//
// JSON strings are Unicode text, while Castor keys and values are bytes. dump() always writes
// valid UTF-8, replacing each byte that is not part of a valid UTF-8 sequence with U+FFFD
// (lossy). Callers that carry bytes check is_valid_utf8() or base64-encode them (base64.h), as
// Consul's KV API does.
//
// What it does NOT do: pretty-print, stream, or keep the original spelling of numbers.
// Threading: a plain value type; no shared state.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "raft/base/status.h"

namespace castor {

struct JsonLimits {
  size_t input_bytes_max = 4 * 1024 * 1024;
  // Arrays and objects nested deeper than this are rejected; the parser recurses once per level.
  size_t depth_max = 64;
};

class Json {
 public:
  enum class Type { kNull, kBool, kInt64, kUint64, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  // Members in insertion order; keys are unique (set() replaces, the parser rejects duplicates).
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  // Any integer type but bool: signed ones are stored as int64, unsigned ones as uint64.
  template <std::integral T>
  requires(!std::same_as<T, bool>) Json(T n) {
    if constexpr (std::is_signed_v<T>) {
      v_ = static_cast<int64_t>(n);
    } else {
      v_ = static_cast<uint64_t>(n);
    }
  }
  Json(double d) : v_(d) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Parses one complete JSON text. kInvalidArgument says at which byte offset (0-based) what
  // was expected; kTooLarge when `text` exceeds limits.input_bytes_max.
  static Result<Json> parse(std::string_view text, const JsonLimits& limits = {});

  // Compact JSON text (no whitespace). Doubles that are NaN or infinite have no JSON spelling
  // and are written as null; finite doubles round-trip exactly and always show a '.' or an
  // exponent, so that they parse back as doubles.
  std::string dump() const;
  void dump_to(std::string& out) const;

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const {
    return type() == Type::kInt64 || type() == Type::kUint64 || type() == Type::kDouble;
  }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Typed reads for request handling: nullopt/nullptr when the value is not of that type.
  std::optional<bool> get_bool() const;
  // The exact integer value if this is a number that holds one in range (2.0 counts, 2.5 does not).
  std::optional<int64_t> get_int64() const;
  std::optional<uint64_t> get_uint64() const;
  // Any number as a double (large integers round to the nearest double).
  std::optional<double> get_double() const;
  const std::string* get_string() const;
  const Array* get_array() const;
  Array* get_array();
  const Object* get_object() const;
  Object* get_object();

  // The member named `key` of an object, or nullptr (also when this is not an object).
  const Json* find(std::string_view key) const;

  // Building. set() makes a null into an object and push_back() a null into an array; on any
  // other type they are a bug (CASTOR_ASSERT).
  Json& set(std::string key, Json value);  // replaces an existing member in place, else appends
  Json& push_back(Json value);

  // Structural equality. Integers compare by value across int64/uint64; a double never equals
  // an integer (they serialize differently).
  friend bool operator==(const Json& a, const Json& b);

 private:
  std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string, Array, Object> v_;
};

// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Appends `text` as a quoted JSON string: ", \ and control characters escaped, bytes that are
// not valid UTF-8 replaced with U+FFFD.
void append_json_string(std::string& out, std::string_view text);

}  // namespace castor

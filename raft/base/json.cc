#include "raft/base/json.h"

#include <cmath>
#include <unordered_set>
#include <utility>
#include <vector>

namespace castor {
namespace {

// nlohmann's SAX events, building the value the way nlohmann's own DOM parser does, with the
// checks it lacks: a depth bound and duplicate keys. An object's members are gathered beside it
// and moved in when it closes: nlohmann's ordered object keeps pairs with a const key, which its
// vector copies (deep) instead of moving each time it grows, so appending to it directly let a
// crafted body of many wide nested objects cost far more than its size.
class BoundedBuilder {
 public:
  explicit BoundedBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return put_ok(nullptr); }
  bool boolean(bool b) { return put_ok(b); }
  bool number_integer(Json::number_integer_t n) { return put_ok(n); }
  bool number_unsigned(Json::number_unsigned_t n) { return put_ok(n); }
  bool number_float(Json::number_float_t d, const std::string&) { return put_ok(d); }
  bool string(std::string& s) { return put_ok(std::move(s)); }
  bool binary(Json::binary_t&) { return fail("binary values are not JSON"); }
  bool start_object(size_t) { return open(Json::object()); }
  bool key(std::string& k) {
    if (!open_.back().keys.insert(k).second) {
      return fail("duplicate key " + dump_json(Json(k)) + " in one object");
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(size_t) { return open(Json::array()); }
  bool end_array() { return close(); }
  bool parse_error(size_t position, const std::string&, const Json::exception& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 1, column 4: syntax error ..."
    // or "[json.exception.out_of_range.406] number overflow ...": keep what follows the prefix.
    std::string what = e.what();
    const size_t column = what.find(", column ");
    if (column != std::string::npos && what.find(": ", column) != std::string::npos) {
      what = what.substr(what.find(": ", column) + 2);
    } else if (what.rfind("[json.exception.", 0) == 0 && what.find("] ") != std::string::npos) {
      what = what.substr(what.find("] ") + 2);
    }
    return fail("at byte " + std::to_string(position == 0 ? 0 : position - 1) + ": " + what);
  }

  // `parsed`: what sax_parse returned.
  Result<Json> result(bool parsed) && {
    if (!parsed && error_.empty()) fail("the parser stopped without saying why");
    if (!error_.empty()) return Status(Code::kInvalidArgument, error_);
    return std::move(root_);
  }

 private:
  // An array or object being filled. Pointers to the Json values stay valid while they are
  // open: their parent gains no sibling until they close.
  struct Open {
    Json* value;
    std::vector<std::pair<std::string, Json>> members;  // an object's, moved in at close()
    std::unordered_set<std::string> keys;               // an object's keys so far
  };

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  // Adds a value where the parser is: the root, the next element, or the member after key().
  Json* put(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Open& parent = open_.back();
    if (parent.value->is_array()) {
      Json::array_t& elements = parent.value->get_ref<Json::array_t&>();
      elements.push_back(std::move(value));
      return &elements.back();
    }
    parent.members.emplace_back(std::move(key_), std::move(value));
    return &parent.members.back().second;
  }
  bool put_ok(Json value) { return put(std::move(value)) != nullptr; }
  bool open(Json empty) {
    if (open_.size() >= limits_.depth_max)
      return fail("nesting deeper than " + std::to_string(limits_.depth_max) + " levels");
    Json* value = put(std::move(empty));
    open_.push_back(Open{value, {}, {}});
    return true;
  }
  bool close() {
    Open& closing = open_.back();
    if (closing.value->is_object()) {
      // key() checked every key is new, so append without ordered_map's linear search.
      Json::object_t::Container& members = closing.value->get_ref<Json::object_t&>();
      members.reserve(closing.members.size());
      for (auto& [k, v] : closing.members) members.emplace_back(std::move(k), std::move(v));
    }
    open_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  Json root_;
  std::vector<Open> open_;  // innermost last
  std::string key_;
  std::string error_;
};

// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629, table 3.7 of the
// Unicode standard: no overlongs, no surrogates, nothing past U+10FFFF), or 0.
size_t utf8_sequence_length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t len = utf8_sequence_length(bytes.substr(i));
    if (len == 0) return false;
    i += len;
  }
  return true;
}

Result<Json> parse_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.input_bytes_max) {
    return Status(Code::kTooLarge, "JSON text of " + std::to_string(text.size()) +
                                       " bytes is over the limit of " +
                                       std::to_string(limits.input_bytes_max));
  }
  BoundedBuilder builder(limits);
  const bool parsed =
      Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                      /*strict=*/true, /*ignore_comments=*/false);
  return std::move(builder).result(parsed);
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* json_find(const Json& value, std::string_view key) {
  if (!value.is_object()) return nullptr;
  auto it = value.find(key);
  return it == value.end() ? nullptr : &*it;
}

std::optional<uint64_t> json_uint64(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    const auto n = value.get<int64_t>();
    return n < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(n));
  }
  if (!value.is_number_float()) return std::nullopt;
  const double d = value.get<double>();
  // 2^64 is exactly representable; every double below it and integral fits.
  if (!(d >= 0 && d < 18446744073709551616.0) || std::trunc(d) != d) return std::nullopt;
  return static_cast<uint64_t>(d);
}

std::optional<int64_t> json_int64(const Json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const auto n = value.get<uint64_t>();
    return n > uint64_t{INT64_MAX} ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(n));
  }
  if (!value.is_number_float()) return std::nullopt;
  const double d = value.get<double>();
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d) return std::nullopt;
  return static_cast<int64_t>(d);
}

}  // namespace castor

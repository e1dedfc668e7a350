#include "raft/base/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "raft/base/assert.h"

namespace castor {

namespace {

// Decodes one UTF-8 sequence at the start of `s`: its length and code point, or length 0 when
// the bytes there are not a well-formed sequence (RFC 3629 table 3.7 of the Unicode standard).
struct Utf8Seq {
  size_t len = 0;
  uint32_t cp = 0;
};

Utf8Seq decode_utf8(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return {1, c};
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
    return {};
  }
  if (s.size() < len) return {};
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return {};
  return {len, cp};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A recursive-descent parser over the whole input. Every error names the byte offset where
// the input stopped making sense and what would have been valid there.
class Parser {
 public:
  Parser(std::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

  Result<Json> parse_document() {
    Json v;
    if (!parse_value(v, 0)) return std::move(error_);
    skip_ws();
    if (pos_ != s_.size()) {
      fail("expected end of input after the value");
      return std::move(error_);
    }
    return v;
  }

 private:
  // Records the first error and returns false, so callers can `return fail(...)`.
  bool fail_at(size_t pos, const std::string& what) {
    error_ = Status(Code::kInvalidArgument, "invalid JSON at byte " + std::to_string(pos) + ": " + what);
    return false;
  }
  bool fail(const std::string& what) { return fail_at(pos_, what); }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return fail("expected a value");
    pos_ += word.size();
    return true;
  }

  bool parse_value(Json& out, size_t depth) {
    skip_ws();
    if (pos_ >= s_.size()) return fail("expected a value, found end of input");
    switch (s_[pos_]) {
      case '{':
        return parse_object(out, depth + 1);
      case '[':
        return parse_array(out, depth + 1);
      case '"': {
        std::string str;
        if (!parse_string(str)) return false;
        out = Json(std::move(str));
        return true;
      }
      case 't':
        out = Json(true);
        return literal("true");
      case 'f':
        out = Json(false);
        return literal("false");
      case 'n':
        out = Json();
        return literal("null");
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return parse_number(out);
        return fail("expected a value");
    }
  }

  bool check_depth(size_t depth) {
    if (depth > limits_.depth_max)
      return fail("nesting deeper than " + std::to_string(limits_.depth_max) + " levels");
    return true;
  }

  bool parse_array(Json& out, size_t depth) {
    if (!check_depth(depth)) return false;
    ++pos_;  // '['
    Json::Array items;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      out = Json(std::move(items));
      return true;
    }
    for (;;) {
      Json item;
      if (!parse_value(item, depth)) return false;
      items.push_back(std::move(item));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        out = Json(std::move(items));
        return true;
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  bool parse_object(Json& out, size_t depth) {
    if (!check_depth(depth)) return false;
    ++pos_;  // '{'
    Json::Object members;
    std::vector<size_t> key_offsets;  // where each key starts, to name a duplicate
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      out = Json(std::move(members));
      return true;
    }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string key in an object");
      key_offsets.push_back(pos_);
      std::string key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':' after an object key");
      ++pos_;
      Json value;
      if (!parse_value(value, depth)) return false;
      members.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        break;
      }
      return fail("expected ',' or '}' in an object");
    }
    // Duplicate keys are rejected: RFC 8259 leaves their meaning open, and two parsers that
    // pick different members are a classic way to smuggle a request past a check. Sorting
    // indexes keeps this O(n log n) for objects with many members.
    std::vector<size_t> order(members.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return members[a].first != members[b].first ? members[a].first < members[b].first : a < b;
    });
    for (size_t i = 1; i < order.size(); ++i) {
      if (members[order[i]].first == members[order[i - 1]].first) {
        return fail_at(key_offsets[order[i]], "duplicate key in an object");
      }
    }
    out = Json(std::move(members));
    return true;
  }

  // Four hex digits at pos_, consumed.
  bool parse_hex4(uint32_t& out) {
    if (s_.size() - pos_ < 4) return fail("expected four hex digits after \\u");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_];
      uint32_t d = 0;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return fail("expected a hex digit in a \\u escape");
      }
      out = out * 16 + d;
      ++pos_;
    }
    return true;
  }

  bool parse_escape(std::string& out) {
    const size_t start = pos_;  // at the backslash
    ++pos_;
    if (pos_ >= s_.size()) return fail("expected an escape character, found end of input");
    const char c = s_[pos_++];
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        return fail_at(pos_ - 1, "expected one of \"\\/bfnrtu after a backslash");
    }
    uint32_t cp = 0;
    if (!parse_hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return fail_at(start, "a low surrogate \\u escape without a high one before it");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate must be followed by an escaped low surrogate: together they name
      // one code point above U+FFFF (RFC 8259 section 7).
      if (s_.substr(pos_, 2) != "\\u")
        return fail_at(start, "a high surrogate \\u escape without a low one after it");
      pos_ += 2;
      uint32_t low = 0;
      if (!parse_hex4(low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return fail_at(pos_ - 6, "expected a low surrogate \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  bool parse_string(std::string& out) {
    const size_t open = pos_;
    ++pos_;  // '"'
    for (;;) {
      // Copy the run of plain ASCII in one go: most strings are nothing else.
      const size_t run = pos_;
      while (pos_ < s_.size()) {
        const unsigned char c = static_cast<unsigned char>(s_[pos_]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out.append(s_.data() + run, pos_ - run);
      if (pos_ >= s_.size()) return fail_at(open, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (!parse_escape(out)) return false;
      } else if (c < 0x20) {
        return fail("expected an escape for control character in a string");
      } else {
        const Utf8Seq seq = decode_utf8(s_.substr(pos_));
        if (seq.len == 0) return fail("invalid UTF-8 in a string");
        out.append(s_.data() + pos_, seq.len);
        pos_ += seq.len;
      }
    }
  }

  bool parse_number(Json& out) {
    const size_t start = pos_;
    const auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
    bool integer = true;
    if (s_[pos_] == '-') ++pos_;
    if (!digit()) return fail("expected a digit");
    if (s_[pos_] == '0') {
      ++pos_;
      if (digit()) return fail("expected no leading zero in a number");
    } else {
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integer = false;
      ++pos_;
      if (!digit()) return fail("expected a digit after the decimal point");
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integer = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit()) return fail("expected a digit in the exponent");
      while (digit()) ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (integer) {
      int64_t i = 0;
      if (std::from_chars(first, last, i).ec == std::errc()) {
        out = Json(i);
        return true;
      }
      uint64_t u = 0;
      if (*first != '-' && std::from_chars(first, last, u).ec == std::errc()) {
        out = Json(u);
        return true;
      }
    }
    // from_chars needs no locale and reports out-of-range instead of returning infinity.
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec != std::errc() || r.ptr != last) return fail_at(start, "number out of the range of a double");
    out = Json(d);
    return true;
  }

  std::string_view s_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  Status error_;
};

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  // The shortest text that reads back as the same double, %g-style: "0.0005" rather than
  // "5e-04", and an exponent from 1e+06 up (as Go prints, so Prometheus-side tools agree).
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general);
  const std::string_view text(buf, r.ptr - buf);
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Seq seq = decode_utf8(bytes.substr(i));
    if (seq.len == 0) return false;
    i += seq.len;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const Utf8Seq seq = decode_utf8(text.substr(i));
      if (seq.len == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, for one invalid byte
        ++i;
      } else {
        out.append(text.data() + i, seq.len);
        i += seq.len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

Result<Json> Json::parse(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.input_bytes_max) {
    return Status(Code::kTooLarge, "JSON text of " + std::to_string(text.size()) +
                                       " bytes is over the limit of " +
                                       std::to_string(limits.input_bytes_max));
  }
  return Parser(text, limits).parse_document();
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

void Json::dump_to(std::string& out) const {
  switch (type()) {
    case Type::kNull:
      out += "null";
      return;
    case Type::kBool:
      out += std::get<bool>(v_) ? "true" : "false";
      return;
    case Type::kInt64:
      out += std::to_string(std::get<int64_t>(v_));
      return;
    case Type::kUint64:
      out += std::to_string(std::get<uint64_t>(v_));
      return;
    case Type::kDouble:
      append_double(out, std::get<double>(v_));
      return;
    case Type::kString:
      append_json_string(out, std::get<std::string>(v_));
      return;
    case Type::kArray: {
      out += '[';
      bool first = true;
      for (const Json& item : std::get<Array>(v_)) {
        if (!first) out += ',';
        first = false;
        item.dump_to(out);
      }
      out += ']';
      return;
    }
    case Type::kObject: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : std::get<Object>(v_)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        value.dump_to(out);
      }
      out += '}';
      return;
    }
  }
}

std::optional<bool> Json::get_bool() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  return std::nullopt;
}

std::optional<int64_t> Json::get_int64() const {
  switch (type()) {
    case Type::kInt64:
      return std::get<int64_t>(v_);
    case Type::kUint64: {
      const uint64_t u = std::get<uint64_t>(v_);
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
      return std::nullopt;
    }
    case Type::kDouble: {
      // [-2^63, 2^63) is exactly the range of int64; both bounds are doubles exactly.
      const double d = std::get<double>(v_);
      if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && std::trunc(d) == d)
        return static_cast<int64_t>(d);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<uint64_t> Json::get_uint64() const {
  switch (type()) {
    case Type::kInt64: {
      const int64_t i = std::get<int64_t>(v_);
      if (i >= 0) return static_cast<uint64_t>(i);
      return std::nullopt;
    }
    case Type::kUint64:
      return std::get<uint64_t>(v_);
    case Type::kDouble: {
      const double d = std::get<double>(v_);
      if (d >= 0 && d < 18446744073709551616.0 && std::trunc(d) == d) return static_cast<uint64_t>(d);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> Json::get_double() const {
  switch (type()) {
    case Type::kInt64:
      return static_cast<double>(std::get<int64_t>(v_));
    case Type::kUint64:
      return static_cast<double>(std::get<uint64_t>(v_));
    case Type::kDouble:
      return std::get<double>(v_);
    default:
      return std::nullopt;
  }
}

const std::string* Json::get_string() const { return std::get_if<std::string>(&v_); }
const Json::Array* Json::get_array() const { return std::get_if<Array>(&v_); }
Json::Array* Json::get_array() { return std::get_if<Array>(&v_); }
const Json::Object* Json::get_object() const { return std::get_if<Object>(&v_); }
Json::Object* Json::get_object() { return std::get_if<Object>(&v_); }

const Json* Json::find(std::string_view key) const {
  const Object* o = get_object();
  if (o == nullptr) return nullptr;
  for (const auto& [k, v] : *o) {
    if (k == key) return &v;
  }
  return nullptr;
}

Json& Json::set(std::string key, Json value) {
  if (is_null()) v_ = Object{};
  Object* o = get_object();
  CASTOR_ASSERT(o != nullptr, "Json::set on a value that is not an object");
  for (auto& [k, v] : *o) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  o->emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push_back(Json value) {
  if (is_null()) v_ = Array{};
  Array* a = get_array();
  CASTOR_ASSERT(a != nullptr, "Json::push_back on a value that is not an array");
  a->push_back(std::move(value));
  return *this;
}

bool operator==(const Json& a, const Json& b) {
  const bool a_int = a.type() == Json::Type::kInt64 || a.type() == Json::Type::kUint64;
  const bool b_int = b.type() == Json::Type::kInt64 || b.type() == Json::Type::kUint64;
  if (a_int && b_int) {
    // Equal values fit the same type except when one side is negative (int64 only).
    const auto ai = a.get_int64(), bi = b.get_int64();
    if (ai.has_value() || bi.has_value()) return ai == bi;
    return a.get_uint64() == b.get_uint64();
  }
  return a.v_ == b.v_;
}

}  // namespace castor

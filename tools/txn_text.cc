#include "tools/txn_text.h"

#include <charconv>

namespace castor::tools {

namespace pb = kv::pb;

namespace {

Status invalid(std::string why) { return Status(Code::kInvalidArgument, std::move(why)); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<uint64_t> parse_u64(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return invalid("'" + s + "' is not a number");
  return v;
}

Result<pb::Compare::Op> parse_op(const std::string& s) {
  if (s == "=" || s == "==") return pb::Compare::EQUAL;
  if (s == "!=") return pb::Compare::NOT_EQUAL;
  if (s == "<") return pb::Compare::LESS;
  if (s == ">") return pb::Compare::GREATER;
  return invalid("unknown operator '" + s + "' (want = != < >)");
}

Status parse_compare(const std::vector<std::string>& t, pb::Compare& c) {
  if (t.size() != 5) return invalid("want: compare FIELD KEY OP OPERAND");
  const std::string& field = t[1];
  c.set_key(t[2]);
  auto op = parse_op(t[3]);
  if (!op.is_ok()) return op.status();
  c.set_op(*op);
  if (field == "value") {
    c.set_value(t[4]);
    return Status::ok();
  }
  auto n = parse_u64(t[4]);
  if (!n.is_ok()) return n.status();
  if (field == "version" || field == "ver") {
    c.set_version(*n);
  } else if (field == "create_revision" || field == "create") {
    c.set_create_revision(*n);
  } else if (field == "mod_revision" || field == "mod") {
    c.set_mod_revision(*n);
  } else {
    return invalid("unknown field '" + field + "' (want value, version, create_revision or mod_revision)");
  }
  return Status::ok();
}

Status parse_op_line(const std::vector<std::string>& t, pb::RequestOp& op) {
  const std::string verb = t.size() > 1 ? t[1] : "";
  auto want = [&](size_t args, const char* usage) {
    return t.size() == args + 2 ? Status::ok() : invalid(std::string("want: ") + t[0] + " " + usage);
  };
  if (verb == "get") {
    if (Status s = want(1, "get KEY"); !s.is_ok()) return s;
    op.mutable_get()->set_key(t[2]);
  } else if (verb == "range") {
    if (Status s = want(1, "range PREFIX"); !s.is_ok()) return s;
    op.mutable_range()->set_key(t[2]);
    op.mutable_range()->set_prefix(true);
  } else if (verb == "put") {
    if (Status s = want(2, "put KEY VALUE"); !s.is_ok()) return s;
    op.mutable_put()->set_key(t[2]);
    op.mutable_put()->set_value(t[3]);
  } else if (verb == "del") {
    if (Status s = want(1, "del KEY"); !s.is_ok()) return s;
    op.mutable_delete_key()->set_key(t[2]);
  } else if (verb == "del_prefix") {
    if (Status s = want(1, "del_prefix PREFIX"); !s.is_ok()) return s;
    op.mutable_delete_range()->set_key(t[2]);
    op.mutable_delete_range()->set_prefix(true);
  } else {
    return invalid("unknown op '" + verb + "' (want get, range, put, del or del_prefix)");
  }
  return Status::ok();
}

// The token that starts with a quote at line[i], its escapes decoded; advances i past the
// closing quote.
Result<std::string> read_quoted(std::string_view line, size_t& i) {
  std::string token;
  ++i;  // the opening quote
  bool closed = false;
  while (i < line.size()) {
    const char d = line[i++];
    if (d == '"') {
      closed = true;
      break;
    }
    if (d != '\\') {
      token += d;
      continue;
    }
    if (i == line.size()) break;
    const char e = line[i++];
    switch (e) {
      case '"':
        token += '"';
        break;
      case '\\':
        token += '\\';
        break;
      case 'n':
        token += '\n';
        break;
      case 'r':
        token += '\r';
        break;
      case 't':
        token += '\t';
        break;
      case '0':
        token += '\0';
        break;
      case 'x': {
        const int hi = i < line.size() ? hex_digit(line[i]) : -1;
        const int lo = i + 1 < line.size() ? hex_digit(line[i + 1]) : -1;
        if (hi < 0 || lo < 0) return invalid("\\x needs two hex digits");
        token += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        return invalid(std::string("unknown escape \\") + e);
    }
  }
  if (!closed) return invalid("unterminated quote");
  return token;
}

}  // namespace

Result<std::vector<std::string>> split_txn_line(std::string_view line) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') break;
    std::string token;
    if (c != '"') {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#') {
        if (line[i] == '"') return invalid("a quote inside a token (quote the whole token)");
        token += line[i++];
      }
      tokens.push_back(std::move(token));
      continue;
    }
    Result<std::string> quoted = read_quoted(line, i);
    if (!quoted.is_ok()) return quoted.status();
    token = std::move(*quoted);
    if (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#') {
      return invalid("a closing quote must end the token");
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

Result<pb::TxnRequest> parse_txn_text(std::string_view text) {
  pb::TxnRequest txn;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    auto tokens = split_txn_line(line);
    if (!tokens.is_ok()) return invalid(where + tokens.status().message());
    if (tokens->empty()) continue;
    const std::string& head = (*tokens)[0];
    Status s;
    if (head == "compare") {
      s = parse_compare(*tokens, *txn.add_compares());
    } else if (head == "success") {
      s = parse_op_line(*tokens, *txn.add_success());
    } else if (head == "failure") {
      s = parse_op_line(*tokens, *txn.add_failure());
    } else {
      s = invalid("a line starts with compare, success or failure, not '" + head + "'");
    }
    if (!s.is_ok()) return invalid(where + s.message());
  }
  return txn;
}

}  // namespace castor::tools

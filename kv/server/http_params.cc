#include "kv/server/http_params.h"

#include <algorithm>
#include <charconv>

namespace castor::kv {

using net::HttpRequest;

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> known) {
  return std::find(known.begin(), known.end(), name) != known.end();
}

Status check_params(const HttpRequest& req, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.query) {
    if (!is_one_of(name, known)) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Status(Code::kInvalidArgument, "unknown query parameter '" + name + "' (this request takes: " +
                                                (list.empty() ? "none" : list) + ")");
    }
  }
  return Status::ok();
}

Result<std::optional<uint64_t>> uint_param(const HttpRequest& req, const std::string& name) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::optional<uint64_t>();
  uint64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return Status(Code::kInvalidArgument, "?" + name + "=" + s + " is not a non-negative integer");
  }
  return std::optional<uint64_t>(v);
}

}  // namespace castor::kv

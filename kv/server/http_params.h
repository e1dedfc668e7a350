// Query parameters of the HTTP API (kv/server/http_api.h): every request names the parameters it
// takes, so that a typo (`?cass=5`) is an error rather than a silently different request.
//
// What it does NOT do: percent-decode (net/http_server.h did) or know any route's parameters.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_server.h"
#include "raft/base/status.h"

namespace castor::kv {

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> known);

// kInvalidArgument naming the first parameter of `request` not in `known`, and what it takes.
Status check_params(const net::HttpRequest& request, std::initializer_list<std::string_view> known);

// The parameter `name` as a non-negative integer; nullopt when absent; kInvalidArgument when it
// is not one.
Result<std::optional<uint64_t>> uint_param(const net::HttpRequest& request, const std::string& name);

}  // namespace castor::kv

#include "net/endpoint.h"

#include <charconv>

namespace castor::net {

Result<Endpoint> parse_endpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status(Code::kInvalidArgument, "address '" + text + "' is not host:port");
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3)
      return Status(Code::kInvalidArgument, "address '" + text + "' has a bad IPv6 host");
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const char* b = text.data() + colon + 1;
  const char* e = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || ptr != e || port == 0 || port > 65535) {
    return Status(Code::kInvalidArgument, "address '" + text + "' has a bad port (want 1-65535)");
  }
  return Endpoint{host, static_cast<uint16_t>(port)};
}

}  // namespace castor::net

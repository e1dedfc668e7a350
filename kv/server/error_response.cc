#include "kv/server/error_response.h"

#include "kv/machine/error_code.h"

namespace castor::kv {

pb::ClientResponse error_response(uint64_t request_id, Code code, const std::string& message) {
  pb::ClientResponse r;
  r.set_request_id(request_id);
  r.set_code(to_error_code(code));
  r.set_message(message);
  return r;
}

}  // namespace castor::kv

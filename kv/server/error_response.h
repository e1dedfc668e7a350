// error_response: a client answer that carries only an error (the header is filled when it is
// sent, kv::Server::Impl::answer).
#pragma once

#include <cstdint>
#include <string>

#include "kv/kv.pb.h"
#include "raft/base/status.h"

namespace castor::kv {

pb::ClientResponse error_response(uint64_t request_id, Code code, const std::string& message);

}  // namespace castor::kv

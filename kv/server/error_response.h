// error_response: a client answer that carries only an error (the header is filled when it is
// sent, kv::Server::Impl::answer); fail: such an answer to a waiting request.
//
// What it does NOT do: choose the code (the caller does, castor::Code as in docs/STYLE.md) or
// send anything itself: `fail` hands the answer to the host, which fills the header.
#pragma once

#include <cstdint>
#include <string>

#include "kv/kv.pb.h"
#include "kv/server/pending.h"
#include "raft/base/status.h"

namespace castor::kv {

pb::ClientResponse error_response(uint64_t request_id, Code code, const std::string& message);

// Answers a waiting request with an error, through `host`'s answer() (which fills the header).
template <typename Host, typename Extra>
void fail(const Host& host, const Waiting<Extra>& w, Code code, const std::string& why) {
  host.answer(w.respond, error_response(w.request_id, code, why));
}

}  // namespace castor::kv

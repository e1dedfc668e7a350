// A client's request frame, as the node reads it: parsed, then validated against the default
// limits before anything else looks at it (kv/machine/limits.h). Checked: validate answers only OK,
// INVALID_ARGUMENT or TOO_LARGE, as it promises.
#include <cstdlib>

#include "kv/kv.pb.h"
#include "kv/machine/limits.h"

using castor::Code;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor::kv::pb::ClientRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const castor::Status s = castor::kv::validate(request, castor::kv::Limits{});
  if (!s.is_ok() && s.code() != Code::kInvalidArgument && s.code() != Code::kTooLarge) abort();
  return 0;
}

#include "raft/base/status.h"

namespace castor {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotLeader:
      return "NOT_LEADER";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kUnknown:
      return "UNKNOWN";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kTooLarge:
      return "TOO_LARGE";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kCorruption:
      return "CORRUPTION";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kDropped:
      return "DROPPED";
    case Code::kSessionExpired:
      return "SESSION_EXPIRED";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kCompacted:
      return "COMPACTED";
    case Code::kTooSlow:
      return "TOO_SLOW";
  }
  return "INVALID_CODE";
}

std::string Status::to_string() const {
  if (message_.empty()) return code_name(code_);
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace castor

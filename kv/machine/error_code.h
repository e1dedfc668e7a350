// to_error_code: castor::Code as the wire's pb::ErrorCode. The two enums share their numbers,
// checked here at compile time, so the conversion is a cast that cannot drift.
//
// What it does NOT do: choose a code for a failure, or convert back: a pb::ErrorCode becomes a Code
// by a plain static_cast where needed (kv/client/client.cc).
#pragma once

#include "kv/kv.pb.h"
#include "raft/base/status.h"

namespace castor::kv {

static_assert(static_cast<int>(Code::kOk) == pb::OK);
static_assert(static_cast<int>(Code::kNotLeader) == pb::NOT_LEADER);
static_assert(static_cast<int>(Code::kUnavailable) == pb::UNAVAILABLE);
static_assert(static_cast<int>(Code::kUnknown) == pb::UNKNOWN);
static_assert(static_cast<int>(Code::kFailedPrecondition) == pb::FAILED_PRECONDITION);
static_assert(static_cast<int>(Code::kInvalidArgument) == pb::INVALID_ARGUMENT);
static_assert(static_cast<int>(Code::kTooLarge) == pb::TOO_LARGE);
static_assert(static_cast<int>(Code::kResourceExhausted) == pb::RESOURCE_EXHAUSTED);
static_assert(static_cast<int>(Code::kCorruption) == pb::CORRUPTION);
static_assert(static_cast<int>(Code::kInternal) == pb::INTERNAL);
static_assert(static_cast<int>(Code::kDropped) == pb::DROPPED);
static_assert(static_cast<int>(Code::kSessionExpired) == pb::SESSION_EXPIRED);
static_assert(static_cast<int>(Code::kNotFound) == pb::NOT_FOUND);
static_assert(static_cast<int>(Code::kCompacted) == pb::COMPACTED);
static_assert(static_cast<int>(Code::kTooSlow) == pb::TOO_SLOW);
// A code added to kv.proto must be added to castor::Code too (and then above).
static_assert(pb::ErrorCode_MAX == pb::TOO_SLOW);

inline pb::ErrorCode to_error_code(Code code) { return static_cast<pb::ErrorCode>(code); }

}  // namespace castor::kv

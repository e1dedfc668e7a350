// Outcome<T>: what became of one client call, in the three ways docs/PROMISES.md promises.
//
//   OK       it took effect; value() holds the answer and header() the state it was computed at.
//   FAILED   it certainly did not take effect: every attempt was refused before it could apply.
//            status() holds the refusal's code (UNAVAILABLE, INVALID_ARGUMENT, TOO_LARGE, ...).
//   UNKNOWN  it may or may not have taken effect: an attempt reached a node and then the
//            connection broke or the deadline passed without a definitive answer. status() is
//            Code::kUnknown and says why.
//
// One FAILED outcome carries a value too: a CAS whose compare was false is FAILED with
// FAILED_PRECONDITION (the swap did not happen), and value() holds the Txn's answer, whose
// failure branch read the key's current state.
//
// What it does NOT do: retry, or find out later what became of an UNKNOWN call: kv::Client has
// decided the outcome. Nor does it throw: value() on an outcome without one aborts (CASTOR_ASSERT).
// A plain value type. Not thread-safe (like any value); safe to move between threads.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "kv/kv.pb.h"
#include "raft/base/assert.h"
#include "raft/base/status.h"

namespace castor::kv {

// Outside the template so that outcomes of different value types share it (Outcome::map).
enum class OutcomeKind { kOk, kFailed, kUnknown };

inline const char* outcome_name(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kOk:
      return "OK";
    case OutcomeKind::kFailed:
      return "FAILED";
    case OutcomeKind::kUnknown:
      return "UNKNOWN";
  }
  return "INVALID_OUTCOME";
}

template <typename T>
class Outcome {
 public:
  using Kind = OutcomeKind;

  static Outcome ok(T value, pb::ResponseHeader header) {
    return Outcome(Kind::kOk, Status::ok(), std::move(header), std::move(value));
  }
  // `status` must not be OK. `value` is for the CAS case above.
  static Outcome failed(Status status, pb::ResponseHeader header = {},
                        std::optional<T> value = std::nullopt) {
    CASTOR_ASSERT(!status.is_ok(), "a failed outcome needs a failure code");
    return Outcome(Kind::kFailed, std::move(status), std::move(header), std::move(value));
  }
  static Outcome unknown(std::string why) {
    return Outcome(Kind::kUnknown, Status(Code::kUnknown, std::move(why)), {}, std::nullopt);
  }

  Kind kind() const { return kind_; }
  bool is_ok() const { return kind_ == Kind::kOk; }
  bool is_failed() const { return kind_ == Kind::kFailed; }
  bool is_unknown() const { return kind_ == Kind::kUnknown; }
  // OK; the failure's code and message; or kUnknown and why.
  const Status& status() const { return status_; }
  // The header of the answer that decided the outcome (empty when no answer decided it).
  const pb::ResponseHeader& header() const { return header_; }

  bool has_value() const { return value_.has_value(); }
  const T& value() const {
    CASTOR_ASSERT(value_.has_value(), "this outcome holds no value");
    return *value_;
  }
  T& value() {
    CASTOR_ASSERT(value_.has_value(), "this outcome holds no value");
    return *value_;
  }

  // The same outcome with its value (if any) converted by `f`.
  template <typename U, typename F>
  Outcome<U> map(F&& f) && {
    std::optional<U> converted;
    if (value_) converted = f(std::move(*value_));
    return Outcome<U>::from_parts(kind_, std::move(status_), std::move(header_), std::move(converted));
  }

  // Assembles an outcome from its parts; for map() and the client's internals.
  static Outcome from_parts(Kind kind, Status status, pb::ResponseHeader header, std::optional<T> value) {
    return Outcome(kind, std::move(status), std::move(header), std::move(value));
  }

 private:
  Outcome(Kind kind, Status status, pb::ResponseHeader header, std::optional<T> value)
      : kind_(kind), status_(std::move(status)), header_(std::move(header)), value_(std::move(value)) {}

  Kind kind_;
  Status status_;
  pb::ResponseHeader header_;
  std::optional<T> value_;
};

}  // namespace castor::kv

// Status and Result<T>: expected outcomes as values, shared by every Castor module.
//
// A broken invariant is a bug and goes through CASTOR_ASSERT (assert.h); anything a caller
// can reasonably meet (a full queue, a compare that failed, a corrupt file) is a Status.
//
// What it does NOT do: log or abort. A Status is only a value: [[nodiscard]] makes the compiler flag
// one that is dropped, and value() on a failed Result is not checked (std::get throws).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace castor {

// The codes (docs/STYLE.md, "Errors are values"). The wire protocol carries the same numbers.
enum class Code {
  kOk = 0,
  kNotLeader,           // this node is not the leader; the response header names it when known
  kUnavailable,         // no leader, no quorum, shutting down: retry later
  kUnknown,             // the request may or may not have taken effect
  kFailedPrecondition,  // a compare was false
  kInvalidArgument,
  kTooLarge,           // a key, value, frame or transaction exceeds its limit
  kResourceExhausted,  // a bounded queue or the LMDB map is full
  kCorruption,         // stored data failed a check; the node must not start on it
  kInternal,
  kDropped,         // a proposal the Raft core could not take (queue full, transfer)
  kSessionExpired,  // the client's session is gone; register again
  kNotFound,
  kCompacted,  // a watch's start revision is older than the history the node keeps
  kTooSlow,    // a watcher did not take its events in time and was cancelled
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_LEADER: ..." for logs and CLI output.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace castor

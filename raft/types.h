// Distinct types for the numbers Raft juggles, so that a term is never passed as an index.
// Each wraps a uint64_t; `.value` is the raw number for protobuf and printing.
//
// What it does NOT do: check ranges or overflow. LogIndex arithmetic wraps as uint64_t does;
// numbers from the network are bounded before they get here (raft/message_check.h).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace castor::raft {

template <typename Tag>
struct Strong {
  uint64_t value = 0;

  constexpr Strong() = default;
  constexpr explicit Strong(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const Strong&) const = default;
};

struct TermTag {};
struct NodeIdTag {};
using Term = Strong<TermTag>;
// 0 is "nobody": no vote, no known leader. Real nodes have ids >= 1.
using NodeId = Strong<NodeIdTag>;
inline constexpr NodeId kNoNode{0};

// Log indexes start at 1; index 0 is the empty log's "last index". Indexes get arithmetic
// because the log walks them; terms and node ids do not.
struct LogIndex : Strong<struct LogIndexTag> {
  using Strong::Strong;
  constexpr LogIndex operator+(uint64_t n) const { return LogIndex(value + n); }
  constexpr LogIndex operator-(uint64_t n) const { return LogIndex(value - n); }
  constexpr uint64_t operator-(LogIndex o) const { return value - o.value; }
  constexpr LogIndex& operator++() {
    ++value;
    return *this;
  }
  constexpr auto operator<=>(const LogIndex&) const = default;
};

}  // namespace castor::raft

template <typename Tag>
struct std::hash<castor::raft::Strong<Tag>> {
  size_t operator()(const castor::raft::Strong<Tag>& s) const { return std::hash<uint64_t>()(s.value); }
};

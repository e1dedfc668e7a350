// ReadContexts: the names a host gives its linearizable reads (Node::read_index's `context`).
//
// A follower forwards a read to the leader and releases it when the answer comes back with the
// same context. Answers can outlive the process that asked: a node that restarts keeps its
// peer links' queues and the leader's answers in flight, and a counter that restarts at 1
// would let an answer meant for read 1 of the previous run release read 1 of this run at an
// index from before it began, missing writes acknowledged in between (thesis 6.4). So every
// context carries the run's incarnation, a number the host picks afresh at each start (castord:
// random; the simulator: drawn from its seed), and answers of other runs are not recognised.
//
// What it does NOT do: pick the incarnation (the host does) or track which reads are pending: it
// only names reads and recognises its own names.
// Pure and deterministic; not thread-safe (one per host, on the thread that asks for reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor::raft {

class ReadContexts {
 public:
  explicit ReadContexts(uint64_t incarnation) : incarnation_(incarnation) {}

  // A context no earlier call of this object returned, and no object of another incarnation.
  std::string next() { return encode(incarnation_, ++last_); }
  // The read number (1, 2, ...) of a context this object made; nullopt for another run's, or
  // for bytes that are no context at all.
  std::optional<uint64_t> number_of(std::string_view context) const {
    if (context.size() != 16 || decode(context.substr(0, 8)) != incarnation_) return std::nullopt;
    return decode(context.substr(8));
  }

 private:
  static std::string encode(uint64_t incarnation, uint64_t number) {
    std::string out(16, '\0');
    for (int i = 0; i < 8; ++i) {
      out[7 - i] = static_cast<char>(incarnation >> (8 * i));
      out[15 - i] = static_cast<char>(number >> (8 * i));
    }
    return out;
  }
  static uint64_t decode(std::string_view eight) {
    uint64_t v = 0;
    for (char c : eight) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }

  uint64_t incarnation_;
  uint64_t last_ = 0;
};

}  // namespace castor::raft

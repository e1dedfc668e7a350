// Rng: a small seeded generator (SplitMix64) for the crash test. Chosen over <random>'s
// distributions because their output is left to the standard library: the workload must be
// the same function of its seed wherever the parent and the child were built.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace castor::crash {

// Not thread-safe; one per stream of decisions.
class Rng {
 public:
  // A stream named by several numbers (seed, index, slot...), so that each decision draws from
  // its own stream and adding a draw in one place does not shift every other.
  explicit Rng(std::initializer_list<uint64_t> names) {
    for (uint64_t n : names) {
      state_ ^= n;
      state_ = next();  // mixes each name in, so that (1, 2) and (2, 1) are different streams
    }
  }

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for the small n used here (the modulo bias is negligible); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  bool one_in(uint64_t n) { return below(n) == 0; }

 private:
  uint64_t state_ = 0;
};

}  // namespace castor::crash

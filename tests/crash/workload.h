// Workload: the Raft entries the crash test's child appends, each a pure function of
// (seed, index), so that the parent can regenerate any entry and compare it byte for byte with
// what the reopened log holds. A child killed before an entry became durable writes the same
// entry again after its restart, as a client retrying its request would.
#pragma once

#include <cstdint>

#include "kv/kv.pb.h"
#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::crash {

// Everything is in term 1, as written by a single-node leader: a second term would add nothing
// here (the log's term checks are the unit tests' business).
inline constexpr uint64_t kTerm = 1;

// The shape of the load: entries 1 and 2 register the two clients (which get ids 1 and 2,
// because the state machine numbers sessions from 1); every 23rd entry is a no-op, as a new
// leader's first entry; the others carry 1 to 8 writes (puts, deletes, delete-ranges and txns
// with compares on every field) over 300 keys, some of them retries of earlier writes with the
// same (client_id, seq): recent ones, answered from the session cache, and old ones whose
// answers were discarded, which the state machine refuses with UNKNOWN.
//
// Pure and stateless: safe from any thread, and the parent and the child get the same entries.
class Workload {
 public:
  explicit Workload(uint64_t seed) : seed_(seed) {}

  raft::pb::Entry entry(raft::LogIndex index) const;

 private:
  // How many commands entry `index` (a write entry) carries.
  uint32_t command_count(uint64_t index) const;
  // The write first proposed in slot `slot` of entry `index`; a retry later sends it again.
  kv::pb::WriteRequest original_write(uint64_t index, uint32_t slot) const;
  bool is_write_entry(uint64_t index) const;

  uint64_t seed_;
};

}  // namespace castor::crash

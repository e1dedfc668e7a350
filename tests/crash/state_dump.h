// StateDump: everything a StateMachine holds, read through its public interface, so that the
// crash test can tell whether two state machines hold the same state and say where they differ.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/state_machine.h"
#include "raft/base/status.h"

namespace castor::crash {

struct StateDump {
  uint64_t applied_index = 0;
  // Every key as clients see it (value, create and mod revision, version), from Ranges over the
  // whole key space.
  std::vector<kv::pb::KeyValue> kvs;
  // Every record of a snapshot stream, by (table id, key): the keys again, and what no read
  // shows: the session table, the cached answers that duplicates get, the applied index and
  // term, the session clock and the next client id.
  std::map<std::pair<uint8_t, std::string>, std::string> records;
};

// Reads the whole state; a failing read or a snapshot stream that does not decode is its error.
Result<StateDump> dump_state(const kv::StateMachine& state);

// Where `a` and `b` first differ, described for a human (named `a_name` and `b_name`), or
// nullopt when they hold the same state.
std::optional<std::string> first_difference(const StateDump& a, const std::string& a_name, const StateDump& b,
                                            const std::string& b_name);

}  // namespace castor::crash

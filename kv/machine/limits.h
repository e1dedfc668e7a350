// Limits: the size bounds of client requests, and the checks that enforce them.
//
// What it does NOT do: look at any state. validate() sees one request and the limits, not the keys,
// the sessions or who leads; nor does it read flags (tools/castord_options.cc fills Limits).
#pragma once

#include <cstdint>

#include "kv/kv.pb.h"
#include "raft/base/status.h"

namespace castor::kv {

// LMDB cannot store a key longer than mdb_env_get_maxkeysize(): 511 bytes in the Debian build
// (StateMachine::open refuses another). A key is a name, and 511 bytes is far more than
// control-plane names need.
inline constexpr uint64_t kLmdbKeyBytesMax = 511;

// Every bound a request meets (docs/PROMISES.md, "Bounded"). The server checks a request
// with validate() before proposing it, so an oversized request never reaches the log. These
// are a node's own settings (flags) and may differ between nodes, as during a rolling change:
// the state machine, applying an entry, checks only the request's shape and LMDB's key bound
// (state_machine.cc, kApplyLimits), so every replica applies an entry the same way whatever
// its flags. The range bounds are not flags: they shape the answers of Range ops inside a Txn,
// which sessions keep, so they must be the same everywhere.
struct Limits {
  uint64_t key_bytes_max = kLmdbKeyBytesMax;
  uint64_t value_bytes_max = 1 << 20;
  // Compares + success ops + failure ops of one Txn. A promotion uses about 8 (section 2).
  uint64_t txn_ops_max = 128;
  // The serialized request: a maximal value plus its key and envelope, like etcd's
  // --max-request-bytes, and well under the 4 MiB frame limit.
  uint64_t request_bytes_max = 1536 * 1024;
  // A Range returns at most this many kvs, and stops adding kvs once the response holds this
  // many bytes of keys and values (setting `more`), so that it fits in one 4 MiB frame.
  uint64_t range_kvs_max = 10000;
  uint64_t range_response_bytes_max = 3 << 20;
  // What the reads of one Txn (its Get and Range ops, in both branches) could answer at most,
  // counted from the request alone before it is proposed: a value of value_bytes_max per Get
  // (and per Put or Delete asking for prev_kv), a
  // Range's limit (or its byte bound) per Range. Over this the Txn is TOO_LARGE, so that no
  // answer outgrows a 4 MiB frame (128 Ranges over large values once built a 384 MiB answer):
  // a Range without a limit (up to 3 MiB) and a Get (up to 1 MiB) do not fit together.
  uint64_t txn_response_bytes_max = (4 << 20) - (64 << 10);
};

// Each returns INVALID_ARGUMENT (malformed: empty key, unset oneof, inconsistent fields) or
// TOO_LARGE (a bound above exceeded), naming the offending field.
Status validate(const pb::GetRequest& request, const Limits& limits);
Status validate(const pb::RangeRequest& request, const Limits& limits);
Status validate(const pb::WriteRequest& request, const Limits& limits);
// The server's entry point: checks the whole frame, including its serialized size.
Status validate(const pb::ClientRequest& request, const Limits& limits);

}  // namespace castor::kv

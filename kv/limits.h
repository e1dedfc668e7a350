// Limits: the size bounds of client requests, and the checks that enforce them.
#pragma once

#include <cstdint>

#include "kv/kv.pb.h"
#include "raft/status.h"

namespace castor::kv {

// Every bound a request meets (DESIGN.md section 1, "Bounded"). The server checks a request
// with validate() before proposing it, so an oversized request never reaches the log; the
// state machine checks again when applying, because the log is the authority and a leader with
// other limits may have proposed it.
//
// That second check makes apply results depend on these numbers: every replica must run with
// the same Limits, or replicas could answer (and apply) one command differently. Treat them as
// cluster-wide settings.
struct Limits {
  // LMDB cannot store a key longer than mdb_env_get_maxkeysize() (511 bytes in the Debian
  // build); a key is a name, and 511 bytes is far more than control-plane names need.
  uint64_t key_bytes_max = 511;
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
};

// Each returns INVALID_ARGUMENT (malformed: empty key, unset oneof, inconsistent fields) or
// TOO_LARGE (a bound above exceeded), naming the offending field.
Status validate(const pb::GetRequest& request, const Limits& limits);
Status validate(const pb::RangeRequest& request, const Limits& limits);
Status validate(const pb::WriteRequest& request, const Limits& limits);
// The server's entry point: checks the whole frame, including its serialized size.
Status validate(const pb::ClientRequest& request, const Limits& limits);

}  // namespace castor::kv

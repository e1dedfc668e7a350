// Builders for the requests clients make most: compares and compare-and-swap.
//
// What it does NOT do: send or validate anything. These only fill in protobuf messages; the node
// checks each request when it arrives (kv/machine/limits.h, validate()).
#pragma once

#include <cstdint>
#include <string>

#include "kv/kv.pb.h"

namespace castor::kv {

pb::Compare compare_value(std::string key, pb::Compare::Op op, std::string value);
pb::Compare compare_version(std::string key, pb::Compare::Op op, uint64_t version);
pb::Compare compare_create_revision(std::string key, pb::Compare::Op op, uint64_t revision);
pb::Compare compare_mod_revision(std::string key, pb::Compare::Op op, uint64_t revision);

// Compare-and-swap: if `compare` holds, put `value` under `key`; otherwise read `key`, so that
// the caller learns the state that defeated it without another round trip. Promotions use it
// with compare_mod_revision(key, EQUAL, seen) ("nobody changed it since I looked") or
// compare_version(key, EQUAL, 0) ("create only if absent").
pb::TxnRequest cas(pb::Compare compare, std::string key, std::string value);

}  // namespace castor::kv

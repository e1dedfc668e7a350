// CasExpect: the condition of a compare-and-swap, as the CAS verb of the client and the CLI
// states it: the key holds this value, has this version or this mod revision, or is absent.
//
// What it does NOT do: talk to a node or read the key. compare() only builds an EQUAL pb::Compare;
// kv::Client::cas sends it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "kv/client/request_builders.h"

namespace castor::kv {

class CasExpect {
 public:
  static CasExpect value(std::string value) { return CasExpect(Kind::kValue, std::move(value), 0); }
  static CasExpect version(uint64_t version) { return CasExpect(Kind::kVersion, {}, version); }
  static CasExpect mod_revision(uint64_t revision) { return CasExpect(Kind::kModRevision, {}, revision); }
  // An absent key has version 0 (kv.proto, Compare), so "absent" is "version = 0".
  static CasExpect absent() { return CasExpect(Kind::kVersion, {}, 0); }

  pb::Compare compare(std::string key) const {
    switch (kind_) {
      case Kind::kValue:
        return compare_value(std::move(key), pb::Compare::EQUAL, value_);
      case Kind::kVersion:
        return compare_version(std::move(key), pb::Compare::EQUAL, number_);
      case Kind::kModRevision:
        return compare_mod_revision(std::move(key), pb::Compare::EQUAL, number_);
    }
    return {};
  }

 private:
  enum class Kind { kValue, kVersion, kModRevision };
  CasExpect(Kind kind, std::string value, uint64_t number)
      : kind_(kind), value_(std::move(value)), number_(number) {}

  Kind kind_;
  std::string value_;
  uint64_t number_;
};

}  // namespace castor::kv

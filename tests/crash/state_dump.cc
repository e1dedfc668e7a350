#include "tests/crash/state_dump.h"

#include <algorithm>
#include <cstdio>

#include "kv/machine/snapshot_reader.h"

namespace castor::crash {
namespace {

// A snapshot stream's records are small (a key, a value of at most a few KiB here); the bound
// only keeps a damaged length from allocating much.
constexpr uint64_t kRecordBytesMax = uint64_t{64} << 20;

// The table ids of the state machine's snapshot format (SnapshotTable in kv/machine/state_machine.cc;
// part of the format, never renumbered), for messages.
std::string table_name(uint8_t table) {
  static const char* const kNames[] = {"?", "meta", "keys", "sessions", "session_lru", "responses"};
  return table < std::size(kNames) ? kNames[table] : "table " + std::to_string(table);
}

std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string describe(const kv::pb::KeyValue& kv) {
  return "{value '" + printable(kv.value()) + "', create_revision " + std::to_string(kv.create_revision()) +
         ", mod_revision " + std::to_string(kv.mod_revision()) + ", version " + std::to_string(kv.version()) +
         "}";
}

}  // namespace

Result<StateDump> dump_state(const kv::StateMachine& state) {
  StateDump dump;
  std::string stream;
  auto info = state.snapshot(uint64_t{1} << 20, [&stream](std::string_view chunk) {
    stream.append(chunk);
    return Status::ok();
  });
  if (!info.is_ok()) return info.status();
  dump.applied_index = info->index.value;
  bool given = false;
  kv::SnapshotReader reader(
      [&]() -> Result<std::string> {
        if (given) return std::string();
        given = true;
        return std::move(stream);
      },
      kRecordBytesMax);
  for (;;) {
    auto record = reader.next();
    if (!record.is_ok()) return record.status();
    if (!record->has_value()) break;
    dump.records.emplace(std::make_pair((*record)->table, std::move((*record)->key)),
                         std::move((*record)->value));
  }

  // Read after the snapshot; the caller applies nothing meanwhile, so both see one state.
  kv::pb::RangeRequest request;  // an empty key and range_end: every key
  for (;;) {
    auto response = state.range(request);
    if (!response.is_ok()) return response.status();
    for (const kv::pb::KeyValue& kv : response->range().kvs()) dump.kvs.push_back(kv);
    if (!response->range().more() || response->range().kvs().empty()) break;
    request.set_key(dump.kvs.back().key() + std::string(1, '\0'));
  }
  return dump;
}

std::optional<std::string> first_difference(const StateDump& a, const std::string& a_name, const StateDump& b,
                                            const std::string& b_name) {
  if (a.applied_index != b.applied_index) {
    return "applied index " + std::to_string(a.applied_index) + " in the " + a_name + ", " +
           std::to_string(b.applied_index) + " in the " + b_name;
  }
  // Keys first: a difference there is the one a client would see.
  for (size_t i = 0; i < std::max(a.kvs.size(), b.kvs.size()); ++i) {
    if (i >= a.kvs.size()) return "key '" + printable(b.kvs[i].key()) + "' is only in the " + b_name;
    if (i >= b.kvs.size()) return "key '" + printable(a.kvs[i].key()) + "' is only in the " + a_name;
    const kv::pb::KeyValue& x = a.kvs[i];
    const kv::pb::KeyValue& y = b.kvs[i];
    if (x.key() != y.key()) {
      const bool a_first = x.key() < y.key();
      return "key '" + printable(a_first ? x.key() : y.key()) + "' is only in the " +
             (a_first ? a_name : b_name);
    }
    if (x.SerializeAsString() != y.SerializeAsString()) {
      return "key '" + printable(x.key()) + "' is " + describe(x) + " in the " + a_name + ", " + describe(y) +
             " in the " + b_name;
    }
  }
  auto x = a.records.begin();
  auto y = b.records.begin();
  for (; x != a.records.end() || y != b.records.end(); ++x, ++y) {
    if (y == b.records.end() || (x != a.records.end() && x->first < y->first)) {
      return table_name(x->first.first) + " record '" + printable(x->first.second) + "' is only in the " +
             a_name;
    }
    if (x == a.records.end() || y->first < x->first) {
      return table_name(y->first.first) + " record '" + printable(y->first.second) + "' is only in the " +
             b_name;
    }
    if (x->second != y->second) {
      return table_name(x->first.first) + " record '" + printable(x->first.second) + "' differs: '" +
             printable(x->second) + "' in the " + a_name + ", '" + printable(y->second) + "' in the " +
             b_name;
    }
  }
  return std::nullopt;
}

}  // namespace castor::crash

#include "tests/crash/workload.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "tests/crash/rng.h"

namespace castor::crash {
namespace {

constexpr uint64_t kClients = 2;
constexpr uint64_t kKeys = 300;
constexpr uint32_t kCommandsMax = 8;
// Seqs are index * kSlotsPerEntry + slot: unique per client, increasing along the log, and a
// function of the index alone (a counter carried from entry to entry could not be regenerated).
constexpr uint64_t kSlotsPerEntry = 16;
// A client acknowledges every answer older than this many entries (lowest_outstanding_seq), so a
// session holds at most kWindow * kCommandsMax answers, below Sessions' default bound of 256.
constexpr uint64_t kWindow = 8;
constexpr uint64_t kNoopEvery = 23;

// Each decision has its own stream (rng.h): these name them.
constexpr uint64_t kCountStream = 0;
constexpr uint64_t kRetryStream = 1000;
constexpr uint64_t kOriginalStream = 2000;

// Leader timestamps 10 ms apart: a session never idles for its hour-long timeout, so expiry
// (which the session unit tests cover) never muddles what a retry answers.
uint64_t timestamp_ms(uint64_t index) { return 1'000'000 + index * 10; }

std::string key(Rng& r) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "k%03u", static_cast<unsigned>(r.below(kKeys)));
  return buf;
}

std::string value(Rng& r, const std::string& tag) {
  std::string v = tag;
  const uint64_t n = r.below(40);
  for (uint64_t i = 0; i < n; ++i) v.push_back(static_cast<char>('a' + r.below(26)));
  return v;
}

// A revision somewhere in the last 200 entries, so that compares on revisions go both ways.
uint64_t recent_revision(Rng& r, uint64_t index) { return index - r.below(std::min<uint64_t>(index, 200)); }

kv::pb::RequestOp txn_op(Rng& r, const std::string& tag) {
  kv::pb::RequestOp op;
  switch (r.below(5)) {
    case 0:
    case 1: {
      kv::pb::PutRequest* put = op.mutable_put();
      put->set_key(key(r));
      put->set_value(value(r, tag));
      put->set_prev_kv(r.one_in(2));
      break;
    }
    case 2: {
      kv::pb::DeleteRequest* del = op.mutable_delete_key();
      del->set_key(key(r));
      del->set_prev_kv(r.one_in(2));
      break;
    }
    case 3:
      op.mutable_get()->set_key(key(r));
      break;
    default: {
      kv::pb::RangeRequest* range = op.mutable_range();
      range->set_key(key(r).substr(0, 3));
      range->set_prefix(true);
      range->set_limit(r.below(5));
      range->set_count_only(r.one_in(4));
      break;
    }
  }
  return op;
}

kv::pb::TxnRequest txn(Rng& r, uint64_t index, const std::string& tag) {
  kv::pb::TxnRequest t;
  const uint64_t compares = 1 + r.below(2);
  for (uint64_t i = 0; i < compares; ++i) {
    kv::pb::Compare* c = t.add_compares();
    c->set_key(key(r));
    c->set_op(static_cast<kv::pb::Compare::Op>(r.below(4)));
    switch (r.below(4)) {
      case 0:
        c->set_version(r.below(4));
        break;
      case 1:
        c->set_create_revision(recent_revision(r, index));
        break;
      case 2:
        c->set_mod_revision(recent_revision(r, index));
        break;
      default:
        c->set_value("v" + std::to_string(recent_revision(r, index)));
        break;
    }
  }
  const uint64_t success = 1 + r.below(3);
  for (uint64_t i = 0; i < success; ++i) *t.add_success() = txn_op(r, tag + "s" + std::to_string(i) + "-");
  const uint64_t failure = r.below(3);
  for (uint64_t i = 0; i < failure; ++i) *t.add_failure() = txn_op(r, tag + "f" + std::to_string(i) + "-");
  return t;
}

}  // namespace

bool Workload::is_write_entry(uint64_t index) const { return index > kClients && index % kNoopEvery != 0; }

uint32_t Workload::command_count(uint64_t index) const {
  Rng r({seed_, index, kCountStream});
  return 1 + static_cast<uint32_t>(r.below(kCommandsMax));
}

kv::pb::WriteRequest Workload::original_write(uint64_t index, uint32_t slot) const {
  Rng r({seed_, index, kOriginalStream + slot});
  kv::pb::WriteRequest w;
  w.set_client_id(1 + r.below(kClients));
  w.set_seq(index * kSlotsPerEntry + slot);
  w.set_lowest_outstanding_seq(index > kWindow ? (index - kWindow) * kSlotsPerEntry : 1);
  const std::string tag = "v" + std::to_string(index) + "." + std::to_string(slot) + "-";
  const uint64_t kind = r.below(100);
  if (kind < 45) {
    kv::pb::PutRequest* put = w.mutable_put();
    put->set_key(key(r));
    put->set_value(value(r, tag));
    put->set_prev_kv(r.one_in(2));
  } else if (kind < 65) {
    kv::pb::DeleteRequest* del = w.mutable_delete_key();
    del->set_key(key(r));
    del->set_prev_kv(r.one_in(2));
  } else if (kind < 70) {
    // Ten keys at most (the prefix k12, or the range [k12, k13)): a wide delete would keep the
    // key space nearly empty.
    const std::string from = key(r).substr(0, 3);
    kv::pb::DeleteRangeRequest* range = w.mutable_delete_range();
    range->set_key(from);
    if (r.one_in(2)) {
      range->set_prefix(true);
    } else {
      std::string end = from;
      ++end.back();
      range->set_range_end(end);
    }
  } else {
    *w.mutable_txn() = txn(r, index, tag);
  }
  return w;
}

raft::pb::Entry Workload::entry(raft::LogIndex index) const {
  const uint64_t i = index.value;
  raft::pb::Entry e;
  e.set_index(i);
  e.set_term(kTerm);
  if (i > kClients && !is_write_entry(i)) {
    e.set_type(raft::pb::ENTRY_NOOP);
    return e;
  }
  e.set_type(raft::pb::ENTRY_NORMAL);
  kv::pb::CommandBatch batch;
  if (i <= kClients) {
    kv::pb::Command* c = batch.add_commands();
    c->set_timestamp_ms(timestamp_ms(i));
    c->mutable_register_client()->set_nonce(i);
  } else {
    const uint32_t count = command_count(i);
    for (uint32_t slot = 0; slot < count; ++slot) {
      kv::pb::WriteRequest w = original_write(i, slot);
      Rng r({seed_, i, kRetryStream + slot});
      if (r.one_in(8)) {
        // A retry of a write already in the log: usually a recent one, answered from the
        // session's cache; sometimes one whose answer the client has since acknowledged.
        const uint64_t back = r.one_in(4) ? 20 + r.below(20) : 1 + r.below(6);
        if (back < i && is_write_entry(i - back)) {
          w = original_write(i - back, static_cast<uint32_t>(r.below(command_count(i - back))));
        }
      }
      kv::pb::Command* c = batch.add_commands();
      // Stamped now: a retry is proposed again, by the leader of now.
      c->set_timestamp_ms(timestamp_ms(i));
      *c->mutable_write() = std::move(w);
    }
  }
  e.set_data(batch.SerializeAsString());
  return e;
}

}  // namespace castor::crash

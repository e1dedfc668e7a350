#include "kv/machine/key_space.h"

#include <algorithm>
#include <string>

#include "kv/machine/encoding.h"
#include "kv/machine/key_range.h"

namespace castor::kv {
namespace {

// A stored value: create_revision, mod_revision and version as big-endian u64s, then the
// value's bytes. A fixed header keeps decoding a bounds check and three loads.
constexpr size_t kHeaderBytes = 24;

struct Stored {
  uint64_t create_revision = 0;
  uint64_t mod_revision = 0;
  uint64_t version = 0;
  std::string_view value;  // points into LMDB's map (see LmdbTxn)
};

std::string encode(uint64_t create_revision, uint64_t mod_revision, uint64_t version,
                   std::string_view value) {
  std::string out;
  out.reserve(kHeaderBytes + value.size());
  append_u64_be(out, create_revision);
  append_u64_be(out, mod_revision);
  append_u64_be(out, version);
  out.append(value);
  return out;
}

Result<Stored> decode(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) return Status(Code::kCorruption, "stored value shorter than its header");
  return Stored{read_u64_be(bytes, 0), read_u64_be(bytes, 8), read_u64_be(bytes, 16),
                bytes.substr(kHeaderBytes)};
}

Result<std::optional<Stored>> load(LmdbTxn& txn, MDB_dbi dbi, std::string_view key) {
  auto bytes = txn.get(dbi, key);
  if (!bytes.is_ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<Stored>();
  auto stored = decode(**bytes);
  if (!stored.is_ok()) return stored.status();
  return std::optional<Stored>(*stored);
}

pb::KeyValue to_kv(std::string_view key, const Stored& stored, bool keys_only) {
  pb::KeyValue kv;
  kv.set_key(std::string(key));
  if (!keys_only) kv.set_value(std::string(stored.value));
  kv.set_create_revision(stored.create_revision);
  kv.set_mod_revision(stored.mod_revision);
  kv.set_version(stored.version);
  return kv;
}

// EQUAL, NOT_EQUAL, LESS, GREATER applied to a three-way comparison of (stored, operand).
bool test(pb::Compare::Op op, int order) {
  switch (op) {
    case pb::Compare::EQUAL:
      return order == 0;
    case pb::Compare::NOT_EQUAL:
      return order != 0;
    case pb::Compare::LESS:
      return order < 0;
    case pb::Compare::GREATER:
      return order > 0;
    default:
      // validate() rejects unknown operators before a request reaches here.
      CASTOR_ASSERT(false, "compare with an unknown operator");
      return false;
  }
}

int three_way(uint64_t a, uint64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// The event of deleting `key` at `revision`, whose state was `prev`.
pb::Event deletion(std::string_view key, const Stored& prev, uint64_t revision) {
  pb::Event e;
  e.set_type(pb::Event::DELETE);
  e.mutable_kv()->set_key(std::string(key));
  e.mutable_kv()->set_mod_revision(revision);
  *e.mutable_prev_kv() = to_kv(key, prev, false);
  return e;
}

}  // namespace

bool KeySpace::well_formed(std::string_view stored) { return stored.size() >= kHeaderBytes; }

Result<std::optional<pb::KeyValue>> KeySpace::get(LmdbTxn& txn, std::string_view key) const {
  auto stored = load(txn, dbi_, key);
  if (!stored.is_ok()) return stored.status();
  if (!stored->has_value()) return std::optional<pb::KeyValue>();
  return std::optional<pb::KeyValue>(to_kv(key, **stored, false));
}

Result<pb::RangeResponse> KeySpace::range(LmdbTxn& txn, const pb::RangeRequest& request) const {
  KeyRange b = KeyRange::of_request(request.key(), request.range_end(), request.prefix());
  uint64_t limit =
      request.limit() == 0 ? limits_.range_kvs_max : std::min(request.limit(), limits_.range_kvs_max);
  auto cursor = LmdbCursor::open(txn, dbi_);
  if (!cursor.is_ok()) return cursor.status();
  pb::RangeResponse response;
  uint64_t count = 0;
  uint64_t bytes = 0;
  bool full = request.count_only();
  // `count` covers the whole range, so the walk continues past the last kv returned.
  for (auto found = cursor->seek(b.start);; found = cursor->next()) {
    if (!found.is_ok()) return found.status();
    if (!*found || !b.contains(cursor->key())) break;
    ++count;
    if (full) continue;
    auto stored = decode(cursor->value());
    if (!stored.is_ok()) return stored.status();
    uint64_t kv_bytes = cursor->key().size() + (request.keys_only() ? 0 : stored->value.size());
    // At least one kv is returned: a single value is bounded well below the byte budget.
    if (static_cast<uint64_t>(response.kvs_size()) >= limit ||
        (response.kvs_size() > 0 && bytes + kv_bytes > limits_.range_response_bytes_max)) {
      full = true;
      continue;
    }
    *response.add_kvs() = to_kv(cursor->key(), *stored, request.keys_only());
    bytes += kv_bytes;
  }
  response.set_count(count);
  response.set_more(!request.count_only() && static_cast<uint64_t>(response.kvs_size()) < count);
  return response;
}

Result<pb::PutResponse> KeySpace::put(LmdbTxn& txn, const pb::PutRequest& request, uint64_t revision,
                                      Changes& changes) const {
  auto old = load(txn, dbi_, request.key());
  if (!old.is_ok()) return old.status();
  pb::PutResponse response;
  pb::Event& event = changes.emplace_back();
  event.set_type(pb::Event::PUT);
  uint64_t create_revision = revision;
  uint64_t version = 1;
  if (old->has_value()) {
    const Stored& prev = **old;
    create_revision = prev.create_revision;
    version = prev.version + 1;
    // Copy now: the put below may move the page `prev.value` points into.
    *event.mutable_prev_kv() = to_kv(request.key(), prev, false);
    if (request.prev_kv()) *response.mutable_prev_kv() = event.prev_kv();
  }
  const Stored now{create_revision, revision, version, request.value()};
  *event.mutable_kv() = to_kv(request.key(), now, false);
  Status s = txn.put(dbi_, request.key(), encode(create_revision, revision, version, request.value()));
  if (!s.is_ok()) return s;
  return response;
}

Result<pb::DeleteResponse> KeySpace::delete_key(LmdbTxn& txn, const pb::DeleteRequest& request,
                                                uint64_t revision, Changes& changes) const {
  auto old = load(txn, dbi_, request.key());
  if (!old.is_ok()) return old.status();
  pb::DeleteResponse response;
  // Deleting an absent key changes nothing and reports 0 deleted (etcd semantics).
  if (!old->has_value()) return response;
  const pb::Event& event = changes.emplace_back(deletion(request.key(), **old, revision));
  if (request.prev_kv()) *response.mutable_prev_kv() = event.prev_kv();
  auto deleted = txn.del(dbi_, request.key());
  if (!deleted.is_ok()) return deleted.status();
  response.set_deleted(1);
  return response;
}

Result<pb::DeleteRangeResponse> KeySpace::delete_range(LmdbTxn& txn, const pb::DeleteRangeRequest& request,
                                                       uint64_t revision, Changes& changes) const {
  KeyRange b = KeyRange::of_request(request.key(), request.range_end(), request.prefix());
  auto cursor = LmdbCursor::open(txn, dbi_);
  if (!cursor.is_ok()) return cursor.status();
  pb::DeleteRangeResponse response;
  uint64_t deleted = 0;
  // Delete by key and seek again rather than delete under the cursor: LMDB's cursor position
  // after a delete is subtle, a fresh seek is obviously right and costs one descent.
  for (auto found = cursor->seek(b.start);; found = cursor->seek(b.start)) {
    if (!found.is_ok()) return found.status();
    if (!*found || !b.contains(cursor->key())) break;
    b.start = std::string(cursor->key());
    auto prev = decode(cursor->value());
    if (!prev.is_ok()) return prev.status();
    changes.push_back(deletion(b.start, *prev, revision));
    auto gone = txn.del(dbi_, b.start);
    if (!gone.is_ok()) return gone.status();
    ++deleted;
  }
  response.set_deleted(deleted);
  return response;
}

Result<bool> KeySpace::holds(LmdbTxn& txn, const pb::Compare& compare) const {
  auto current = load(txn, dbi_, compare.key());
  if (!current.is_ok()) return current.status();
  // An absent key reads as all zeros (etcd semantics).
  Stored stored = current->value_or(Stored{});
  switch (compare.operand_case()) {
    case pb::Compare::kValue:
      // No value can equal, or order against, a value that does not exist.
      if (!current->has_value()) return false;
      return test(compare.op(), stored.value.compare(compare.value()));
    case pb::Compare::kVersion:
      return test(compare.op(), three_way(stored.version, compare.version()));
    case pb::Compare::kCreateRevision:
      return test(compare.op(), three_way(stored.create_revision, compare.create_revision()));
    case pb::Compare::kModRevision:
      return test(compare.op(), three_way(stored.mod_revision, compare.mod_revision()));
    case pb::Compare::OPERAND_NOT_SET:
      break;
  }
  CASTOR_ASSERT(false, "compare without an operand reached the key space");
  return false;
}

Result<pb::ResponseOp> KeySpace::run(LmdbTxn& txn, const pb::RequestOp& op, uint64_t revision,
                                     Changes& changes) const {
  pb::ResponseOp response;
  switch (op.request_case()) {
    case pb::RequestOp::kGet: {
      auto kv = get(txn, op.get().key());
      if (!kv.is_ok()) return kv.status();
      pb::GetResponse* get_response = response.mutable_get();
      if (kv->has_value()) *get_response->mutable_kv() = std::move(**kv);
      return response;
    }
    case pb::RequestOp::kRange: {
      auto r = range(txn, op.range());
      if (!r.is_ok()) return r.status();
      *response.mutable_range() = std::move(*r);
      return response;
    }
    case pb::RequestOp::kPut: {
      auto r = put(txn, op.put(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_put() = std::move(*r);
      return response;
    }
    case pb::RequestOp::kDeleteKey: {
      auto r = delete_key(txn, op.delete_key(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_delete_key() = std::move(*r);
      return response;
    }
    case pb::RequestOp::kDeleteRange: {
      auto r = delete_range(txn, op.delete_range(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_delete_range() = std::move(*r);
      return response;
    }
    case pb::RequestOp::REQUEST_NOT_SET:
      break;
  }
  CASTOR_ASSERT(false, "txn op without a request reached the key space");
  return response;
}

Result<pb::TxnResponse> KeySpace::txn(LmdbTxn& txn, const pb::TxnRequest& request, uint64_t revision,
                                      Changes& changes) const {
  bool succeeded = true;
  for (const pb::Compare& compare : request.compares()) {
    auto holds_now = holds(txn, compare);
    if (!holds_now.is_ok()) return holds_now.status();
    if (!*holds_now) {
      succeeded = false;
      break;
    }
  }
  pb::TxnResponse response;
  response.set_succeeded(succeeded);
  for (const pb::RequestOp& op : succeeded ? request.success() : request.failure()) {
    auto r = run(txn, op, revision, changes);
    if (!r.is_ok()) return r.status();
    *response.add_responses() = std::move(*r);
  }
  return response;
}

}  // namespace castor::kv

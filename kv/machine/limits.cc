#include "kv/machine/limits.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace castor::kv {
namespace {

Status invalid(const std::string& message) { return Status(Code::kInvalidArgument, message); }

Status too_large(const char* what, uint64_t bytes, uint64_t max) {
  return Status(Code::kTooLarge,
                std::string(what) + " is " + std::to_string(bytes) + ", limit " + std::to_string(max));
}

Status check_key(std::string_view key, const Limits& limits) {
  if (key.empty()) return invalid("key is empty");
  if (key.size() > limits.key_bytes_max) return too_large("key bytes", key.size(), limits.key_bytes_max);
  return Status::ok();
}

// Range and DeleteRange share their bounds. The start key may be empty (from the first key).
Status check_range(std::string_view key, std::string_view range_end, bool prefix, const Limits& limits) {
  if (key.size() > limits.key_bytes_max) return too_large("key bytes", key.size(), limits.key_bytes_max);
  if (range_end.size() > limits.key_bytes_max) {
    return too_large("range_end bytes", range_end.size(), limits.key_bytes_max);
  }
  if (prefix && !range_end.empty()) return invalid("range_end must be empty with prefix");
  return Status::ok();
}

// A watch's range as a Range's, but never empty: a watch that can match nothing would hold
// its place against --watches-max forever (etcd refuses it too).
Status check_watch(const pb::WatchRequest& watch, const Limits& limits) {
  if (Status s = check_range(watch.key(), watch.range_end(), watch.prefix(), limits); !s.is_ok()) return s;
  if (!watch.range_end().empty() && watch.range_end() <= watch.key()) {
    return invalid("the watch's range is empty: range_end must sort after key");
  }
  return Status::ok();
}

Status check_put(const pb::PutRequest& put, const Limits& limits) {
  if (Status s = check_key(put.key(), limits); !s.is_ok()) return s;
  if (put.value().size() > limits.value_bytes_max) {
    return too_large("value bytes", put.value().size(), limits.value_bytes_max);
  }
  return Status::ok();
}

Status check_compare(const pb::Compare& compare, const Limits& limits) {
  if (Status s = check_key(compare.key(), limits); !s.is_ok()) return s;
  if (compare.operand_case() == pb::Compare::OPERAND_NOT_SET) return invalid("compare has no operand");
  if (!pb::Compare::Op_IsValid(compare.op())) return invalid("compare op " + std::to_string(compare.op()));
  if (compare.operand_case() == pb::Compare::kValue && compare.value().size() > limits.value_bytes_max) {
    return too_large("compare value bytes", compare.value().size(), limits.value_bytes_max);
  }
  return Status::ok();
}

Status check_op(const pb::RequestOp& op, const Limits& limits) {
  switch (op.request_case()) {
    case pb::RequestOp::kGet:
      return validate(op.get(), limits);
    case pb::RequestOp::kRange:
      return validate(op.range(), limits);
    case pb::RequestOp::kPut:
      return check_put(op.put(), limits);
    case pb::RequestOp::kDeleteKey:
      return check_key(op.delete_key().key(), limits);
    case pb::RequestOp::kDeleteRange:
      return check_range(op.delete_range().key(), op.delete_range().range_end(), op.delete_range().prefix(),
                         limits);
    case pb::RequestOp::REQUEST_NOT_SET:
      break;
  }
  return invalid("txn op has no request");
}

// a + b and a * b, stopping at UINT64_MAX: bounds are summed from limits that may be unbounded.
uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) { return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b; }

// The most an op's answer could hold (KeySpace's rules; 64 bytes of metadata a kv).
uint64_t answer_bytes_max(const pb::RequestOp& op, const Limits& limits) {
  const uint64_t kv = add_sat(limits.key_bytes_max, 64);
  // A Get answers a value; a Put or Delete with prev_kv answers the value it replaced.
  const bool answers_a_value = op.has_get() || (op.has_put() && op.put().prev_kv()) ||
                               (op.has_delete_key() && op.delete_key().prev_kv());
  if (answers_a_value) return add_sat(kv, limits.value_bytes_max);
  if (!op.has_range()) return 64;
  const pb::RangeRequest& r = op.range();
  if (r.count_only()) return 64;
  const uint64_t per_kv = r.keys_only() ? kv : add_sat(kv, limits.value_bytes_max);
  const uint64_t kvs = r.limit() == 0 ? limits.range_kvs_max : std::min(r.limit(), limits.range_kvs_max);
  // A Range stops adding kvs before its byte bound (of keys and values), but returns at least
  // one; each kv adds its metadata.
  return std::min(mul_sat(kvs, per_kv),
                  add_sat(std::max(limits.range_response_bytes_max, per_kv), mul_sat(kvs, 64)));
}

Status check_txn_answer(const pb::TxnRequest& txn, const Limits& limits) {
  uint64_t bytes = 0;
  for (const auto* branch : {&txn.success(), &txn.failure()}) {
    for (const pb::RequestOp& op : *branch) bytes = add_sat(bytes, answer_bytes_max(op, limits));
  }
  if (bytes <= limits.txn_response_bytes_max) return Status::ok();
  return Status(Code::kTooLarge, "the txn's reads could answer " + std::to_string(bytes) + " bytes, limit " +
                                     std::to_string(limits.txn_response_bytes_max) +
                                     ": give its ranges a limit or keys_only, or split it");
}

Status check_txn(const pb::TxnRequest& txn, const Limits& limits) {
  uint64_t ops = txn.compares_size() + txn.success_size() + txn.failure_size();
  if (ops > limits.txn_ops_max) return too_large("txn ops", ops, limits.txn_ops_max);
  for (const pb::Compare& compare : txn.compares()) {
    if (Status s = check_compare(compare, limits); !s.is_ok()) return s;
  }
  for (const auto* branch : {&txn.success(), &txn.failure()}) {
    for (const pb::RequestOp& op : *branch) {
      if (Status s = check_op(op, limits); !s.is_ok()) return s;
    }
  }
  return check_txn_answer(txn, limits);
}

}  // namespace

Status validate(const pb::GetRequest& request, const Limits& limits) {
  return check_key(request.key(), limits);
}

Status validate(const pb::RangeRequest& request, const Limits& limits) {
  return check_range(request.key(), request.range_end(), request.prefix(), limits);
}

Status validate(const pb::WriteRequest& request, const Limits& limits) {
  // Client ids and seqs start at 1; the request itself is outstanding, so lowest <= seq.
  // client_id 0 is a write without a session (kv.proto), tagged by the proposer's seq.
  if (request.seq() == 0) return invalid("seq is 0");
  if (request.lowest_outstanding_seq() > request.seq()) return invalid("lowest_outstanding_seq > seq");
  uint64_t bytes = request.ByteSizeLong();
  if (bytes > limits.request_bytes_max) return too_large("request bytes", bytes, limits.request_bytes_max);
  switch (request.op_case()) {
    case pb::WriteRequest::kPut:
      return check_put(request.put(), limits);
    case pb::WriteRequest::kDeleteKey:
      return check_key(request.delete_key().key(), limits);
    case pb::WriteRequest::kDeleteRange:
      return check_range(request.delete_range().key(), request.delete_range().range_end(),
                         request.delete_range().prefix(), limits);
    case pb::WriteRequest::kTxn:
      return check_txn(request.txn(), limits);
    case pb::WriteRequest::OP_NOT_SET:
      break;
  }
  return invalid("write has no op");
}

Status validate(const pb::ClientRequest& request, const Limits& limits) {
  uint64_t bytes = request.ByteSizeLong();
  if (bytes > limits.request_bytes_max) return too_large("request bytes", bytes, limits.request_bytes_max);
  switch (request.request_case()) {
    case pb::ClientRequest::kGet:
      return validate(request.get(), limits);
    case pb::ClientRequest::kRange:
      return validate(request.range(), limits);
    case pb::ClientRequest::kRegisterClient:
    case pb::ClientRequest::kStatus:
      return Status::ok();
    case pb::ClientRequest::kTransferLeader:
      if (request.transfer_leader().target().empty()) return invalid("transfer_leader has no target");
      return Status::ok();
    case pb::ClientRequest::kWrite:
      return validate(request.write(), limits);
    case pb::ClientRequest::kWatch:
      return check_watch(request.watch(), limits);
    case pb::ClientRequest::kWatchCancel:
      return Status::ok();
    case pb::ClientRequest::REQUEST_NOT_SET:
      break;
  }
  return invalid("request has no body");
}

}  // namespace castor::kv

#include "kv/client/request_builders.h"

#include <utility>

namespace castor::kv {
namespace {

pb::Compare compare_on(std::string key, pb::Compare::Op op) {
  pb::Compare compare;
  compare.set_key(std::move(key));
  compare.set_op(op);
  return compare;
}

}  // namespace

pb::Compare compare_value(std::string key, pb::Compare::Op op, std::string value) {
  pb::Compare compare = compare_on(std::move(key), op);
  compare.set_value(std::move(value));
  return compare;
}

pb::Compare compare_version(std::string key, pb::Compare::Op op, uint64_t version) {
  pb::Compare compare = compare_on(std::move(key), op);
  compare.set_version(version);
  return compare;
}

pb::Compare compare_create_revision(std::string key, pb::Compare::Op op, uint64_t revision) {
  pb::Compare compare = compare_on(std::move(key), op);
  compare.set_create_revision(revision);
  return compare;
}

pb::Compare compare_mod_revision(std::string key, pb::Compare::Op op, uint64_t revision) {
  pb::Compare compare = compare_on(std::move(key), op);
  compare.set_mod_revision(revision);
  return compare;
}

pb::TxnRequest cas(pb::Compare compare, std::string key, std::string value) {
  pb::TxnRequest txn;
  *txn.add_compares() = std::move(compare);
  txn.add_failure()->mutable_get()->set_key(key);
  pb::PutRequest* put = txn.add_success()->mutable_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
  return txn;
}

}  // namespace castor::kv

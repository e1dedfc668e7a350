#include "raft/snapshot_receiver.h"

#include <utility>

#include "raft/base/crc32c.h"

namespace castor::raft {

SnapshotReceiver::Received SnapshotReceiver::receive(const pb::SnapshotMeta& meta, uint64_t offset,
                                                     const std::string& chunk) {
  const bool same = meta_ && meta_->index() == meta.index() && meta_->term() == meta.term();
  bool reject = false;
  if (offset == 0) {
    meta_ = meta;
    data_ = chunk;
  } else if (same && offset == data_.size()) {
    data_ += chunk;
  } else if (!(same && offset < data_.size())) {
    reject = true;  // a chunk of a stream we do not hold: the leader restarts at offset 0
  }
  if (!reject && data_.size() > meta.data_bytes()) reject = true;
  // Paper 7: the follower replaces its log with the snapshot, and acknowledges it, only once the
  // whole stream is known good. A damaged one is dropped and asked for again from offset 0.
  if (!reject && data_.size() == meta.data_bytes() && crc32c_extend(0, data_) != meta.data_crc32c()) {
    reject = true;
    ++refused_;
  }
  if (reject) drop();
  if (reject || data_.size() < meta.data_bytes()) return {reject, data_.size(), std::nullopt};

  pb::Snapshot snap;
  *snap.mutable_meta() = meta;
  snap.set_data(std::move(data_));
  drop();
  return {false, meta.data_bytes(), std::move(snap)};
}

void SnapshotReceiver::drop() {
  meta_.reset();
  data_.clear();
}

}  // namespace castor::raft

#include "raft/read_index.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "raft/quorum.h"

namespace castor::raft {

void ReadIndexQueue::add(LogIndex index, ReadRequest request) {
  unflushed_.push_back({index, std::move(request)});
}

void ReadIndexQueue::hold(ReadRequest request) { held_.push_back(std::move(request)); }

void ReadIndexQueue::own_term_committed(LogIndex index) {
  for (auto& r : held_) add(index, std::move(r));
  held_.clear();
}

uint64_t ReadIndexQueue::flush() {
  if (unflushed_.empty()) return 0;
  rounds_.push_back({next_round_, std::move(unflushed_)});
  unflushed_.clear();
  return next_round_++;
}

std::vector<ReadIndexQueue::Released> ReadIndexQueue::release(uint64_t confirmed_round) {
  std::vector<Released> out;
  while (!rounds_.empty() && rounds_.front().number <= confirmed_round) {
    for (auto& r : rounds_.front().reads) out.push_back(std::move(r));
    rounds_.pop_front();
  }
  return out;
}

std::vector<ReadIndexQueue::Released> ReadIndexQueue::release_confirmed(std::vector<uint64_t> acked) {
  std::sort(acked.begin(), acked.end(), std::greater<>());
  return release(acked[majority(acked.size()) - 1]);
}

void ReadIndexQueue::clear() {
  rounds_.clear();
  unflushed_.clear();
  held_.clear();
}

}  // namespace castor::raft

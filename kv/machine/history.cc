#include "kv/machine/history.h"

#include <algorithm>
#include <string>

#include "kv/machine/encoding.h"

namespace castor::kv {
namespace {

constexpr std::string_view kFloorKey = "floor";
constexpr std::string_view kThroughKey = "through";
constexpr std::string_view kBytesKey = "bytes";
// Marks a history that was never written: open() starts it at the store revision.
constexpr uint64_t kNever = UINT64_MAX;

std::string record_key(uint64_t revision, uint32_t position) {
  std::string key = u64_key(revision);
  append_u32_be(key, position);
  return key;
}

}  // namespace

Result<History::Marks> History::marks(LmdbTxn& txn) const {
  auto floor = read_u64_record(txn, meta_, kFloorKey, 0);
  if (!floor.is_ok()) return floor.status();
  auto through = read_u64_record(txn, meta_, kThroughKey, kNever);
  if (!through.is_ok()) return through.status();
  auto bytes = read_u64_record(txn, meta_, kBytesKey, 0);
  if (!bytes.is_ok()) return bytes.status();
  return Marks{*floor, *through, *bytes};
}

Status History::store(LmdbTxn& txn) const {
  if (Status s = txn.put(meta_, kFloorKey, u64_key(writing_.floor)); !s.is_ok()) return s;
  if (Status s = txn.put(meta_, kThroughKey, u64_key(writing_.through)); !s.is_ok()) return s;
  return txn.put(meta_, kBytesKey, u64_key(writing_.bytes));
}

Status History::open(LmdbTxn& txn, uint64_t revision) {
  auto m = marks(txn);
  if (!m.is_ok()) return m.status();
  if (m->through == revision) return Status::ok();
  return reset(txn, revision);
}

Status History::reset(LmdbTxn& txn, uint64_t revision) {
  if (Status s = txn.clear(records_); !s.is_ok()) return s;
  writing_ = Marks{revision, revision, 0};
  return store(txn);
}

Status History::begin(LmdbTxn& txn) {
  auto m = marks(txn);
  if (!m.is_ok()) return m.status();
  writing_ = *m;
  return Status::ok();
}

Status History::append(LmdbTxn& txn, uint64_t revision, const std::vector<pb::Event>& events) {
  CASTOR_ASSERT(revision > writing_.through, "history appended out of revision order");
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string key = record_key(revision, static_cast<uint32_t>(i));
    const std::string value = events[i].SerializeAsString();
    if (Status s = txn.put(records_, key, value); !s.is_ok()) return s;
    writing_.bytes += key.size() + value.size();
  }
  writing_.through = revision;
  return Status::ok();
}

Status History::settle(LmdbTxn& txn, uint64_t revision) {
  CASTOR_ASSERT(revision >= writing_.through, "history settled below its last revision");
  writing_.through = revision;
  if (Status s = trim(txn); !s.is_ok()) return s;
  return store(txn);
}

// Drops the oldest revision, whole, while more revisions or bytes are kept than allowed.
Status History::trim(LmdbTxn& txn) {
  auto over = [this] {
    return writing_.through - writing_.floor > options_.revisions_max || writing_.bytes > options_.bytes_max;
  };
  while (over()) {
    auto cursor = LmdbCursor::open(txn, records_);
    if (!cursor.is_ok()) return cursor.status();
    auto found = cursor->first();
    if (!found.is_ok()) return found.status();
    if (!*found) {
      writing_.floor = writing_.through;  // nothing left: no event below through is kept
      break;
    }
    const uint64_t oldest = read_u64_be(cursor->key(), 0);
    while (*found && read_u64_be(cursor->key(), 0) == oldest) {
      writing_.bytes -= cursor->key().size() + cursor->value().size();
      auto gone = txn.del(records_, std::string(cursor->key()));
      if (!gone.is_ok()) return gone.status();
      found = cursor->first();
      if (!found.is_ok()) return found.status();
    }
    writing_.floor = oldest;
  }
  return Status::ok();
}

Result<HistoryPage> History::read(LmdbTxn& txn, uint64_t after, uint64_t page_bytes_max) const {
  auto m = marks(txn);
  if (!m.is_ok()) return m.status();
  HistoryPage page;
  page.floor = m->floor;
  if (after < m->floor) {
    page.compacted = true;
    page.through = after;
    return page;
  }
  page.through = std::max(after, m->through);
  auto cursor = LmdbCursor::open(txn, records_);
  if (!cursor.is_ok()) return cursor.status();
  uint64_t bytes = 0;
  uint64_t last = after;
  for (auto found = cursor->seek(u64_key(after + 1));; found = cursor->next()) {
    if (!found.is_ok()) return found.status();
    if (!*found) break;
    const uint64_t revision = read_u64_be(cursor->key(), 0);
    // A page ends between revisions only.
    if (revision != last && bytes >= page_bytes_max) {
      page.through = last;
      break;
    }
    pb::Event& event = page.events.emplace_back();
    if (!event.ParseFromArray(cursor->value().data(), static_cast<int>(cursor->value().size()))) {
      return Status(Code::kCorruption,
                    "history record at revision " + std::to_string(revision) + " does not parse");
    }
    bytes += cursor->key().size() + cursor->value().size();
    last = revision;
  }
  return page;
}

}  // namespace castor::kv

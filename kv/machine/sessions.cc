#include "kv/machine/sessions.h"

#include <optional>
#include <string>

#include "kv/machine/encoding.h"
#include "kv/machine/error_code.h"

namespace castor::kv {
namespace {

constexpr std::string_view kClockKey = "session_clock_ms";
constexpr std::string_view kNextClientIdKey = "next_client_id";
constexpr size_t kSessionBytes = 24;

std::string lru_key(uint64_t last_active_ms, uint64_t client_id) {
  std::string key = u64_key(last_active_ms);
  append_u64_be(key, client_id);
  return key;
}

std::string response_key(uint64_t client_id, uint64_t seq) {
  std::string key = u64_key(client_id);
  append_u64_be(key, seq);
  return key;
}

pb::ClientResponse refusal(Code code, std::string message) {
  pb::ClientResponse response;
  response.set_code(to_error_code(code));
  response.set_message(std::move(message));
  return response;
}

// Deletes the cached answers of `client_id` with seq < `below`, or all of them without `below`.
Result<uint64_t> forget_responses(LmdbTxn& txn, MDB_dbi responses, uint64_t client_id,
                                  std::optional<uint64_t> below) {
  auto cursor = LmdbCursor::open(txn, responses);
  if (!cursor.is_ok()) return cursor.status();
  const std::string start = response_key(client_id, 0);
  const std::string_view prefix = std::string_view(start).substr(0, 8);
  uint64_t forgotten = 0;
  for (auto found = cursor->seek(start);; found = cursor->seek(start)) {
    if (!found.is_ok()) return found.status();
    if (!*found || cursor->key().size() != 16 || !cursor->key().starts_with(prefix)) break;
    if (below.has_value() && read_u64_be(cursor->key(), 8) >= *below) break;
    std::string key(cursor->key());
    auto gone = txn.del(responses, key);
    if (!gone.is_ok()) return gone.status();
    ++forgotten;
  }
  return forgotten;
}

}  // namespace

Result<std::optional<Sessions::Session>> Sessions::load(LmdbTxn& txn, uint64_t client_id) const {
  auto bytes = txn.get(tables_.sessions, u64_key(client_id));
  if (!bytes.is_ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<Session>();
  std::string_view b = **bytes;
  if (b.size() != kSessionBytes) return Status(Code::kCorruption, "session record is not 24 bytes");
  return std::optional<Session>(Session{read_u64_be(b, 0), read_u64_be(b, 8), read_u64_be(b, 16)});
}

Status Sessions::store(LmdbTxn& txn, uint64_t client_id, const Session& session) const {
  std::string value;
  append_u64_be(value, session.last_active_ms);
  append_u64_be(value, session.lowest_outstanding_seq);
  append_u64_be(value, session.responses);
  return txn.put(tables_.sessions, u64_key(client_id), value);
}

Status Sessions::remove(LmdbTxn& txn, uint64_t client_id, const Session& session) const {
  auto gone = txn.del(tables_.sessions, u64_key(client_id));
  if (!gone.is_ok()) return gone.status();
  gone = txn.del(tables_.lru, lru_key(session.last_active_ms, client_id));
  if (!gone.is_ok()) return gone.status();
  auto forgotten = forget_responses(txn, tables_.responses, client_id, std::nullopt);
  return forgotten.status();
}

Status Sessions::evict_oldest(LmdbTxn& txn) const {
  auto cursor = LmdbCursor::open(txn, tables_.lru);
  if (!cursor.is_ok()) return cursor.status();
  auto found = cursor->first();
  if (!found.is_ok()) return found.status();
  if (!*found) return Status::ok();
  if (cursor->key().size() != 16) return Status(Code::kCorruption, "session_lru key is not 16 bytes");
  uint64_t client_id = read_u64_be(cursor->key(), 8);
  auto session = load(txn, client_id);
  if (!session.is_ok()) return session.status();
  if (!session->has_value()) return Status(Code::kCorruption, "session_lru names a missing session");
  return remove(txn, client_id, **session);
}

Result<uint64_t> Sessions::advance_clock(LmdbTxn& txn, uint64_t timestamp_ms, uint64_t timeout_ms) const {
  if (timeout_ms == 0) timeout_ms = SessionOptions{}.session_timeout_ms;
  auto clock = read_u64_record(txn, tables_.meta, kClockKey, 0);
  if (!clock.is_ok()) return clock.status();
  uint64_t now = *clock;
  if (timestamp_ms > now) {
    now = timestamp_ms;
    if (Status s = txn.put(tables_.meta, kClockKey, u64_key(now)); !s.is_ok()) return s;
  }
  // Oldest first; the walk usually stops at the first session, which is still fresh.
  for (;;) {
    auto cursor = LmdbCursor::open(txn, tables_.lru);
    if (!cursor.is_ok()) return cursor.status();
    auto found = cursor->first();
    if (!found.is_ok()) return found.status();
    if (!*found) break;
    if (cursor->key().size() != 16) return Status(Code::kCorruption, "session_lru key is not 16 bytes");
    uint64_t last_active_ms = read_u64_be(cursor->key(), 0);
    // last_active_ms <= now always: it was the clock when it was stored, and the clock only grows.
    if (now - last_active_ms <= timeout_ms) break;
    if (Status s = evict_oldest(txn); !s.is_ok()) return s;
  }
  return now;
}

Result<uint64_t> Sessions::register_client(LmdbTxn& txn, uint64_t now_ms) const {
  auto count = txn.count(tables_.sessions);
  if (!count.is_ok()) return count.status();
  if (*count >= options_.sessions_max) {
    if (Status s = evict_oldest(txn); !s.is_ok()) return s;
  }
  auto client_id = read_u64_record(txn, tables_.meta, kNextClientIdKey, 1);
  if (!client_id.is_ok()) return client_id.status();
  if (Status s = txn.put(tables_.meta, kNextClientIdKey, u64_key(*client_id + 1)); !s.is_ok()) return s;
  if (Status s = store(txn, *client_id, Session{now_ms, 0, 0}); !s.is_ok()) return s;
  if (Status s = txn.put(tables_.lru, lru_key(now_ms, *client_id), ""); !s.is_ok()) return s;
  return *client_id;
}

Result<Sessions::Admission> Sessions::admit(LmdbTxn& txn, const pb::WriteRequest& request,
                                            uint64_t now_ms) const {
  const uint64_t client_id = request.client_id();
  auto loaded = load(txn, client_id);
  if (!loaded.is_ok()) return loaded.status();
  if (!loaded->has_value()) {
    return Admission{
        Admission::Kind::kRejected,
        refusal(Code::kSessionExpired, "session " + std::to_string(client_id) + " is unknown or expired")};
  }
  Session session = **loaded;
  if (session.last_active_ms != now_ms) {
    auto gone = txn.del(tables_.lru, lru_key(session.last_active_ms, client_id));
    if (!gone.is_ok()) return gone.status();
    if (Status s = txn.put(tables_.lru, lru_key(now_ms, client_id), ""); !s.is_ok()) return s;
    session.last_active_ms = now_ms;
  }
  // The client has every answer below lowest_outstanding_seq. A stale request may carry a
  // lower value than one already seen; the table keeps the highest.
  if (request.lowest_outstanding_seq() > session.lowest_outstanding_seq) {
    auto forgotten = forget_responses(txn, tables_.responses, client_id, request.lowest_outstanding_seq());
    if (!forgotten.is_ok()) return forgotten.status();
    session.responses -= *forgotten;
    session.lowest_outstanding_seq = request.lowest_outstanding_seq();
  }
  if (Status s = store(txn, client_id, session); !s.is_ok()) return s;

  // Scenario: the client sends seq 5 to a leader that commits it but crashes before answering;
  // the client retries seq 5 at the new leader, which proposes it again; the first copy
  // answers, the client moves on with lowest_outstanding_seq 6; then the second copy commits.
  // It must not apply again, and its answer is gone. Nobody waits for it, and UNKNOWN is
  // the honest answer in case anyone does.
  if (request.seq() < session.lowest_outstanding_seq) {
    return Admission{
        Admission::Kind::kRejected,
        refusal(Code::kUnknown, "seq " + std::to_string(request.seq()) +
                                    " was answered and acknowledged before; its answer is gone")};
  }
  auto cached = txn.get(tables_.responses, response_key(client_id, request.seq()));
  if (!cached.is_ok()) return cached.status();
  if (cached->has_value()) {
    Admission admission{Admission::Kind::kDuplicate, {}};
    if (!admission.response.ParseFromArray((*cached)->data(), static_cast<int>((*cached)->size()))) {
      return Status(Code::kCorruption, "cached response does not parse");
    }
    return admission;
  }
  if (session.responses >= options_.session_responses_max) {
    return Admission{Admission::Kind::kRejected,
                     refusal(Code::kResourceExhausted, "session holds " + std::to_string(session.responses) +
                                                           " answers; raise lowest_outstanding_seq")};
  }
  return Admission{Admission::Kind::kApply, {}};
}

Status Sessions::record(LmdbTxn& txn, uint64_t client_id, uint64_t seq,
                        const pb::ClientResponse& response) const {
  auto loaded = load(txn, client_id);
  if (!loaded.is_ok()) return loaded.status();
  CASTOR_ASSERT(loaded->has_value(), "record() for a session that admit() did not find");
  Session session = **loaded;
  ++session.responses;
  if (Status s = txn.put(tables_.responses, response_key(client_id, seq), response.SerializeAsString());
      !s.is_ok()) {
    return s;
  }
  return store(txn, client_id, session);
}

}  // namespace castor::kv

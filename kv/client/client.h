// Client: Castor's C++ client. It finds the leader, keeps one connection per node it talks to
// with many requests in flight on each, and retries until each call's deadline, so that every
// call ends in one of the three outcomes of kv/client/outcome.h: OK, FAILED (certainly not applied)
// or UNKNOWN (may have applied).
//
// Leader discovery: a call goes to the node believed to lead, else to the nodes in turn.
// NOT_LEADER names the leader by Raft id, and the client knows which endpoint has which id from
// the Hello each node answered with; a leader it has not met yet is searched for among the
// endpoints it has not connected to. Refusals that name no leader (UNAVAILABLE, DROPPED) move
// on after a short, growing, jittered backoff.
//
// Writes: exactly once (docs/PROMISES.md; Raft thesis 6.3). The first write registers a
// session; every write then carries (client_id, seq) and is retried with the SAME seq across
// leader changes, lost connections and refusals until the deadline, so a retry of a write that
// did apply gets the original answer instead of applying twice. Each write carries the lowest
// seq still awaiting an answer, which lets the nodes forget older answers. SESSION_EXPIRED
// when no earlier attempt may have applied means "certainly not applied": the client registers
// again and retries under a new seq. After an attempt that may have applied it means the
// node forgot whether it did, and the outcome is UNKNOWN.
//
// Outcomes, decided per call: OK if an attempt was answered OK; otherwise UNKNOWN if some
// attempt may have applied (it was sent and then the connection broke, its attempt timeout
// passed, or a node answered UNKNOWN); otherwise FAILED with the last refusal's code. Reads
// and status change nothing, so they are never UNKNOWN: an unanswered read is FAILED.
//
// Reads are linearizable unless `serializable` (then any node answers from its own state,
// possibly stale). Any node can serve a linearizable read; the client prefers the leader.
//
// Load: calls are coroutines, so thousands may run at once on one io_context (castor-bench).
// Writes beyond ClientOptions::seq_window_max of the session's oldest unanswered one wait.
//
// What it does NOT do: retry past the deadline, reorder or batch calls (the node batches), or
// guarantee that separate calls apply in the order they were made unless each waits for the
// one before.
// Threading: every call runs on the io_context given at construction, which must run on one
// thread. Destroy the client only when no call is running on it.
#pragma once

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kv/client/cas_expect.h"
#include "kv/client/client_connection.h"
#include "kv/client/client_options.h"
#include "kv/client/outcome.h"
#include "kv/client/watch.h"
#include "kv/kv.pb.h"

namespace castor::kv {

struct ReadOptions {
  bool serializable = false;  // answer from the serving node's state without a ReadIndex round
};

struct RangeOptions {
  uint64_t limit = 0;  // at most this many kvs; 0 = the server's limit
  bool keys_only = false;
  bool count_only = false;
  bool serializable = false;
};

class Client {
 public:
  using Clock = std::chrono::steady_clock;
  template <typename T>
  using Call = boost::asio::awaitable<Outcome<T>>;

  // `options.endpoints` must not be empty.
  Client(boost::asio::io_context& io, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reads. The value is absent from GetResponse when the key does not exist.
  Call<pb::GetResponse> get(std::string key, ReadOptions options = {});
  // Keys in [start, end); an empty `end` means no upper bound.
  Call<pb::RangeResponse> range(std::string start, std::string end, RangeOptions options = {});
  Call<pb::RangeResponse> range_prefix(std::string prefix, RangeOptions options = {});

  // Writes.
  Call<pb::PutResponse> put(std::string key, std::string value, bool prev_kv = false);
  Call<pb::DeleteResponse> del(std::string key, bool prev_kv = false);
  // Deletes the keys in [start, end); an empty `end` means no upper bound.
  Call<pb::DeleteRangeResponse> delete_range(std::string start, std::string end);
  Call<pb::DeleteRangeResponse> delete_prefix(std::string prefix);
  // OK whether or not the compares held: TxnResponse::succeeded says which branch ran.
  Call<pb::TxnResponse> txn(pb::TxnRequest txn);
  // Puts `value` under `key` if `expect` holds. A false compare is FAILED with
  // FAILED_PRECONDITION, and the outcome's value is the Txn answer whose one response is a
  // GetResponse with the key's current state (absent if the key is).
  Call<pb::TxnResponse> cas(std::string key, std::string value, CasExpect expect);

  // A watch of this client's cluster (kv/client/watch.h): the changes to a key, a prefix or a
  // range, resumed on another node by itself. It has connections of its own.
  std::unique_ptr<Watch> watch(WatchOptions options) {
    return std::make_unique<Watch>(io_, options_, std::move(options));
  }

  // Administration.
  // The status of the node at options().endpoints[endpoint], asked of that node only, once.
  Call<pb::StatusResponse> status(size_t endpoint);
  // Makes the member named `name` (as in castord --initial-cluster) the leader.
  Call<pb::TransferLeaderResponse> transfer_leader(std::string name);

  // Closes every connection: calls waiting on them see a lost connection and retry on new
  // ones until their deadlines.
  void close();

  const ClientOptions& options() const { return options_; }
  // The endpoint believed to lead, if any (for tests and tools).
  std::optional<size_t> leader_endpoint() const { return leader_; }

 private:
  // Whether a call can change state, which decides between FAILED and UNKNOWN.
  enum class Effects { kNone, kMayApply };
  struct Session {
    uint64_t client_id = 0;
    uint64_t next_seq = 1;
    std::set<uint64_t> outstanding;  // seqs handed out and not yet answered
    uint64_t lowest_outstanding() const { return outstanding.empty() ? next_seq : *outstanding.begin(); }
  };

  // Sends `request` until it is answered definitively or `deadline` passes, choosing nodes as
  // described above. `pinned` sends it once to that endpoint only. `session` refreshes a
  // write's lowest_outstanding_seq before each attempt.
  boost::asio::awaitable<Outcome<pb::ClientResponse>> execute(pb::ClientRequest request,
                                                              Clock::time_point deadline, Effects effects,
                                                              const Session* session,
                                                              std::optional<size_t> pinned);
  boost::asio::awaitable<Outcome<pb::ClientResponse>> read(pb::ClientRequest request);
  boost::asio::awaitable<Outcome<pb::ClientResponse>> write(pb::WriteRequest write);
  boost::asio::awaitable<Result<std::shared_ptr<Session>>> ensure_session(Clock::time_point deadline);
  boost::asio::awaitable<std::optional<uint64_t>> take_seq(Session& session, Clock::time_point deadline);
  void release_seq(Session& session, uint64_t seq);
  // Waits until notify_session_waiters() or `deadline`.
  boost::asio::awaitable<void> wait_for_session_change(Clock::time_point deadline);
  void notify_session_waiters();

  std::shared_ptr<ClientConnection> connection(size_t endpoint);
  std::optional<size_t> endpoint_of(uint64_t node_id) const;
  // Updates the believed leader from an answer that endpoint `from` gave.
  void learn_leader(const pb::ResponseHeader& header, size_t from);
  // The endpoint after `from` whose node id is still unknown, else simply the next one.
  size_t next_unmet(size_t from) const;
  // Where a retryable refusal naming leader_hint sends the next attempt at once; nullopt: pause.
  std::optional<size_t> redirect(uint64_t leader_hint, size_t target, size_t hops) const;
  boost::asio::awaitable<void> backoff(int step, Clock::time_point deadline);

  boost::asio::io_context& io_;
  const ClientOptions options_;
  std::vector<std::shared_ptr<ClientConnection>> conns_;  // per endpoint; null until used
  std::vector<uint64_t> node_ids_;                        // per endpoint; 0 until met
  std::optional<size_t> leader_;
  uint64_t leader_term_ = 0;  // the term leader_ was learned in
  size_t cursor_ = 0;         // where a call starts when no leader is known
  uint64_t next_request_id_ = 1;
  std::mt19937_64 rng_;

  std::shared_ptr<Session> session_;
  bool registering_ = false;
  std::vector<boost::asio::steady_timer*> session_waiters_;
};

}  // namespace castor::kv

// Writes: the client writes (and session registrations) a leader takes, from the request to
// its answer. Writes that arrive together become one CommandBatch in one Raft entry, up to
// entry_bytes_max so that every entry fits one peer message; the leader stamps each command
// with its clock (kept monotone here) and its session timeout, so that every replica decides
// session expiry alike. Each writer waits in a Pending registry (kv/server/pending.h) until:
//   - its command applies: answered with the state machine's response (answer_applied);
//   - another leader's entry took its batch's index: UNKNOWN, it may still apply elsewhere
//     (forget_lost);
//   - the core refused the proposal: that error, nothing was logged;
//   - a retry of the same write (same client and seq, or registration nonce) replaces it:
//     UNKNOWN ("superseded by a retry");
//   - its deadline passes: UNKNOWN (fail_expired).
//
// What it does NOT do: decide whether this node may take writes now (leadership, storage: the
// server checks before take()), apply anything, or fill answers' headers (WritesHost::answer).
// Threading: not thread-safe; the server's io thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/state_machine.h"
#include "kv/server/pending.h"
#include "kv/server/server_metrics.h"
#include "raft/node.h"

namespace castor::kv {

// What Writes needs of the node that hosts it.
class WritesHost {
 public:
  virtual ~WritesHost() = default;
  // Proposes one entry to the Raft core (raft::Node::propose) and lets the node drive it.
  virtual Result<raft::Proposal> propose(std::string data) = 0;
  // Sends one answer to its client.
  virtual void answer(const Respond& respond, pb::ClientResponse r) const = 0;
  // Runs `job` on the io thread after the events already queued there.
  virtual void post(std::function<void()> job) = 0;
};

struct WritesOptions {
  uint64_t entry_bytes_max = 0;           // the largest entry proposed
  uint64_t session_timeout_ms = 0;        // stamped into every command
  std::chrono::milliseconds deadline{0};  // how long a writer waits (--request-timeout-ms)
};

class Writes {
 public:
  Writes(WritesOptions options, WritesHost& host, ServerMetrics& metrics)
      : opt_(options), host_(host), metrics_(metrics) {}

  // Adds a validated write or registration (validate() sized it) to the batch that the next
  // flush proposes; its writer waits for one of the outcomes above.
  void take(const pb::ClientRequest& req, Respond respond);
  // Answers the writers of commands the state machine applied (those this node proposed).
  void answer_applied(std::vector<AppliedCommand> answers);
  // For entries about to apply: answers UNKNOWN the writers of this node's batches whose
  // index another leader's entry took.
  void forget_lost(const std::vector<raft::pb::Entry>& committed);
  // Answers UNKNOWN every writer whose deadline is at or before `now`.
  void fail_expired(std::chrono::steady_clock::time_point now);
  // Writers still waiting, for castor_pending_writes.
  size_t waiting() const { return writes_.size() + registrations_.size(); }

 private:
  using WriteKey = std::pair<uint64_t, uint64_t>;  // (client_id, seq)
  // What one proposed entry carries, to answer its writers if another leader's entry wins.
  struct Proposed {
    raft::Term term;
    std::vector<WriteKey> writes;
    std::vector<uint64_t> nonces;
  };

  void flush();
  // Answers every writer of one batch that still waits; returns how many writes it answered.
  uint64_t fail_batch(const std::vector<WriteKey>& writes, const std::vector<uint64_t>& nonces, Code code,
                      const std::string& why);

  const WritesOptions opt_;
  WritesHost& host_;
  ServerMetrics& metrics_;

  pb::CommandBatch batch_;
  std::vector<WriteKey> batch_writes_;
  std::vector<uint64_t> batch_nonces_;
  uint64_t batch_bytes_ = 0;  // an upper bound on batch_'s serialized size
  bool flush_posted_ = false;
  uint64_t last_stamp_ms_ = 0;
  Pending<WriteKey> writes_;
  Pending<uint64_t> registrations_;
  std::map<uint64_t, Proposed> proposed_;  // by entry index
};

}  // namespace castor::kv

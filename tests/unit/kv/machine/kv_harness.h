// KvHarness: a StateMachine in a temporary directory, fed entries the way the server would,
// with one registered client whose session fields are filled in automatically.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kv/machine/state_machine.h"
#include "tests/unit/temp_dir.h"

namespace castor::kv::testing {

using castor::testing::TempDir;

inline raft::pb::Entry entry(uint64_t index, const std::vector<pb::Command>& commands, uint64_t term = 1) {
  pb::CommandBatch batch;
  for (const pb::Command& c : commands) *batch.add_commands() = c;
  raft::pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(raft::pb::ENTRY_NORMAL);
  e.set_data(batch.SerializeAsString());
  return e;
}

inline raft::pb::Entry noop_entry(uint64_t index, uint64_t term = 1) {
  raft::pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(raft::pb::ENTRY_NOOP);
  return e;
}

inline pb::Command register_command(uint64_t timestamp_ms, uint64_t nonce = 7) {
  pb::Command c;
  c.set_timestamp_ms(timestamp_ms);
  c.mutable_register_client()->set_nonce(nonce);
  return c;
}

inline pb::Command write_command(uint64_t timestamp_ms, pb::WriteRequest write) {
  pb::Command c;
  c.set_timestamp_ms(timestamp_ms);
  *c.mutable_write() = std::move(write);
  return c;
}

inline pb::WriteRequest put_request(const std::string& key, const std::string& value, bool prev_kv = false) {
  pb::WriteRequest w;
  w.mutable_put()->set_key(key);
  w.mutable_put()->set_value(value);
  w.mutable_put()->set_prev_kv(prev_kv);
  return w;
}

inline pb::WriteRequest delete_request(const std::string& key, bool prev_kv = false) {
  pb::WriteRequest w;
  w.mutable_delete_key()->set_key(key);
  w.mutable_delete_key()->set_prev_kv(prev_kv);
  return w;
}

inline pb::WriteRequest txn_request(pb::TxnRequest txn) {
  pb::WriteRequest w;
  *w.mutable_txn() = std::move(txn);
  return w;
}

class KvHarness {
 public:
  explicit KvHarness(StateMachineOptions options = {}) : options_(std::move(options)) {
    options_.data_dir = dir_.path();
    reopen();
    client_id_ = register_client();
  }

  StateMachine& sm() { return *sm_; }
  std::string dir() const { return dir_.path().string(); }
  // Closes the state machine (as a stopped node would); reopen() starts it again.
  void close() { sm_.reset(); }
  const StateMachineOptions& options() const { return options_; }
  uint64_t client_id() const { return client_id_; }
  uint64_t last_seq() const { return seq_; }
  uint64_t next_index() const { return next_index_; }
  uint64_t now_ms() const { return now_ms_; }
  void set_now_ms(uint64_t now_ms) { now_ms_ = now_ms; }

  // Closes and reopens the state machine on the same directory (a restart). The harness keeps
  // counting indexes, as the Raft log would.
  void reopen() {
    sm_.reset();
    auto opened = StateMachine::open(options_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    sm_ = std::move(*opened);
  }

  // Applies one entry carrying `commands` at the next index. Commands that carry no session
  // timeout get this harness's, as a leader stamps its own on every command it proposes.
  std::vector<AppliedCommand> apply(std::vector<pb::Command> commands) {
    for (pb::Command& c : commands) {
      if (c.session_timeout_ms() == 0) c.set_session_timeout_ms(options_.sessions.session_timeout_ms);
    }
    raft::pb::Entry e = entry(next_index_++, commands);
    auto applied = sm_->apply(std::span(&e, 1));
    EXPECT_TRUE(applied.is_ok()) << applied.status().to_string();
    return applied.is_ok() ? std::move(*applied) : std::vector<AppliedCommand>{};
  }

  uint64_t register_client() {
    auto applied = apply({register_command(now_ms_)});
    EXPECT_EQ(applied.size(), 1u);
    return applied.at(0).response.register_client().client_id();
  }

  // Stamps `w` with this harness's session and the next seq (everything before acknowledged).
  pb::WriteRequest stamp(pb::WriteRequest w) {
    w.set_client_id(client_id_);
    w.set_seq(++seq_);
    w.set_lowest_outstanding_seq(seq_);
    return w;
  }

  pb::ClientResponse write(pb::WriteRequest w) { return send(stamp(std::move(w))); }
  // Applies an already stamped request, in its own entry.
  pb::ClientResponse send(const pb::WriteRequest& w) {
    auto applied = apply({write_command(now_ms_, w)});
    EXPECT_EQ(applied.size(), 1u);
    return applied.empty() ? pb::ClientResponse{} : applied[0].response;
  }

  pb::ClientResponse put(const std::string& key, const std::string& value, bool prev_kv = false) {
    return write(put_request(key, value, prev_kv));
  }
  pb::ClientResponse del(const std::string& key, bool prev_kv = false) {
    return write(delete_request(key, prev_kv));
  }
  pb::TxnResponse txn(pb::TxnRequest t) {
    pb::ClientResponse r = write(txn_request(std::move(t)));
    EXPECT_EQ(r.code(), pb::OK) << r.message();
    return r.write().txn();
  }

  std::optional<pb::KeyValue> get(const std::string& key) {
    pb::GetRequest request;
    request.set_key(key);
    auto response = sm_->get(request);
    EXPECT_TRUE(response.is_ok()) << response.status().to_string();
    if (!response.is_ok() || !response->get().has_kv()) return std::nullopt;
    return response->get().kv();
  }

  pb::RangeResponse range(const pb::RangeRequest& request) {
    auto response = sm_->range(request);
    EXPECT_TRUE(response.is_ok()) << response.status().to_string();
    return response.is_ok() ? response->range() : pb::RangeResponse{};
  }

 private:
  TempDir dir_;
  StateMachineOptions options_;
  std::unique_ptr<StateMachine> sm_;
  uint64_t next_index_ = 1;
  uint64_t now_ms_ = 1'000'000;
  uint64_t client_id_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace castor::kv::testing

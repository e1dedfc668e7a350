// castor-kv-bench: StateMachine::apply throughput. Each iteration applies one Raft entry that
// carries a batch of N Put commands (256-byte values, session-stamped like real client writes)
// in one LMDB write transaction, so the figures show what batching buys per fsync.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "kv/machine/state_machine.h"

namespace castor::kv {
namespace {

constexpr uint64_t kValueBytes = 256;
constexpr uint64_t kKeySpace =
    100000;  // the design point's key count (docs/PROMISES.md, "The load it is built for")

void BM_ApplyPutBatch(benchmark::State& state) {
  const auto batch = static_cast<uint64_t>(state.range(0));
  std::string dir = "/tmp/castor-kv-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  StateMachineOptions options;
  options.data_dir = dir;
  auto sm = StateMachine::open(options);
  if (!sm.is_ok()) {
    state.SkipWithError(sm.status().to_string().c_str());
    return;
  }
  uint64_t index = 0;
  uint64_t now_ms = 1;
  auto apply = [&](const pb::CommandBatch& commands) {
    raft::pb::Entry entry;
    entry.set_index(++index);
    entry.set_term(1);
    entry.set_type(raft::pb::ENTRY_NORMAL);
    entry.set_data(commands.SerializeAsString());
    return (*sm)->apply(std::span(&entry, 1));
  };
  pb::CommandBatch registration;
  registration.add_commands()->mutable_register_client();
  auto registered = apply(registration);
  if (!registered.is_ok()) {
    state.SkipWithError(registered.status().to_string().c_str());
    return;
  }
  const uint64_t client_id = (*registered)[0].response.register_client().client_id();
  const std::string value(kValueBytes, 'v');
  uint64_t seq = 0;
  char key[32];

  for (auto _ : state) {
    state.PauseTiming();
    pb::CommandBatch commands;
    ++now_ms;
    for (uint64_t i = 0; i < batch; ++i) {
      pb::Command* command = commands.add_commands();
      command->set_timestamp_ms(now_ms);
      pb::WriteRequest* write = command->mutable_write();
      write->set_client_id(client_id);
      write->set_seq(++seq);
      write->set_lowest_outstanding_seq(seq);
      std::snprintf(key, sizeof key, "key-%08llu", static_cast<unsigned long long>(seq % kKeySpace));
      write->mutable_put()->set_key(key);
      write->mutable_put()->set_value(value);
    }
    state.ResumeTiming();
    auto applied = apply(commands);
    if (!applied.is_ok()) {
      state.SkipWithError(applied.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(applied->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * kValueBytes));
  sm.value().reset();
  std::filesystem::remove_all(dir);
}

// Real time: the cost is dominated by the fsync of each commit, which CPU time does not see.
BENCHMARK(BM_ApplyPutBatch)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace castor::kv

BENCHMARK_MAIN();

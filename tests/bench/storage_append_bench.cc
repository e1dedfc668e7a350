// castor-storage-bench: LmdbLog::append throughput with fsync on, for the batch sizes group
// commit produces (1 entry when idle, 16 and 256 under load), entries of 256 bytes.
//
//   build/tests/bench/castor-storage-bench [--benchmark_...]
//
// The log lives in a fresh directory under $CASTOR_BENCH_DIR (default /tmp), so point that at
// the disk castord will use: the figures are the disk's fsync latency more than anything else.
// Real time, not CPU time: an append mostly waits for the disk.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "raft/storage/lmdb_log.h"

namespace castor::raft {
namespace {

constexpr size_t kEntryBytes = 256;

std::filesystem::path make_temp_dir() {
  const char* base = std::getenv("CASTOR_BENCH_DIR");
  std::string tmpl =
      (std::filesystem::path(base != nullptr ? base : "/tmp") / "castor-storage-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("mkdtemp " + tmpl).c_str());
    std::exit(1);
  }
  return tmpl;
}

void BM_LmdbLogAppend(benchmark::State& state) {
  const auto batch = static_cast<uint64_t>(state.range(0));
  const std::filesystem::path dir = make_temp_dir();
  LmdbLog::Options options;
  options.data_dir = dir;
  options.bootstrap_conf.add_voters(1);
  options.create_if_missing = true;
  Result<std::unique_ptr<LmdbLog>> opened = LmdbLog::open(options);
  if (!opened.is_ok()) {
    state.SkipWithError(opened.status().to_string().c_str());
    return;
  }
  std::unique_ptr<LmdbLog> log = std::move(opened).value();

  std::vector<pb::Entry> entries(batch);
  for (pb::Entry& e : entries) {
    e.set_term(1);
    e.set_data(std::string(kEntryBytes, 'x'));
  }
  uint64_t next = 1;
  pb::HardState hs;
  hs.set_term(1);
  hs.set_vote(1);
  for (auto _ : state) {
    for (pb::Entry& e : entries) e.set_index(next++);
    // As castord persists a Ready: the hard state (commit moved) with the new entries.
    hs.set_commit(next - 1 - batch);
    const Status s = log->append(hs, entries);
    if (!s.is_ok()) {
      state.SkipWithError(s.to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * kEntryBytes));
  state.counters["entries_per_append"] = static_cast<double>(batch);

  log.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_LmdbLogAppend)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace castor::raft

BENCHMARK_MAIN();

// castor-bench --op watch: how long a change takes from its put's acknowledgement to the
// watchers, with many watchers on one prefix, measured as etcd-watch-bench measures etcd (the
// rules are WatchLedger's, tools/castor_bench_watch_ledger.h):
//
//   - --watchers kv::Watch instances on --prefix from "now", each on its own connection (as
//     kv::Watch makes), the i-th starting on endpoint i mod N and free to resume on the others;
//   - once every watch has its start revision, puts of --value-size bytes under the prefix
//     (keys cycling over --keys) leave on a fixed schedule of --rate per second, open loop: each
//     put is sent at its time whatever the earlier ones are doing, through one kv::Client;
//   - each event is joined to its put's acknowledgement by revision.
//
// What it does NOT do: retry a failed put (it is an error, and its event, if any, is not
// counted) or resume a watch kv::Watch gave up on.
// Threading: the watches are spread over one thread per core, each with its own io_context (as
// gRPC's callback threads serve etcd-watch-bench's streams), the writer has a thread of its
// own, and the calling thread waits for them.
#pragma once

#include <vector>

#include "net/endpoint.h"
#include "tools/castor_bench_flags.h"

namespace castor::tools {

// Runs the benchmark and prints its JSON line; 0 when every expected event came and nothing
// failed, else 1.
int run_watch(const BenchFlags& flags, const std::vector<net::Endpoint>& endpoints);

}  // namespace castor::tools

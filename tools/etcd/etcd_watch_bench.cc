// etcd-watch-bench: castor-bench --op watch's twin for etcd 3.4, over etcd's v3 gRPC API (the
// subset in tools/etcd/rpc.proto). Same flags, same workload, same JSON line (the rules are
// WatchLedger's, tools/castor_bench_watch_ledger.h), so that bench-compare measures both stores
// alike:
//
//   - W watches on --prefix, each its own gRPC stream on its own channel (its own TCP
//     connection, as each Castor watch has), spread round-robin over --endpoints, from "now";
//   - once every watch is created, puts of --value-size bytes under the prefix (keys cycling
//     over --keys) leave on a fixed schedule of --rate per second, open loop: a put is sent at
//     its time whatever earlier ones are doing, on one channel to the first endpoint (the
//     caller lists etcd's leader first, so puts are not forwarded);
//   - each event is joined to its put's acknowledgement by revision.
//
// gRPC's callback API runs the reactors on its own threads; the ledger is built for that.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tools/castor_bench_flags.h"
#include "tools/castor_bench_proc.h"
#include "tools/castor_bench_watch_ledger.h"
#include "tools/etcd/rpc.grpc.pb.h"

namespace {

using castor::tools::BenchFlags;
using castor::tools::kPutsInFlightMax;
using castor::tools::kWatchDrainTimeout;
using castor::tools::kWatchStartTimeout;
using castor::tools::WatchCosts;
using castor::tools::WatchLedger;
using Clock = std::chrono::steady_clock;

// etcd watches a prefix as the range [prefix, prefix with its last byte raised by one).
std::string prefix_end(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (p.empty()) return std::string(1, '\0');  // every key
  p.back() = static_cast<char>(p.back() + 1);
  return p;
}

std::shared_ptr<grpc::Channel> own_channel(const std::string& endpoint) {
  grpc::ChannelArguments args;
  // A pool of its own gives the channel a connection of its own instead of sharing one per
  // address with every other channel of the process.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

class Watcher : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  Watcher(int index, WatchLedger& ledger, std::atomic<int>& created, std::atomic<int64_t>& base)
      : index_(index), ledger_(ledger), created_(created), base_(base) {}

  void start(const std::string& endpoint, const std::string& prefix) {
    stub_ = etcdserverpb::Watch::NewStub(own_channel(endpoint));
    auto* create = request_.mutable_create_request();
    create->set_key(prefix);
    create->set_range_end(prefix_end(prefix));
    stub_->async()->Watch(&context_, this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void stop() { context_.TryCancel(); }
  bool done() const { return done_.load(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    const auto at = Clock::now();
    if (response_.created()) {
      int64_t seen = base_.load();
      while (response_.header().revision() > seen &&
             !base_.compare_exchange_weak(seen, response_.header().revision())) {
      }
      created_.fetch_add(1);
    }
    if (response_.canceled()) ledger_.watch_failed();
    for (const auto& e : response_.events()) ledger_.received(index_, e.kv().mod_revision(), at);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override {
    // Ended by stop() is expected; any other end lost the events that followed.
    if (!stopping_.load() && !s.ok()) ledger_.watch_failed();
    done_.store(true);
  }
  void stopping() { stopping_.store(true); }

 private:
  const int index_;
  WatchLedger& ledger_;
  std::atomic<int>& created_;
  std::atomic<int64_t>& base_;
  std::unique_ptr<etcdserverpb::Watch::Stub> stub_;
  grpc::ClientContext context_;
  etcdserverpb::WatchRequest request_;
  etcdserverpb::WatchResponse response_;
  std::atomic<bool> stopping_{false}, done_{false};
};

// One put's call: it lives until its answer comes.
struct PutCall {
  grpc::ClientContext context;
  etcdserverpb::PutRequest request;
  etcdserverpb::PutResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> reader;
  bool measured = false;
};

// The puts' answers come to a completion queue of their own, read by a thread of its own, so
// that an acknowledgement is timed when it comes, not after the watchers' backlog of events
// on gRPC's callback threads.
class Writer {
 public:
  Writer(const BenchFlags& f, WatchLedger& ledger)
      : flags_(f),
        ledger_(ledger),
        stub_(etcdserverpb::KV::NewStub(own_channel(f.endpoints.front()))),
        value_(static_cast<size_t>(f.value_size), 'v'),
        answers_([this] { read_answers(); }) {}
  ~Writer() {
    queue_.Shutdown();
    answers_.join();
  }

  // Sends put number `n` now; `measured` when its time was inside the window.
  void put(uint64_t n, bool measured) {
    if (in_flight_.load() >= kPutsInFlightMax) {
      ledger_.put_failed();
      return;
    }
    in_flight_.fetch_add(1);
    auto* call = new PutCall;
    call->measured = measured;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    call->request.set_key(flags_.prefix + std::to_string(n % static_cast<uint64_t>(flags_.keys)));
    call->request.set_value(value_);
    call->reader = stub_->AsyncPut(&call->context, call->request, &queue_);
    call->reader->Finish(&call->response, &call->status, call);
  }
  int in_flight() const { return in_flight_.load(); }

 private:
  void read_answers() {
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
      std::unique_ptr<PutCall> call(static_cast<PutCall*>(tag));
      if (ok && call->status.ok()) {
        ledger_.acked(call->response.header().revision(), call->measured, Clock::now());
      } else {
        ledger_.put_failed();
      }
      in_flight_.fetch_sub(1);
    }
  }

  const BenchFlags& flags_;
  WatchLedger& ledger_;
  std::unique_ptr<etcdserverpb::KV::Stub> stub_;
  const std::string value_;
  std::atomic<int> in_flight_{0};
  grpc::CompletionQueue queue_;
  std::thread answers_;  // last: starts once the rest is built
};

// Puts on schedule from now: warm-up, then the measured window; samples the costs at its edges.
void run_schedule(const BenchFlags& f, Writer& writer, WatchCosts& costs) {
  const auto start = Clock::now();
  const auto dur = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const auto begin = start + dur(f.warmup);
  const auto end = begin + dur(f.duration);
  bool sampled = false;
  for (uint64_t n = 0;; ++n) {
    const auto at = start + dur(static_cast<double>(n) / f.rate);
    if (at >= end) break;
    if (!sampled && at >= begin) {
      std::this_thread::sleep_until(begin);
      costs.servers_begin = castor::tools::sample_processes(f.cpu_pids);
      costs.bench_begin = castor::tools::sample_self();
      sampled = true;
    }
    std::this_thread::sleep_until(at);
    writer.put(n, at >= begin);
  }
  std::this_thread::sleep_until(end);
  costs.servers_end = castor::tools::sample_processes(f.cpu_pids);
  costs.bench_end = castor::tools::sample_self();
}

template <class Done>
bool wait_for(Done done, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const BenchFlags f = castor::tools::parse_bench_flags(argc, argv, "etcd-watch-bench");
  if (f.op != "watch") {
    std::fprintf(stderr, "etcd-watch-bench: only --op watch\n");
    return 2;
  }
  // Room for every revision the schedule can make, twice over.
  WatchLedger ledger(f.watchers, static_cast<uint64_t>(2 * f.rate * (f.warmup + f.duration)) + 1000);
  WatchCosts costs;
  costs.rss_before_watches = castor::tools::sample_processes(f.cpu_pids).rss_bytes;
  std::atomic<int> created{0};
  std::atomic<int64_t> base{0};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int w = 0; w < f.watchers; ++w) {
    watchers.push_back(std::make_unique<Watcher>(w, ledger, created, base));
    watchers.back()->start(f.endpoints[static_cast<size_t>(w) % f.endpoints.size()], f.prefix);
  }
  if (!wait_for([&] { return created.load() == f.watchers; }, kWatchStartTimeout)) {
    std::fprintf(stderr, "etcd-watch-bench: %d of %d watches created\n", created.load(), f.watchers);
    return 1;
  }
  costs.rss_watching = castor::tools::sample_processes(f.cpu_pids).rss_bytes;
  ledger.start_after(base.load());
  Writer writer(f, ledger);
  run_schedule(f, writer, costs);
  wait_for([&] { return writer.in_flight() == 0 && ledger.caught_up(); }, kWatchDrainTimeout);
  costs.rss_end = castor::tools::sample_processes(f.cpu_pids).rss_bytes;
  for (auto& w : watchers) w->stopping(), w->stop();
  wait_for([&] { return writer.in_flight() == 0; }, std::chrono::seconds(10));
  for (auto& w : watchers) {
    if (!wait_for([&] { return w->done(); }, std::chrono::seconds(10))) {
      std::fprintf(stderr, "etcd-watch-bench: a watch did not end\n");
      std::_Exit(1);  // its reactor still points at the ledger: leave without destroying it
    }
  }
  const auto result = ledger.result();
  castor::tools::print_watch_json(f, result, costs);
  return result.errors() == 0 && result.events == result.expected_events && result.puts > 0 ? 0 : 1;
}

// Requests (kv/server/requests.h): every request is counted once, refused with a named code when
// the node stops, the frame does not parse or the limits say no (and then reaches no path),
// routed to the one path that answers it; writes without a session get distinct odd tags; a
// watch starts on the hub (or is refused, counted once), and a cancel names a watch of its own
// connection.
#include "kv/server/requests.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "kv/server/server_metrics.h"

namespace castor::kv {
namespace {

// The node around Requests: each path records what reached it and answers OK.
struct FakeHost : RequestsHost {
  bool is_stopping = false;
  std::vector<std::string> paths;  // "read", "write", "transfer", in order
  std::vector<pb::ClientRequest> writes;

  bool stopping() const override { return is_stopping; }
  void answer(const Respond& respond, pb::ClientResponse r) const override {
    fill_header(r);
    respond(std::move(r));
  }
  void fill_header(pb::ClientResponse& r) const override { r.mutable_header()->set_node(7); }
  void read(pb::ClientRequest req, Respond respond) override { ok("read", req, respond); }
  void write(const pb::ClientRequest& req, Respond respond) override {
    EXPECT_GT(req.GetCachedSize(), 0) << "Writes needs the size validate() cached (a moved message loses it)";
    writes.push_back(req);
    ok("write", req, respond);
  }
  void transfer(const pb::ClientRequest& req, Respond respond) override { ok("transfer", req, respond); }
  pb::StatusResponse status() const override {
    pb::StatusResponse s;
    s.set_name("n1");
    return s;
  }
  void ok(const std::string& path, const pb::ClientRequest& req, const Respond& respond) {
    paths.push_back(path);
    pb::ClientResponse r;
    r.set_request_id(req.request_id());
    answer(respond, std::move(r));
  }
};

// A watch's answers.
struct FakeStream : WatchStream {
  std::vector<pb::ClientResponse> answers;
  void send(uint64_t request_id, const WatchAnswer& answer) override {
    pb::ClientResponse r;
    r.set_request_id(request_id);
    *r.mutable_watch() = answer.response;
    answers.push_back(std::move(r));
  }
  void finish(pb::ClientResponse answer) override { answers.push_back(std::move(answer)); }
  uint64_t queued_bytes() const override { return 0; }
  bool open() const override { return true; }
};

struct Fixture {
  explicit Fixture(WatchHubOptions watch_options = {})
      : hub(watch_options, empty_history(), 0, metrics.watch) {}
  static HistoryReader empty_history() {
    return [](uint64_t after, uint64_t) -> Result<HistoryPage> {
      HistoryPage page;
      page.through = after;
      return page;
    };
  }

  Limits limits;
  FakeHost host;
  ServerMetrics metrics;
  WatchHub hub;
  Requests requests{limits, host, metrics, hub, 40};
  std::vector<pb::ClientResponse> answers;

  Respond collect() {
    return [this](pb::ClientResponse r) { answers.push_back(std::move(r)); };
  }
  void handle(pb::ClientRequest req) { requests.handle(std::move(req), collect()); }
  bool counted(const std::string& op, const std::string& code) {
    const std::string line = "castor_requests_total{op=\"" + op + "\",code=\"" + code + "\"} 1\n";
    return metrics.render({}).find(line) != std::string::npos;
  }
};

pb::ClientRequest put(uint64_t request_id, const std::string& key, uint64_t client_id = 0) {
  pb::ClientRequest req;
  req.set_request_id(request_id);
  req.mutable_write()->set_client_id(client_id);
  req.mutable_write()->set_seq(client_id == 0 ? 0 : 1);
  req.mutable_write()->mutable_put()->set_key(key);
  req.mutable_write()->mutable_put()->set_value("v");
  return req;
}

pb::ClientRequest watch(uint64_t request_id, const std::string& prefix) {
  pb::ClientRequest req;
  req.set_request_id(request_id);
  req.mutable_watch()->set_key(prefix);
  req.mutable_watch()->set_prefix(true);
  return req;
}

TEST(Requests, EachKindReachesItsOnePathAndIsCountedOnce) {
  Fixture f;
  pb::ClientRequest get;
  get.set_request_id(1);
  get.mutable_get()->set_key("k");
  f.handle(get);
  f.handle(put(2, "k"));
  pb::ClientRequest transfer;
  transfer.set_request_id(3);
  transfer.mutable_transfer_leader()->set_target("n2");
  f.handle(transfer);
  pb::ClientRequest status;
  status.set_request_id(4);
  status.mutable_status();
  f.handle(status);
  EXPECT_EQ(f.host.paths, (std::vector<std::string>{"read", "write", "transfer"}));
  ASSERT_EQ(f.answers.size(), 4u);
  EXPECT_EQ(f.answers[3].status().name(), "n1");
  EXPECT_EQ(f.answers[3].header().node(), 7u) << "every answer goes through the host's header";
  EXPECT_TRUE(f.counted("get", "OK"));
  EXPECT_TRUE(f.counted("put", "OK"));
  EXPECT_TRUE(f.counted("status", "OK"));
}

TEST(Requests, WritesWithoutASessionGetDistinctOddTagsAndSessionWritesKeepTheirSeq) {
  Fixture f;
  f.handle(put(1, "a"));
  f.handle(put(2, "b"));
  f.handle(put(3, "c", /*client_id=*/9));
  ASSERT_EQ(f.host.writes.size(), 3u);
  const uint64_t first = f.host.writes[0].write().seq();
  const uint64_t second = f.host.writes[1].write().seq();
  EXPECT_EQ(first % 2, 1u) << "a tag is never 0";
  EXPECT_NE(first, second);
  EXPECT_EQ(f.host.writes[2].write().seq(), 1u);
}

TEST(Requests, AStoppingNodeRefusesEverythingUnavailable) {
  Fixture f;
  f.host.is_stopping = true;
  f.handle(put(1, "k"));
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].code(), pb::UNAVAILABLE);
  EXPECT_TRUE(f.host.paths.empty());
}

TEST(Requests, ARequestOverTheLimitsReachesNoPath) {
  Fixture f;
  f.handle(put(1, std::string(f.limits.key_bytes_max + 1, 'k')));
  pb::ClientRequest empty;
  empty.set_request_id(2);
  f.handle(empty);
  ASSERT_EQ(f.answers.size(), 2u);
  EXPECT_EQ(f.answers[0].code(), pb::TOO_LARGE);
  EXPECT_EQ(f.answers[1].code(), pb::INVALID_ARGUMENT);
  EXPECT_TRUE(f.host.paths.empty());
}

TEST(Requests, AWatchOnTheOneAnswerPathIsRefusedByName) {
  Fixture f;
  f.handle(watch(1, "p/"));
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].code(), pb::INVALID_ARGUMENT);
  EXPECT_NE(f.answers[0].message().find("answers many times"), std::string::npos);
  EXPECT_EQ(f.hub.watchers(), 0u);
}

TEST(Requests, AWatchStartsOnTheHubAndACancelNamesAWatchOfItsOwnConnection) {
  Fixture f;
  int connection = 0, other = 0;
  auto stream = std::make_shared<FakeStream>();
  f.requests.watch(watch(5, "p/"), &connection, stream, f.collect());
  EXPECT_EQ(f.hub.watchers(), 1u);
  ASSERT_EQ(stream->answers.size(), 1u);
  EXPECT_TRUE(stream->answers[0].watch().created());
  EXPECT_TRUE(f.counted("watch", "OK"));

  pb::ClientRequest cancel;
  cancel.set_request_id(6);
  cancel.mutable_watch_cancel()->set_watch_request_id(5);
  f.requests.watch(cancel, &other, nullptr, f.collect());
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].code(), pb::NOT_FOUND) << "another connection's watch is not this one's to cancel";
  f.requests.watch(cancel, &connection, nullptr, f.collect());
  ASSERT_EQ(f.answers.size(), 2u);
  EXPECT_EQ(f.answers[1].code(), pb::OK);
  EXPECT_TRUE(f.answers[1].has_watch_cancel());
  EXPECT_TRUE(stream->answers.back().watch().canceled());
}

TEST(Requests, AWatchOverTheNodesLimitIsRefusedAndCountedOnce) {
  WatchHubOptions options;
  options.watchers_max = 1;
  Fixture f(options);
  int connection = 0;
  f.requests.watch(watch(1, "a/"), &connection, std::make_shared<FakeStream>(), f.collect());
  f.requests.watch(watch(2, "b/"), &connection, std::make_shared<FakeStream>(), f.collect());
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].code(), pb::RESOURCE_EXHAUSTED);
  EXPECT_EQ(f.answers[0].request_id(), 2u);
  EXPECT_TRUE(f.counted("watch", "RESOURCE_EXHAUSTED"));
}

}  // namespace
}  // namespace castor::kv

// WatchHub (kv/server/watch_hub.h): each watcher gets every change in its range after its start,
// in revision order, once, with no gap, whether from the history, the tail or live; a start
// below the history is COMPACTED, a client that does not read is cancelled TOO_SLOW and can
// resume without a gap; big revisions split into fragments; progress, cancel, limits, and a
// snapshot that skips revisions a watcher has not seen.
#include "kv/server/watch_hub.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace castor::kv {
namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point kT0 = Clock::now();

pb::Event put(const std::string& key, uint64_t revision) {
  pb::Event e;
  e.set_type(pb::Event::PUT);
  e.mutable_kv()->set_key(key);
  e.mutable_kv()->set_value("v" + std::to_string(revision));
  e.mutable_kv()->set_mod_revision(revision);
  e.mutable_prev_kv()->set_key(key);
  return e;
}

// The answers of one watch, as its client would see them.
class FakeStream : public WatchStream {
 public:
  // Decoded from the answer's encoding, as the client reads it; the encoding must say what
  // the response says.
  void send(uint64_t request_id, const WatchAnswer& answer) override {
    EXPECT_FALSE(finished) << "an answer after the last";
    pb::ClientResponse r;
    r.set_request_id(request_id);
    EXPECT_TRUE(r.mutable_watch()->ParseFromString(answer.encoded));
    EXPECT_EQ(r.watch().SerializeAsString(), answer.response.SerializeAsString());
    answers.push_back(std::move(r));
  }
  void finish(pb::ClientResponse answer) override {
    EXPECT_FALSE(finished) << "an answer after the last";
    answers.push_back(std::move(answer));
    finished = true;
  }
  uint64_t queued_bytes() const override { return queued; }
  bool open() const override { return is_open; }

  // "key@revision" of every event received, in order.
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    for (const auto& a : answers) {
      for (const auto& e : a.watch().events())
        out.push_back(e.kv().key() + "@" + std::to_string(e.kv().mod_revision()));
    }
    return out;
  }
  const pb::ClientResponse& last() const { return answers.back(); }

  std::vector<pb::ClientResponse> answers;
  uint64_t queued = 0;
  bool is_open = true;
  bool finished = false;
};

// A state machine's history: events of revisions (floor, through], one per revision here
// unless a test adds more, read a page at a time.
struct FakeHistory {
  std::vector<pb::Event> events;
  uint64_t floor = 0;
  uint64_t through = 0;
  int reads = 0;

  HistoryReader reader() {
    return [this](uint64_t after, uint64_t page_bytes_max) -> Result<HistoryPage> {
      ++reads;
      HistoryPage page;
      page.floor = floor;
      page.through = std::max(after, through);
      if (after < floor) {
        page.compacted = true;
        page.through = after;
        return page;
      }
      uint64_t bytes = 0;
      for (const pb::Event& e : events) {
        const uint64_t r = e.kv().mod_revision();
        if (r <= after || r > through) continue;
        if (!page.events.empty() && r != page.events.back().kv().mod_revision() && bytes >= page_bytes_max) {
          page.through = page.events.back().kv().mod_revision();
          break;
        }
        page.events.push_back(e);
        bytes += e.ByteSizeLong();
      }
      return page;
    };
  }
};

pb::WatchRequest prefix_watch(const std::string& prefix, std::optional<uint64_t> start = std::nullopt) {
  pb::WatchRequest w;
  w.set_key(prefix);
  w.set_prefix(true);
  if (start) w.set_start_revision(*start);
  return w;
}

// The hub's metrics, in a registry of their own.
struct Counted {
  Metrics registry;
  WatchMetrics metrics{registry.gauge("watchers", ""),    registry.counter("sent", ""),
                       registry.counter("encoded", ""),   registry.counter("slow", ""),
                       registry.counter("compacted", ""), registry.histogram("delay", "", {1.0})};
};

struct Fixture {
  explicit Fixture(uint64_t revision = 0, WatchHubOptions options = {})
      : hub(options, history.reader(), revision, counted.metrics) {}
  // Built before the hub, which takes them.
  FakeHistory history;
  Counted counted;
  WatchHub hub;
  int connection = 0;

  std::shared_ptr<FakeStream> watch(uint64_t request_id, const pb::WatchRequest& request) {
    auto stream = std::make_shared<FakeStream>();
    Status s = hub.add(&connection, request_id, request, stream, kT0);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return stream;
  }
  // Applies revisions [from, to], one put each of `key_of(r)`, as one batch.
  void apply(uint64_t from, uint64_t to, const std::function<std::string(uint64_t)>& key_of) {
    std::vector<pb::Event> events;
    for (uint64_t r = from; r <= to; ++r) events.push_back(put(key_of(r), r));
    hub.publish(events, to, kT0);
  }
  // The same revisions, already committed and in the history.
  void in_history(uint64_t from, uint64_t to, const std::function<std::string(uint64_t)>& key_of) {
    for (uint64_t r = from; r <= to; ++r) history.events.push_back(put(key_of(r), r));
    history.through = to;
  }
};

std::string m(uint64_t r) { return "m/" + std::to_string(r); }

TEST(WatchHub, ALiveWatcherGetsEveryChangeInItsRangeInOrderOnce) {
  Fixture f;
  auto s = f.watch(7, prefix_watch("m/"));
  ASSERT_EQ(s->answers.size(), 1u);
  EXPECT_TRUE(s->answers[0].watch().created());
  EXPECT_EQ(s->answers[0].watch().revision(), 0u) << "starts after the node's revision now";
  f.apply(1, 4, [](uint64_t r) { return r % 2 ? m(r) : "other/" + std::to_string(r); });
  f.apply(5, 5, m);
  EXPECT_EQ(s->events(), (std::vector<std::string>{"m/1@1", "m/3@3", "m/5@5"}));
  EXPECT_EQ(s->last().request_id(), 7u);
  EXPECT_EQ(s->last().watch().revision(), 5u);
  EXPECT_FALSE(s->last().watch().events(0).has_prev_kv()) << "prev_kv only when asked";
}

// A change reaches 1,000 watchers of a prefix: it is copied and encoded once, not per watcher
// (the cost that bounded the watch benchmark). Watchers that asked for prev_kv, or watch a key
// the change does not match, get answers of their own.
TEST(WatchHub, UpToDateWatchersOfOnePrefixShareOneEncodedAnswer) {
  Fixture f;
  std::vector<std::shared_ptr<FakeStream>> plain;
  for (uint64_t id = 1; id < 1000; ++id)
    plain.push_back(f.watch(id, prefix_watch("m/")));  // with `prev`: the limit
  pb::WatchRequest with_prev = prefix_watch("m/");
  with_prev.set_prev_kv(true);
  auto prev = f.watch(2000, with_prev);
  const uint64_t encoded_before = f.counted.metrics.answers_encoded.value();
  f.apply(1, 1, m);
  EXPECT_EQ(f.counted.metrics.answers_encoded.value() - encoded_before, 2u) << "one plain, one with prev_kv";
  for (const auto& s : plain) {
    ASSERT_EQ(s->answers.size(), 2u);
    EXPECT_EQ(s->events(), (std::vector<std::string>{"m/1@1"}));
  }
  EXPECT_TRUE(prev->last().watch().events(0).has_prev_kv());
  EXPECT_FALSE(plain[0]->last().watch().events(0).has_prev_kv());
  EXPECT_EQ(plain[41]->last().request_id(), 42u) << "each answer names its own watch";
}

TEST(WatchHub, AWatcherFromThePastReadsTheHistoryThenTheTailWithNoGapOrRepeat) {
  Fixture f(/*revision=*/5);
  f.in_history(1, 5, m);
  f.apply(6, 8, m);  // published, not committed yet: only in the tail
  auto s = f.watch(1, prefix_watch("m/", 2));
  EXPECT_EQ(s->events(), (std::vector<std::string>{"m/3@3", "m/4@4", "m/5@5", "m/6@6", "m/7@7", "m/8@8"}));
  EXPECT_GT(f.history.reads, 0);
  f.apply(9, 9, m);
  EXPECT_EQ(s->events().back(), "m/9@9");
  EXPECT_EQ(s->events().size(), 7u);
}

TEST(WatchHub, TheHistoryMayBeAheadOfWhatWasPublished) {
  // The state machine committed revisions 2 and 3 before the io thread took their events.
  Fixture f(/*revision=*/1);
  f.in_history(1, 3, m);
  auto s = f.watch(1, prefix_watch("m/", 0));
  EXPECT_EQ(s->events(), (std::vector<std::string>{"m/1@1", "m/2@2", "m/3@3"}));
  f.apply(2, 3, m);  // their events arrive: already sent
  f.apply(4, 4, m);
  EXPECT_EQ(s->events(), (std::vector<std::string>{"m/1@1", "m/2@2", "m/3@3", "m/4@4"}));
}

TEST(WatchHub, AStartBelowTheHistoryIsCompactedWithWhereItStarts) {
  Fixture f(/*revision=*/10);
  f.in_history(4, 10, m);
  f.history.floor = 3;
  f.hub.committed(10);
  auto s = f.watch(1, prefix_watch("m/", 1));
  ASSERT_EQ(s->answers.size(), 2u);
  EXPECT_EQ(s->last().code(), pb::COMPACTED);
  EXPECT_TRUE(s->last().watch().canceled());
  EXPECT_EQ(s->last().watch().compact_revision(), 3u);
  EXPECT_EQ(s->last().watch().revision(), 1u);
  EXPECT_EQ(f.hub.watchers(), 0u);
  EXPECT_EQ(f.counted.metrics.cancelled_compacted.value(), 1u);
  auto from_floor = f.watch(2, prefix_watch("m/", 3));
  EXPECT_EQ(from_floor->events().size(), 7u);
}

TEST(WatchHub, AClientThatDoesNotReadIsCancelledTooSlowAndResumesWithoutAGap) {
  WatchHubOptions options;
  options.queued_bytes_max = 1000;
  Fixture f(0, options);
  auto s = f.watch(1, prefix_watch("m/"));
  f.apply(1, 2, m);
  s->queued = 1001;  // its client stopped reading
  f.apply(3, 4, m);
  EXPECT_EQ(s->last().code(), pb::TOO_SLOW);
  EXPECT_EQ(s->last().watch().revision(), 2u);
  EXPECT_EQ(f.counted.metrics.cancelled_slow.value(), 1u);
  EXPECT_EQ(f.hub.watchers(), 0u);
  // It resumes from the revision its last answer gave.
  auto resumed = f.watch(2, prefix_watch("m/", s->last().watch().revision()));
  EXPECT_EQ(resumed->events(), (std::vector<std::string>{"m/3@3", "m/4@4"}));
}

TEST(WatchHub, CatchingUpWaitsWhileTheStreamIsFullAndGoesOnWhenItDrains) {
  WatchHubOptions options;
  options.queued_bytes_max = 1000;
  options.answer_bytes_max = 1;  // one revision per answer and per history page
  Fixture f(/*revision=*/6, options);
  f.in_history(1, 6, m);
  auto stream = std::make_shared<FakeStream>();
  stream->queued = 600;  // over half: wait
  ASSERT_TRUE(f.hub.add(&f.connection, 1, prefix_watch("m/", 0), stream, kT0).is_ok());
  EXPECT_EQ(stream->events().size(), 0u);
  EXPECT_EQ(f.history.reads, 0);
  stream->queued = 0;
  f.hub.turn(kT0);
  EXPECT_EQ(stream->events().size(), 6u);
  EXPECT_FALSE(stream->finished);
}

TEST(WatchHub, ARevisionLargerThanAnAnswerIsSplitIntoFragments) {
  WatchHubOptions options;
  options.answer_bytes_max = 30;
  Fixture f(0, options);
  auto s = f.watch(1, prefix_watch("m/"));
  f.hub.publish({put("m/a", 1), put("m/b", 1), put("m/c", 1), put("m/d", 2)}, 2, kT0);
  ASSERT_EQ(s->events(), (std::vector<std::string>{"m/a@1", "m/b@1", "m/c@1", "m/d@2"}));
  size_t fragments = 0;
  for (size_t i = 1; i < s->answers.size(); ++i) {
    const auto& w = s->answers[i].watch();
    if (w.fragment()) {
      ++fragments;
      EXPECT_EQ(w.revision(), 0u) << "a fragment does not complete its revision";
    }
  }
  EXPECT_GE(fragments, 1u);
  EXPECT_FALSE(s->last().watch().fragment());
  EXPECT_EQ(s->last().watch().revision(), 2u);
}

TEST(WatchHub, AnUpToDateWatcherHearsProgressWhenAskedAndIdle) {
  Fixture f;
  pb::WatchRequest request = prefix_watch("m/");
  request.set_progress_notify(true);
  auto s = f.watch(1, request);
  f.apply(1, 3, [](uint64_t r) { return "other/" + std::to_string(r); });
  f.hub.turn(kT0 + std::chrono::milliseconds(100));
  EXPECT_EQ(s->answers.size(), 1u) << "not idle long enough";
  f.hub.turn(kT0 + std::chrono::seconds(2));
  ASSERT_EQ(s->answers.size(), 2u);
  EXPECT_EQ(s->last().watch().events_size(), 0);
  EXPECT_EQ(s->last().watch().revision(), 3u) << "nothing it watches changed up to 3";
}

TEST(WatchHub, ACancelledWatchEndsOkAndHearsNothingMore) {
  Fixture f;
  auto s = f.watch(1, prefix_watch("m/"));
  EXPECT_TRUE(f.hub.cancel(&f.connection, 1));
  EXPECT_EQ(s->last().code(), pb::OK);
  EXPECT_TRUE(s->last().watch().canceled());
  EXPECT_FALSE(f.hub.cancel(&f.connection, 1));
  f.apply(1, 1, m);
  EXPECT_EQ(s->events().size(), 0u);
}

TEST(WatchHub, AClosedStreamIsForgotten) {
  Fixture f;
  auto s = f.watch(1, prefix_watch("m/"));
  s->is_open = false;
  f.hub.turn(kT0);
  EXPECT_EQ(f.hub.watchers(), 0u);
}

TEST(WatchHub, ASnapshotThatSkipsUnseenRevisionsEndsTheWatchersBehindIt) {
  Fixture f;
  auto behind = f.watch(1, prefix_watch("m/"));
  auto ahead = f.watch(2, prefix_watch("m/", 50));
  f.hub.snapshot_installed(40);
  EXPECT_EQ(behind->last().code(), pb::UNAVAILABLE);
  EXPECT_EQ(behind->last().watch().revision(), 0u);
  EXPECT_FALSE(ahead->finished);
  f.apply(41, 51, m);
  EXPECT_EQ(ahead->events(), (std::vector<std::string>{"m/51@51"})) << "nothing at or below its start";
}

TEST(WatchHub, LimitsAreNamed) {
  WatchHubOptions options;
  options.watchers_max = 2;
  options.watchers_per_connection_max = 1;
  Fixture f(0, options);
  f.watch(1, prefix_watch("m/"));
  auto stream = std::make_shared<FakeStream>();
  EXPECT_EQ(f.hub.add(&f.connection, 2, prefix_watch("m/"), stream, kT0).code(), Code::kResourceExhausted);
  int other_connection = 0;
  EXPECT_EQ(f.hub.add(&other_connection, 1, prefix_watch("m/"), stream, kT0).code(), Code::kOk);
  int third = 0;
  EXPECT_EQ(f.hub.add(&third, 1, prefix_watch("m/"), stream, kT0).code(), Code::kResourceExhausted);
  EXPECT_EQ(f.hub.add(&other_connection, 1, prefix_watch("m/"), stream, kT0).code(), Code::kInvalidArgument)
      << "a request_id already watching on that connection";
}

TEST(WatchHub, OneKeyARangeAndEveryKey) {
  Fixture f;
  pb::WatchRequest one;
  one.set_key("b");
  pb::WatchRequest range;
  range.set_key("b");
  range.set_range_end("d");
  pb::WatchRequest all;
  all.set_prefix(true);
  auto s1 = f.watch(1, one);
  auto s2 = f.watch(2, range);
  auto s3 = f.watch(3, all);
  f.hub.publish({put("a", 1), put("b", 2), put("b\x01", 3), put("c", 4), put("d", 5)}, 5, kT0);
  EXPECT_EQ(s1->events(), (std::vector<std::string>{"b@2"}));
  EXPECT_EQ(s2->events(), (std::vector<std::string>{"b@2", "b\x01@3", "c@4"}));
  EXPECT_EQ(s3->events().size(), 5u);
}

}  // namespace
}  // namespace castor::kv

#include "kv/server/watch_hub.h"

#include <algorithm>
#include <utility>

#include "raft/base/assert.h"

namespace castor::kv {

struct WatchHub::Watcher {
  uint64_t id = 0;
  const void* connection = nullptr;
  uint64_t request_id = 0;
  KeyRange range;
  bool prev_kv = false;
  bool progress_notify = false;
  // The first revision not yet sent: every matching change below it has been.
  uint64_t next = 0;
  std::shared_ptr<WatchStream> stream;
  Clock::time_point last_sent;
  bool ended = false;
};

// The answers built during one fan-out of tail events, by the events they hold and how: the
// watchers that get the same events share one. Keys are pointers into the tail, so a cache
// lives only while the tail does not change (one publish or turn); history pages are never
// shared (their events die with the page, and a later one could reuse an address).
class WatchHub::SharedAnswers {
 public:
  explicit SharedAnswers(Counter& encoded) : encoded_(encoded) {}
  struct Key {
    std::vector<const pb::Event*> events;
    uint64_t revision = 0;
    bool fragment = false;
    bool prev_kv = false;
    auto operator<=>(const Key&) const = default;
  };
  const WatchAnswer& get(Key key) {
    auto it = built_.find(key);
    if (it == built_.end()) {
      WatchAnswer answer = build(key, encoded_);
      it = built_.emplace(std::move(key), std::move(answer)).first;
    }
    return it->second;
  }
  static WatchAnswer build(const Key& key, Counter& encoded) {
    encoded.inc();
    pb::WatchResponse r;
    for (const pb::Event* e : key.events) {
      pb::Event* added = r.add_events();
      added->set_type(e->type());
      *added->mutable_kv() = e->kv();
      if (key.prev_kv && e->has_prev_kv()) *added->mutable_prev_kv() = e->prev_kv();
    }
    r.set_revision(key.revision);
    r.set_fragment(key.fragment);
    return WatchAnswer(std::move(r));
  }

 private:
  Counter& encoded_;
  std::map<Key, WatchAnswer> built_;
};

// Builds one watcher's answers from events in revision order: the matching ones, whole
// revisions per answer up to answer_bytes_max (one larger revision is split, `fragment`).
class WatchHub::Answers {
 public:
  // `shared`: where answers of tail events are shared, or nullptr (history pages).
  Answers(WatchHub& hub, Watcher& w, Clock::time_point now, SharedAnswers* shared)
      : hub_(hub), w_(w), now_(now), shared_(shared) {}

  // False once the watch has ended. `size`: e.ByteSizeLong().
  bool add(const pb::Event& e, uint64_t size) {
    const uint64_t revision = e.kv().mod_revision();
    if (revision < w_.next || !w_.range.contains(e.kv().key())) return true;
    if (!events_.empty() && bytes_ + size > hub_.opt_.answer_bytes_max) {
      const uint64_t last = events_.back()->kv().mod_revision();
      if (!flush(last == revision ? revision - 1 : last, last == revision)) return false;
    }
    events_.push_back(&e);
    bytes_ += size;
    ++added_;
    return true;
  }

  // Events taken so far (sent, or waiting in the answer being built).
  size_t events_added() const { return added_; }

  // Everything up to `through` has gone by: sends what is left, and the watcher moves past it.
  bool finish(uint64_t through) {
    if (!events_.empty() && !flush(through, false)) return false;
    w_.next = std::max(w_.next, through + 1);
    return true;
  }

 private:
  bool flush(uint64_t revision, bool fragment) {
    SharedAnswers::Key key{std::exchange(events_, {}), revision, fragment, w_.prev_kv};
    bytes_ = 0;
    if (shared_ != nullptr) return hub_.send(w_, shared_->get(std::move(key)), now_);
    return hub_.send(w_, SharedAnswers::build(key, hub_.metrics_.answers_encoded), now_);
  }

  WatchHub& hub_;
  Watcher& w_;
  Clock::time_point now_;
  SharedAnswers* shared_;
  std::vector<const pb::Event*> events_;
  uint64_t bytes_ = 0;
  size_t added_ = 0;
};

namespace {

// The keys a WatchRequest names (kv.proto): one key, a prefix, or [key, range_end).
KeyRange range_of(const pb::WatchRequest& request) {
  if (request.prefix()) return KeyRange::with_prefix(request.key());
  if (!request.range_end().empty()) return {request.key(), request.range_end()};
  return {request.key(), request.key() + std::string(1, '\0')};
}

}  // namespace

WatchHub::WatchHub(WatchHubOptions options, HistoryReader history, uint64_t revision, WatchMetrics metrics)
    : opt_(options),
      history_(std::move(history)),
      published_(revision),
      committed_(revision),
      metrics_(metrics) {}

WatchHub::~WatchHub() = default;

Status WatchHub::add(const void* connection, uint64_t request_id, const pb::WatchRequest& request,
                     std::shared_ptr<WatchStream> stream, Clock::time_point now) {
  if (by_name_.count({connection, request_id}) > 0) {
    return Status(Code::kInvalidArgument,
                  "request_id " + std::to_string(request_id) + " already names a watch on this connection");
  }
  if (watchers_.size() >= opt_.watchers_max) {
    return Status(Code::kResourceExhausted,
                  "this node serves " + std::to_string(watchers_.size()) + " watches, its limit");
  }
  const auto on_connection = per_connection_.find(connection);
  if (on_connection != per_connection_.end() && on_connection->second >= opt_.watchers_per_connection_max) {
    return Status(Code::kResourceExhausted,
                  "this connection has " + std::to_string(on_connection->second) + " watches, its limit");
  }
  auto w = std::make_unique<Watcher>();
  w->id = next_id_++;
  w->connection = connection;
  w->request_id = request_id;
  w->range = range_of(request);
  w->prev_kv = request.prev_kv();
  w->progress_notify = request.progress_notify();
  const uint64_t start = request.has_start_revision() ? request.start_revision() : published_;
  w->next = start + 1;
  w->stream = std::move(stream);
  Watcher& added = *w;
  by_name_[{connection, request_id}] = w->id;
  ++per_connection_[connection];
  watchers_[w->id] = std::move(w);
  metrics_.watchers.set(static_cast<double>(watchers_.size()));

  pb::WatchResponse created;
  created.set_created(true);
  created.set_revision(start);
  SharedAnswers shared(metrics_.answers_encoded);
  if (send(added, WatchAnswer(std::move(created)), now)) catch_up(added, now, shared);
  forget_ended();
  return Status::ok();
}

bool WatchHub::cancel(const void* connection, uint64_t request_id) {
  auto it = by_name_.find({connection, request_id});
  if (it == by_name_.end()) return false;
  end(*watchers_.at(it->second), Code::kOk, "canceled");
  forget_ended();
  return true;
}

void WatchHub::publish(std::vector<pb::Event> events, uint64_t revision, Clock::time_point now) {
  for (pb::Event& e : events) {
    const uint64_t r = e.kv().mod_revision();
    CASTOR_ASSERT(r <= revision, "an event above its batch's revision");
    if (r <= published_) continue;  // already known (the state machine replayed it)
    if (tail_.empty() || tail_.back().revision != r) {
      CASTOR_ASSERT(tail_.empty() || tail_.back().revision < r, "events published out of revision order");
      tail_.push_back(Revision{r, {}, {}, now});
    }
    tail_.back().sizes.push_back(e.ByteSizeLong());
    tail_.back().events.push_back(std::move(e));
  }
  published_ = std::max(published_, revision);
  SharedAnswers shared(metrics_.answers_encoded);
  for (auto& [id, w] : watchers_) {
    if (!w->ended) catch_up(*w, now, shared);
  }
  trim_tail();
  forget_ended();
}

void WatchHub::committed(uint64_t revision) {
  committed_ = std::max(committed_, revision);
  trim_tail();
}

void WatchHub::snapshot_installed(uint64_t revision) {
  for (auto& [id, w] : watchers_) {
    // The snapshot skips the revisions between; another node's history still has them.
    if (!w->ended && w->next <= revision) {
      end(*w, Code::kUnavailable,
          "this node installed a snapshot at revision " + std::to_string(revision) +
              " and has no history before it; resume on another node");
    }
  }
  tail_.clear();
  published_ = committed_ = revision;
  forget_ended();
}

void WatchHub::turn(Clock::time_point now) {
  SharedAnswers shared(metrics_.answers_encoded);
  for (auto& [id, w] : watchers_) {
    if (w->ended) continue;
    if (!w->stream->open()) {
      w->ended = true;
      continue;
    }
    catch_up(*w, now, shared);
    const bool idle = now - w->last_sent >= opt_.progress_interval;
    if (!w->ended && w->progress_notify && w->next > published_ && idle) {
      pb::WatchResponse progress;
      progress.set_revision(w->next - 1);
      send(*w, WatchAnswer(std::move(progress)), now);
    }
  }
  forget_ended();
}

void WatchHub::close_all() {
  for (auto& [id, w] : watchers_) {
    if (!w->ended) end(*w, Code::kUnavailable, "the node is shutting down; resume on another node");
  }
  forget_ended();
}

void WatchHub::catch_up(Watcher& w, Clock::time_point now, SharedAnswers& shared) {
  while (!w.ended && w.next <= published_) {
    // Recent changes go out at once (a client that cannot take them is TOO_SLOW); the past
    // is read only as fast as the client takes it.
    if (tail_covers(w.next)) return send_from_tail(w, now, shared);
    if (w.stream->queued_bytes() >= opt_.queued_bytes_max / 2) return;
    if (!send_from_history(w, now)) return;
  }
}

bool WatchHub::tail_covers(uint64_t next) const {
  // The tail holds every published revision above committed_.
  return next > committed_;
}

void WatchHub::send_from_tail(Watcher& w, Clock::time_point now, SharedAnswers& shared) {
  auto first = std::lower_bound(tail_.begin(), tail_.end(), w.next,
                                [](const Revision& r, uint64_t next) { return r.revision < next; });
  Answers answers(*this, w, now, &shared);
  const bool live = w.next > committed_;  // up to date, not catching up on the past
  for (auto it = first; it != tail_.end(); ++it) {
    const size_t sent_before = answers.events_added();
    for (size_t i = 0; i < it->events.size(); ++i) {
      if (!answers.add(it->events[i], it->sizes[i])) return;
    }
    if (live && answers.events_added() > sent_before) {
      metrics_.delay.observe(std::chrono::duration<double>(now - it->published_at).count());
    }
  }
  answers.finish(published_);
}

bool WatchHub::send_from_history(Watcher& w, Clock::time_point now) {
  Result<HistoryPage> page = history_(w.next - 1, opt_.answer_bytes_max);
  if (!page.is_ok()) {
    end(w, Code::kUnavailable, "cannot read the history: " + page.status().message());
    return false;
  }
  if (page->compacted) {
    metrics_.cancelled_compacted.inc();
    end(w, Code::kCompacted,
        "revision " + std::to_string(w.next - 1) + " is older than the history this node keeps (from " +
            std::to_string(page->floor) + "); another node may keep more",
        page->floor);
    return false;
  }
  const uint64_t before = w.next;
  Answers answers(*this, w, now, nullptr);
  for (const pb::Event& e : page->events) {
    if (!answers.add(e, e.ByteSizeLong())) return false;
  }
  return answers.finish(page->through) && w.next > before;
}

bool WatchHub::send(Watcher& w, const WatchAnswer& answer, Clock::time_point now) {
  if (!w.stream->open()) {
    w.ended = true;
    return false;
  }
  if (w.stream->queued_bytes() > opt_.queued_bytes_max) {
    metrics_.cancelled_slow.inc();
    end(w, Code::kTooSlow,
        std::to_string(w.stream->queued_bytes()) + " bytes of answers not read; resume from revision " +
            std::to_string(w.next - 1));
    return false;
  }
  metrics_.events_sent.inc(answer.response.events_size());
  w.stream->send(w.request_id, answer);
  w.last_sent = now;
  return true;
}

void WatchHub::end(Watcher& w, Code code, const std::string& why, uint64_t compact_revision) {
  CASTOR_ASSERT(!w.ended, "a watch ended twice");
  w.ended = true;
  if (!w.stream->open()) return;
  pb::ClientResponse r;
  r.set_request_id(w.request_id);
  r.set_code(static_cast<pb::ErrorCode>(code));
  r.set_message(why);
  pb::WatchResponse* last = r.mutable_watch();
  last->set_canceled(true);
  last->set_revision(w.next - 1);
  last->set_compact_revision(compact_revision);
  w.stream->finish(std::move(r));
}

void WatchHub::forget_ended() {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    const Watcher& w = *it->second;
    if (!w.ended) {
      ++it;
      continue;
    }
    by_name_.erase({w.connection, w.request_id});
    if (--per_connection_[w.connection] == 0) per_connection_.erase(w.connection);
    it = watchers_.erase(it);
  }
  metrics_.watchers.set(static_cast<double>(watchers_.size()));
}

void WatchHub::trim_tail() {
  // What the state machine committed, its history serves.
  while (!tail_.empty() && tail_.front().revision <= committed_) tail_.pop_front();
}

}  // namespace castor::kv

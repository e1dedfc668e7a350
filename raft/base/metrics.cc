#include "raft/base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "raft/base/assert.h"

namespace castor {

namespace {

// Numbers as Prometheus' parser (Go's ParseFloat) reads them, and as people read them: whole
// numbers below 2^53 (indexes, terms, counts) in plain digits, others as the shortest %g-style
// text that round-trips ("0.0005", "1e+21"), and NaN, +Inf, -Inf spelled out. The same
// spelling is used for "le" bounds, so that a dashboard's le="0.0005" matches.
void append_number(std::string& out, double v) {
  char buf[64];
  std::to_chars_result r;
  if (std::isnan(v)) {
    out += "NaN";
    return;
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  } else if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  }
  out.append(buf, r.ptr);
}

// `name{k="v",...,extra_name="extra_value"} ` without the value; no braces without labels.
void append_series_name(std::string& out, const std::string& name, const Labels& labels,
                        std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  if (labels.empty() && extra_name.empty()) {
    out += ' ';
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += "} ";
}

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

}  // namespace

// ---- Histogram ----

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    CASTOR_ASSERT(std::isfinite(bounds_[i]), "histogram bounds must be finite (+Inf is implied)");
    CASTOR_ASSERT(i == 0 || bounds_[i - 1] < bounds_[i], "histogram bounds must be strictly increasing");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // The first bound >= v is the bucket whose "le" v satisfies; past the end is +Inf.
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::optional<double> Histogram::quantile(double q) const {
  if (!(q >= 0 && q <= 1) || bounds_.empty()) return std::nullopt;
  const Snapshot s = snapshot();
  if (s.count == 0) return std::nullopt;
  const double rank = q * static_cast<double>(s.count);
  size_t b = 0;
  while (b < bounds_.size() && static_cast<double>(s.cumulative[b]) < rank) ++b;
  if (b == bounds_.size()) return bounds_.back();  // in +Inf: the best we can say
  if (b == 0 && bounds_[0] <= 0) return bounds_[0];
  const double start = b == 0 ? 0 : bounds_[b - 1];
  const double below = b == 0 ? 0 : static_cast<double>(s.cumulative[b - 1]);
  const double in_bucket = static_cast<double>(s.cumulative[b]) - below;
  if (in_bucket == 0) return start;
  return start + (bounds_[b] - start) * ((rank - below) / in_bucket);
}

std::vector<double> Histogram::exponential_buckets(double start, double factor, size_t count) {
  CASTOR_ASSERT(start > 0, "exponential buckets need start > 0");
  CASTOR_ASSERT(factor > 1, "exponential buckets need factor > 1");
  std::vector<double> b;
  double v = start;
  for (size_t i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

// ---- names and escaping ----

std::string metric_name_error(std::string_view name) {
  if (name.empty()) return "empty metric name";
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true))
      return "invalid character in metric name '" + std::string(name) + "'";
  }
  return "";
}

std::string label_name_error(std::string_view name) {
  if (name.empty()) return "empty label name";
  if (name.substr(0, 2) == "__") return "label name '" + std::string(name) + "' is reserved (starts with __)";
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false))
      return "invalid character in label name '" + std::string(name) + "'";
  }
  return "";
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// ---- Metrics ----

struct Metrics::Series {
  Labels labels;
  // Exactly one of these is set, matching the family's type (the callback for either
  // counters or gauges).
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> callback;
};

struct Metrics::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;                   // histograms only
  std::vector<std::unique_ptr<Series>> series;  // registration order
  std::map<Labels, Series*> by_labels;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::Family& Metrics::family(const std::string& name, const std::string& help, Type type,
                                 const Labels& labels) {
  const std::string name_error = metric_name_error(name);
  CASTOR_ASSERT(name_error.empty(), name_error.c_str());
  std::vector<std::string> label_names;
  for (const auto& [k, v] : labels) {
    const std::string label_error = label_name_error(k);
    CASTOR_ASSERT(label_error.empty(), label_error.c_str());
    CASTOR_ASSERT(std::find(label_names.begin(), label_names.end(), k) == label_names.end(),
                  "a label name appears twice in one series");
    CASTOR_ASSERT(!(type == Type::kHistogram && k == "le"), "'le' is reserved for histogram buckets");
    label_names.push_back(k);
  }
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    Family& f = *it->second;
    CASTOR_ASSERT(f.type == type, ("metric " + name + " registered again with another type").c_str());
    CASTOR_ASSERT(f.help == help, ("metric " + name + " registered again with another help text").c_str());
    CASTOR_ASSERT(f.label_names == label_names,
                  ("metric " + name + " registered again with other label names").c_str());
    return f;
  }
  // Each histogram series also renders as name_bucket, name_sum and name_count, and those must
  // not collide with another family; the caller's naming (unit suffixes) keeps them apart.
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = type;
  f->label_names = std::move(label_names);
  Family& ref = *f;
  by_name_.emplace(name, f.get());
  families_.push_back(std::move(f));
  return ref;
}

Metrics::Series& Metrics::series(Family& f, const Labels& labels) {
  auto it = f.by_labels.find(labels);
  if (it != f.by_labels.end()) return *it->second;
  auto s = std::make_unique<Series>();
  s->labels = labels;
  Series& ref = *s;
  f.by_labels.emplace(labels, s.get());
  f.series.push_back(std::move(s));
  return ref;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, Type::kCounter, labels), labels);
  CASTOR_ASSERT(!s.callback, ("counter " + name + " is already registered as a callback").c_str());
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, Type::kGauge, labels), labels);
  CASTOR_ASSERT(!s.callback, ("gauge " + name + " is already registered as a callback").c_str());
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                              const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::kHistogram, labels);
  if (f.series.empty()) f.bounds = bounds;
  CASTOR_ASSERT(f.bounds == bounds, ("histogram " + name + " registered again with other buckets").c_str());
  Series& s = series(f, labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void Metrics::gauge_callback(const std::string& name, const std::string& help, const Labels& labels,
                             std::function<double()> value) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, Type::kGauge, labels), labels);
  CASTOR_ASSERT(!s.gauge, ("gauge " + name + " is already registered as a value").c_str());
  s.callback = std::move(value);
}

void Metrics::counter_callback(const std::string& name, const std::string& help, const Labels& labels,
                               std::function<double()> value) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, Type::kCounter, labels), labels);
  CASTOR_ASSERT(!s.counter, ("counter " + name + " is already registered as a value").c_str());
  s.callback = std::move(value);
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f->name;
    out += ' ';
    out += escape_help(f->help);
    out += "\n# TYPE ";
    out += f->name;
    out += f->type == Type::kCounter ? " counter\n" : f->type == Type::kGauge ? " gauge\n" : " histogram\n";
    for (const auto& s : f->series) {
      if (s->histogram) {
        const Histogram::Snapshot snap = s->histogram->snapshot();
        const std::string bucket = f->name + "_bucket";
        for (size_t i = 0; i <= snap.bounds.size(); ++i) {
          std::string le;
          if (i < snap.bounds.size()) {
            append_number(le, snap.bounds[i]);
          } else {
            le = "+Inf";
          }
          append_series_name(out, bucket, s->labels, "le", le);
          out += std::to_string(snap.cumulative[i]);
          out += '\n';
        }
        append_series_name(out, f->name + "_sum", s->labels);
        append_number(out, snap.sum);
        out += '\n';
        append_series_name(out, f->name + "_count", s->labels);
        out += std::to_string(snap.count);
        out += '\n';
        continue;
      }
      append_series_name(out, f->name, s->labels);
      if (s->counter) {
        out += std::to_string(s->counter->value());
      } else if (s->gauge) {
        append_number(out, s->gauge->value());
      } else {
        append_number(out, s->callback());
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace castor

#include "tools/castord_logging.h"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "net/rate_limited_log.h"
#include "raft/base/json.h"

namespace castor::tools {

namespace {

// %k: the node's current term.
class TermFlag : public spdlog::custom_flag_formatter {
 public:
  explicit TermFlag(std::function<uint64_t()> term) : term_(std::move(term)) {}
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string t = std::to_string(term_());
    dest.append(t.data(), t.data() + t.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<TermFlag>(term_); }

 private:
  std::function<uint64_t()> term_;
};

// %j: the message as a quoted, escaped JSON string.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string out =
        castor::dump_json(castor::Json(std::string(msg.payload.data(), msg.payload.size())));
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// libprotobuf logs an ERROR line for every string field with invalid UTF-8 it parses, and
// anyone who can connect can send such fields (a client Hello's cluster id): its messages go
// through one rate-limited log, from whichever thread parses, instead of straight to stderr.
void log_protobuf(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) return spdlog::critical("protobuf: {}", message);
  static std::mutex mu;
  static net::RateLimitedLog limited;
  std::lock_guard lock(mu);
  limited.warn("protobuf at " + std::string(file) + ":" + std::to_string(line), message);
}

}  // namespace

void setup_logging(const std::string& node, const std::string& format, const std::string& level,
                   std::function<uint64_t()> term) {
  google::protobuf::SetLogHandler(log_protobuf);
  spdlog::set_level(spdlog::level::from_str(level));
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<TermFlag>('k', std::move(term));
  if (format == "json") {
    const std::string quoted = castor::dump_json(castor::Json(node));
    formatter->add_flag<JsonMessageFlag>('j');
    formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e","level":"%l","node":)" + quoted +
                           R"(,"term":%k,"msg":%j})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %l [" + node + " term %k] %v");
  }
  spdlog::set_formatter(std::move(formatter));
}

}  // namespace castor::tools

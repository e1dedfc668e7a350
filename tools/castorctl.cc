// castorctl: Castor's command-line client. Each invocation makes one call (or, for `status`,
// one per endpoint; for `watch`, a kv::Watch followed until a signal) through
// kv::BlockingClient and prints the result; castorctl --help
// (tools/castorctl_flags.cc) lists the commands, output formats and exit codes.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "kv/client/blocking_client.h"
#include "kv/client/kv_json.h"
#include "raft/base/json.h"
#include "tools/castorctl_flags.h"
#include "tools/txn_text.h"

namespace castor::tools {
namespace {

namespace pb = kv::pb;

constexpr int kExitOk = 0;
constexpr int kExitCompareFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnknown = 3;
constexpr int kExitError = 4;

// ---------------------------------------------------------------------------------------------
// Output

void out(std::string_view bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); }
void line(std::string_view bytes) {
  out(bytes);
  out("\n");
}

// For tables: printable ASCII and valid UTF-8 as they are, other bytes as C escapes.
std::string printable(std::string_view bytes) {
  if (castor::is_valid_utf8(bytes)) {
    std::string s;
    for (char c : bytes) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
        s += buf;
      } else {
        s += c;
      }
    }
    return s;
  }
  std::string s;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      s += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      s += buf;
    }
  }
  return s;
}

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // count code points
  return n;
}

void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = display_width(head[i]);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], display_width(r[i]));
  }
  auto rule = [&] {
    std::string s = "+";
    for (size_t x : w) s += std::string(x + 2, '-') + "+";
    line(s);
  };
  auto row = [&](const std::vector<std::string>& r) {
    std::string s = "|";
    for (size_t i = 0; i < r.size(); ++i)
      s += " " + r[i] + std::string(w[i] - display_width(r[i]), ' ') + " |";
    line(s);
  };
  rule();
  row(head);
  rule();
  for (const auto& r : rows) row(r);
  rule();
}

// One JSON object on a line of its own (-w json), starting with the response header.
void json_line(const Json& j) { line(castor::dump_json(j)); }
Json with_header(const pb::ResponseHeader& h) {
  Json j = Json::object();
  j["header"] = kv::header_json(h);
  return j;
}

void simple_kv(const pb::KeyValue& kv, bool keys_only) {
  line(kv.key());
  if (!keys_only) line(kv.value());
}

std::vector<std::string> kv_row(const pb::KeyValue& kv) {
  return {printable(kv.key()), printable(kv.value()), std::to_string(kv.create_revision()),
          std::to_string(kv.mod_revision()), std::to_string(kv.version())};
}

void table_kvs(const std::vector<const pb::KeyValue*>& kvs) {
  std::vector<std::vector<std::string>> rows;
  for (const pb::KeyValue* kv : kvs) rows.push_back(kv_row(*kv));
  print_table({"KEY", "VALUE", "CREATE_REVISION", "MOD_REVISION", "VERSION"}, rows);
}

int usage_error(const std::string& why) {
  std::fprintf(stderr, "castorctl: %s\n(see castorctl --help)\n", why.c_str());
  return kExitUsage;
}

// Prints a call that did not succeed and returns its exit code.
int report_failure(const CtlFlags& f, const Status& status, kv::OutcomeKind kind) {
  const bool unknown = kind == kv::OutcomeKind::kUnknown;
  if (f.format == Format::kJson) {
    Json j = Json::object();
    j["outcome"] = kv::outcome_name(kind);
    j["error"] = code_name(status.code());
    j["message"] = status.message();
    json_line(j);
  } else if (unknown) {
    std::fprintf(stderr, "castorctl: UNKNOWN: the request may or may not have applied: %s\n",
                 status.message().c_str());
  } else {
    std::fprintf(stderr, "castorctl: %s\n", status.to_string().c_str());
  }
  return unknown ? kExitUnknown : kExitError;
}

template <typename T>
int report(const CtlFlags& f, const kv::Outcome<T>& o,
           const std::function<int(const T&, const pb::ResponseHeader&)>& ok) {
  if (o.is_ok()) return ok(o.value(), o.header());
  return report_failure(f, o.status(), o.kind());
}

// ---------------------------------------------------------------------------------------------
// Commands

int cmd_get(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 2) return usage_error("want: get KEY");
  auto o = c.run([&](kv::Client& k) { return k.get(f.args[1], kv::ReadOptions{f.serializable}); });
  return report<pb::GetResponse>(f, o, [&](const pb::GetResponse& r, const pb::ResponseHeader& h) {
    if (f.format == Format::kJson) {
      Json j = with_header(h);
      j["kvs"] = Json::array();
      if (r.has_kv()) j["kvs"].push_back(kv::kv_json(r.kv()));
      j["count"] = r.has_kv() ? 1 : 0;
      json_line(j);
    } else if (f.format == Format::kTable) {
      std::vector<const pb::KeyValue*> kvs;
      if (r.has_kv()) kvs.push_back(&r.kv());
      table_kvs(kvs);
    } else if (r.has_kv()) {
      simple_kv(r.kv(), false);
    }
    return kExitOk;
  });
}

int cmd_range(const CtlFlags& f, kv::BlockingClient& c) {
  const bool bounded = f.from.has_value();
  if (f.to && !bounded) return usage_error("--to needs --from");
  if (f.args.size() != (bounded ? 1u : 2u)) {
    return usage_error("want: range PREFIX, or range --from START [--to END]");
  }
  const kv::RangeOptions ro{f.limit, f.keys_only, f.count_only, f.serializable};
  auto o = c.run([&](kv::Client& k) {
    return bounded ? k.range(*f.from, f.to.value_or(""), ro) : k.range_prefix(f.args[1], ro);
  });
  return report<pb::RangeResponse>(f, o, [&](const pb::RangeResponse& r, const pb::ResponseHeader& h) {
    if (f.format == Format::kJson) {
      Json j = with_header(h);
      j["kvs"] = kv::kvs_json(r.kvs());
      j["more"] = r.more();
      j["count"] = r.count();
      json_line(j);
    } else if (f.count_only) {
      line(std::to_string(r.count()));
    } else if (f.format == Format::kTable) {
      std::vector<const pb::KeyValue*> kvs;
      for (const auto& kv : r.kvs()) kvs.push_back(&kv);
      table_kvs(kvs);
    } else {
      for (const auto& kv : r.kvs()) simple_kv(kv, f.keys_only);
    }
    if (r.more() && f.format != Format::kJson) {
      std::fprintf(stderr, "castorctl: %d of %llu keys shown\n", r.kvs_size(),
                   static_cast<unsigned long long>(r.count()));
    }
    return kExitOk;
  });
}

// put and del print their previous state with --prev-kv.
void print_prev(const CtlFlags& f, Json& j, bool has_prev, const pb::KeyValue& prev) {
  if (!f.prev_kv || !has_prev) return;
  if (f.format == Format::kJson) {
    j["prev_kv"] = kv::kv_json(prev);
  } else {
    simple_kv(prev, false);
  }
}

int cmd_put(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 3) return usage_error("want: put KEY VALUE");
  auto o = c.run([&](kv::Client& k) { return k.put(f.args[1], f.args[2], f.prev_kv); });
  return report<pb::PutResponse>(f, o, [&](const pb::PutResponse& r, const pb::ResponseHeader& h) {
    Json j = with_header(h);
    if (f.format == Format::kJson) {
      print_prev(f, j, r.has_prev_kv(), r.prev_kv());
      json_line(j);
    } else {
      line("OK");
      print_prev(f, j, r.has_prev_kv(), r.prev_kv());
    }
    return kExitOk;
  });
}

int cmd_del(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 2) return usage_error("want: del KEY");
  auto o = c.run([&](kv::Client& k) { return k.del(f.args[1], f.prev_kv); });
  return report<pb::DeleteResponse>(f, o, [&](const pb::DeleteResponse& r, const pb::ResponseHeader& h) {
    Json j = with_header(h);
    if (f.format == Format::kJson) {
      j["deleted"] = r.deleted();
      print_prev(f, j, r.has_prev_kv(), r.prev_kv());
      json_line(j);
    } else {
      line(std::to_string(r.deleted()));
      print_prev(f, j, r.has_prev_kv(), r.prev_kv());
    }
    return kExitOk;
  });
}

// One response of a Txn, as a member of the "responses" array.
Json op_response_json(const pb::ResponseOp& op) {
  Json j = Json::object();
  switch (op.response_case()) {
    case pb::ResponseOp::kGet: {
      Json kvs = Json::array();
      if (op.get().has_kv()) kvs.push_back(kv::kv_json(op.get().kv()));
      j["get"] = {{"kvs", kvs}};
      break;
    }
    case pb::ResponseOp::kRange:
      j["range"] = {{"kvs", kv::kvs_json(op.range().kvs())},
                    {"more", op.range().more()},
                    {"count", op.range().count()}};
      break;
    case pb::ResponseOp::kPut:
      j["put"] = Json::object();
      break;
    case pb::ResponseOp::kDeleteKey:
      j["delete_key"] = {{"deleted", op.delete_key().deleted()}};
      break;
    case pb::ResponseOp::kDeleteRange:
      j["delete_range"] = {{"deleted", op.delete_range().deleted()}};
      break;
    case pb::ResponseOp::RESPONSE_NOT_SET:
      break;
  }
  return j;
}

// One response of a Txn as simple lines.
void print_op_response(const pb::ResponseOp& op) {
  switch (op.response_case()) {
    case pb::ResponseOp::kGet:
      if (op.get().has_kv()) simple_kv(op.get().kv(), false);
      break;
    case pb::ResponseOp::kRange:
      for (const auto& kv : op.range().kvs()) simple_kv(kv, false);
      break;
    case pb::ResponseOp::kPut:
      line("OK");
      break;
    case pb::ResponseOp::kDeleteKey:
      line(std::to_string(op.delete_key().deleted()));
      break;
    case pb::ResponseOp::kDeleteRange:
      line(std::to_string(op.delete_range().deleted()));
      break;
    case pb::ResponseOp::RESPONSE_NOT_SET:
      break;
  }
}

void print_txn(const CtlFlags& f, const pb::TxnResponse& r, const pb::ResponseHeader& h) {
  if (f.format == Format::kJson) {
    Json j = with_header(h);
    j["succeeded"] = r.succeeded();
    j["responses"] = Json::array();
    for (const auto& op : r.responses()) j["responses"].push_back(op_response_json(op));
    return json_line(j);
  }
  line(r.succeeded() ? "SUCCESS" : "FAILURE");
  for (const auto& op : r.responses()) print_op_response(op);
}

int cmd_cas(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 3 || f.expect.size() != 1) {
    return usage_error(
        "want: cas KEY NEW and exactly one of --expect-value V, --expect-version N, "
        "--expect-mod-revision R, --expect-absent");
  }
  auto o = c.run([&](kv::Client& k) { return k.cas(f.args[1], f.args[2], f.expect[0]); });
  if (o.is_failed() && o.status().code() == Code::kFailedPrecondition && o.has_value()) {
    // The failure branch read the key: show what defeated the compare.
    const pb::TxnResponse& r = o.value();
    const bool present = r.responses_size() == 1 && r.responses(0).get().has_kv();
    if (f.format == Format::kJson) {
      Json j = with_header(o.header());
      j["succeeded"] = false;
      if (present) j["kv"] = kv::kv_json(r.responses(0).get().kv());
      json_line(j);
    } else {
      line("COMPARE FAILED");
      if (present) {
        const pb::KeyValue& kv = r.responses(0).get().kv();
        if (f.format == Format::kTable) {
          table_kvs({&kv});
        } else {
          simple_kv(kv, false);
        }
      } else {
        line("(the key is absent)");
      }
    }
    return kExitCompareFailed;
  }
  return report<pb::TxnResponse>(f, o, [&](const pb::TxnResponse&, const pb::ResponseHeader& h) {
    if (f.format == Format::kJson) {
      Json j = with_header(h);
      j["succeeded"] = true;
      json_line(j);
    } else {
      line("OK");
    }
    return kExitOk;
  });
}

int cmd_txn(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 1) return usage_error("txn takes no arguments: it reads stdin");
  const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto txn = parse_txn_text(text);
  if (!txn.is_ok()) return usage_error("txn: " + txn.status().message());
  auto o = c.run([&](kv::Client& k) { return k.txn(*txn); });
  return report<pb::TxnResponse>(f, o, [&](const pb::TxnResponse& r, const pb::ResponseHeader& h) {
    print_txn(f, r, h);
    return r.succeeded() ? kExitOk : kExitCompareFailed;
  });
}

Json status_json(const std::string& address, const pb::StatusResponse& s, const pb::ResponseHeader& h) {
  Json j = Json::object();
  j["endpoint"] = address;
  j["header"] = kv::header_json(h);
  j["name"] = s.name();
  j["id"] = s.id();
  j["role"] = s.role();
  j["term"] = s.term();
  j["leader"] = s.leader();
  j["leader_name"] = s.leader_name();
  j["commit"] = s.commit();
  j["applied"] = s.applied();
  j["last_index"] = s.last_index();
  j["snapshot_index"] = s.snapshot_index();
  j["client_address"] = s.client_address();
  j["peer_address"] = s.peer_address();
  j["http_address"] = s.http_address();
  j["healthy"] = s.healthy();
  if (!s.healthy()) j["reason"] = s.unhealthy_reason();
  return j;
}

Json unreachable_json(const std::string& address, const kv::Outcome<pb::StatusResponse>& o) {
  Json j = Json::object();
  j["endpoint"] = address;
  j["outcome"] = kv::outcome_name(o.kind());
  j["error"] = code_name(o.status().code());
  j["message"] = o.status().message();
  return j;
}

// `status` and `check` print the same view; check also fails when a node is unhealthy.
int status_or_check(const CtlFlags& f, kv::BlockingClient& c, bool check) {
  if (f.args.size() != 1) return usage_error(f.args[0] + " takes no arguments");
  const std::vector<kv::Outcome<pb::StatusResponse>> all = c.status_all();
  int code = kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string address = f.endpoints[i].to_string();
    const auto& o = all[i];
    if (!o.is_ok() || (check && !o.value().healthy())) code = kExitError;
    if (f.format == Format::kJson) {
      json_line(o.is_ok() ? status_json(address, o.value(), o.header()) : unreachable_json(address, o));
      continue;
    }
    if (!o.is_ok()) {
      if (f.format == Format::kTable) {
        rows.push_back({"?", address, "?", "unreachable", "", "", "", "", "unreachable"});
      } else {
        line(address + ": " + o.status().to_string());
      }
      continue;
    }
    const pb::StatusResponse& s = o.value();
    const std::string leader =
        s.leader_name().empty() ? (s.leader() ? std::to_string(s.leader()) : "none") : s.leader_name();
    const std::string health = s.healthy() ? "healthy" : "UNHEALTHY: " + s.unhealthy_reason();
    if (f.format == Format::kTable) {
      rows.push_back({s.name(), address, std::to_string(s.id()), s.role(), std::to_string(s.term()),
                      std::to_string(s.commit()), std::to_string(s.applied()), leader, health});
    } else {
      line(address + ", " + s.name() + ", id " + std::to_string(s.id()) + ", " + s.role() + ", term " +
           std::to_string(s.term()) + ", commit " + std::to_string(s.commit()) + ", applied " +
           std::to_string(s.applied()) + ", leader " + leader + ", " + health);
    }
  }
  if (f.format == Format::kTable)
    print_table({"NAME", "ADDRESS", "ID", "ROLE", "TERM", "COMMIT", "APPLIED", "LEADER", "HEALTH"}, rows);
  return code;
}

int cmd_status(const CtlFlags& f, kv::BlockingClient& c) { return status_or_check(f, c, false); }
int cmd_check(const CtlFlags& f, kv::BlockingClient& c) { return status_or_check(f, c, true); }

int cmd_leader(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 3 || f.args[1] != "transfer") {
    return usage_error("want: leader transfer NAME");
  }
  const std::string name = f.args[2];
  auto o = c.run([&](kv::Client& k) { return k.transfer_leader(name); });
  return report<pb::TransferLeaderResponse>(
      f, o, [&](const pb::TransferLeaderResponse&, const pb::ResponseHeader& h) {
        if (f.format == Format::kJson) {
          Json j = with_header(h);
          j["leader_name"] = name;
          json_line(j);
        } else {
          line("OK: " + name + " leads");
        }
        return kExitOk;
      });
}

// One event: simple prints its type, then (with --prev-kv) the state before, then the key and
// its value, a line each, as etcdctl watch does; json one object per event.
void print_event(const CtlFlags& f, const pb::Event& e) {
  if (f.format == Format::kJson) {
    // The HTTP watch's spelling of an event (docs/HTTP.md), with the revision of the change.
    Json j = kv::event_json(e);
    j["revision"] = e.kv().mod_revision();  // a delete's too (kv.proto, Event)
    return json_line(j);
  }
  line(e.type() == pb::Event::DELETE ? "DELETE" : "PUT");
  if (f.prev_kv && e.has_prev_kv()) simple_kv(e.prev_kv(), false);
  simple_kv(e.kv(), false);
}

// Prints every event of `w` until a signal cancels it (OK) or it fails.
boost::asio::awaitable<Status> follow(const CtlFlags& f, std::unique_ptr<kv::Watch> w) {
  boost::asio::signal_set signals(co_await boost::asio::this_coro::executor, SIGINT, SIGTERM);
  kv::Watch* watch = w.get();
  signals.async_wait([watch](boost::system::error_code ec, int) {
    if (!ec) watch->cancel();
  });
  for (;;) {
    Result<kv::WatchEvents> got = co_await w->next();
    if (!got.is_ok()) co_return got.status();
    if (got->ended) co_return Status::ok();
    for (const pb::Event& e : got->events) print_event(f, e);
    // A reader at the other end of a pipe sees each revision as it comes.
    std::fflush(stdout);
  }
}

int cmd_watch(const CtlFlags& f, kv::BlockingClient& c) {
  if (f.args.size() != 2) return usage_error("want: watch KEY [--prefix] [--rev N] [--prev-kv]");
  if (f.format == Format::kTable) return usage_error("watch prints simple or json, not table");
  kv::WatchOptions o;
  o.key = f.args[1];
  o.prefix = f.prefix;
  o.prev_kv = f.prev_kv;
  if (f.rev) o.start_revision = *f.rev - 1;  // the wire's start is exclusive, --rev inclusive
  const Status end = c.run([&](kv::Client& k) { return follow(f, k.watch(o)); });
  if (end.is_ok()) return kExitOk;
  std::fprintf(stderr, "castorctl: watch: %s\n", end.to_string().c_str());
  return kExitError;
}

int run(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    std::fputs(castorctl_usage().c_str(), stderr);
    return kExitUsage;
  }
  auto flags = parse_castorctl_flags(argv);
  if (!flags.is_ok()) {
    std::fprintf(stderr, "castorctl: %s\n(see castorctl --help)\n", flags.status().message().c_str());
    return kExitUsage;
  }
  const CtlFlags& f = *flags;
  if (f.help) {
    std::fputs(f.help_text.c_str(), stdout);
    return kExitOk;
  }
  using Command = int (*)(const CtlFlags&, kv::BlockingClient&);
  const std::vector<std::pair<std::string, Command>> commands = {
      {"get", cmd_get},     {"range", cmd_range},  {"put", cmd_put},     {"del", cmd_del},
      {"cas", cmd_cas},     {"txn", cmd_txn},      {"watch", cmd_watch}, {"status", cmd_status},
      {"check", cmd_check}, {"leader", cmd_leader}};
  for (const auto& [name, command] : commands) {
    if (name != f.args[0]) continue;
    kv::ClientOptions options;
    options.endpoints = f.endpoints;
    options.cluster_id = f.cluster_id;
    options.name = "castorctl";
    options.request_timeout = f.timeout;
    kv::BlockingClient client(std::move(options));
    const int code = command(f, client);
    std::fflush(stdout);
    return code;
  }
  std::fprintf(stderr, "castorctl: unknown command '%s'\n(see castorctl --help)\n", f.args[0].c_str());
  return kExitUsage;
}

}  // namespace
}  // namespace castor::tools

int main(int argc, char** argv) {
  return castor::tools::run(std::vector<std::string>(argv + 1, argv + argc));
}

#include "tools/castorctl_flags.h"

#include <cctype>
#include <optional>
#include <sstream>

#include "tools/cli_parse.h"

namespace castor::tools {

namespace {

constexpr const char* kTxnHelp = R"(The transaction, one line per directive:
  compare FIELD KEY OP OPERAND   FIELD: value|version|create_revision|mod_revision
                                 OP: = != < >
  success|failure get KEY | range PREFIX | put KEY VALUE | del KEY | del_prefix PREFIX
e.g.
  compare mod_revision models/fraud/serving = 42
  success put models/fraud/serving v8
  failure get models/fraud/serving
Quote tokens with spaces or odd bytes: "a b", C escapes \" \\ \n \t \xHH. '#' starts a comment.)";

constexpr const char* kFooter =
    R"(Keys and values are bytes. simple prints them as they are (get and range print the key, then the
value, on lines of their own); json writes "key"/"value" strings when they are valid UTF-8 and
"key_base64"/"value_base64" otherwise; table escapes what is not printable.

watch runs until SIGINT or SIGTERM (exit 0), resuming on another node by itself; an error no node
can get past (COMPACTED on every node, a refused request) ends it with exit 4.

Outcomes: a write that may or may not have applied (the leader failed mid-request, the deadline
passed after sending) is reported as UNKNOWN, never as failed; FAILED means it certainly did not
happen. Reads never report UNKNOWN.

Exit codes:
  0  OK
  1  a compare failed (cas, or a txn that ran its failure branch)
  2  usage error (bad flags, bad txn text)
  3  UNKNOWN: the write may or may not have applied
  4  unavailable, or any other error (status: some endpoint did not answer; check: some node
     did not answer or is unhealthy)

`castorctl COMMAND --help` describes one command.)";

constexpr const char* kDefaultEndpoints = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

Status usage(std::string why) { return Status(Code::kInvalidArgument, std::move(why)); }

// "5s", "500ms", "2m"; a bare number is seconds.
Result<std::chrono::milliseconds> parse_duration(const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  const Result<uint64_t> number = parse_decimal<uint64_t>(v.substr(0, digits));
  if (!number.is_ok()) return usage("'" + v + "' is not a duration (5s, 500ms, 1m)");
  const uint64_t n = *number;
  const std::string unit = v.substr(digits);
  uint64_t ms;
  if (unit == "ms") {
    ms = n;
  } else if (unit == "s" || unit.empty()) {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60 * 1000;
  } else {
    return usage("unit '" + unit + "' (want ms, s or m)");
  }
  if (ms == 0) return usage("must be positive");
  return std::chrono::milliseconds(ms);
}

Result<std::vector<net::Endpoint>> parse_endpoints(const std::string& v) {
  std::vector<net::Endpoint> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto ep = net::parse_endpoint(item);
    if (!ep.is_ok()) return ep.status();
    out.push_back(*ep);
  }
  if (out.empty()) return usage("no address given");
  return out;
}

void add_globals(CLI::App& app, CtlFlags& f) {
  // Each global flag given twice takes its last value (as before CLI11).
  constexpr auto kLast = CLI::MultiOptionPolicy::TakeLast;
  add_parsed(
      app, "--endpoints", parse_endpoints, [&f](std::vector<net::Endpoint> e) { f.endpoints = std::move(e); },
      "the nodes' client addresses")
      ->type_name("H:P,H:P,...")
      ->default_str(kDefaultEndpoints)
      ->multi_option_policy(kLast);
  app.add_option("--cluster-id", f.cluster_id, "refuse nodes of any other cluster")
      ->type_name("ID")
      ->capture_default_str()
      ->multi_option_policy(kLast);
  add_parsed(
      app, "--timeout", parse_duration, [&f](std::chrono::milliseconds d) { f.timeout = d; },
      "deadline of the whole call, retries included: 5s, 500ms, 1m")
      ->type_name("DURATION")
      ->default_str("5s")
      ->multi_option_policy(kLast);
  const std::map<std::string, Format> formats{
      {"simple", Format::kSimple}, {"json", Format::kJson}, {"table", Format::kTable}};
  app.add_option("-w,--write-out", f.format,
                 "simple, json (one JSON object per result, with its header) or table")
      ->transform(CLI::CheckedTransformer(formats).description(""))
      ->type_name("FORMAT")
      ->default_str("simple")
      ->multi_option_policy(kLast);
}

// A subcommand taking `positionals` (all required), named as its help shows them.
CLI::App* command(CLI::App& app, CtlFlags& f, const std::string& name, const std::string& help,
                  std::vector<std::string> positionals) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->footer("");  // the tool's footer (outcomes, exit codes) is castorctl --help's
  for (const std::string& p : positionals) {
    sub->add_option_function<std::string>(
           p, [&f](const std::string& v) { f.args.push_back(v); }, "")
        ->required();
  }
  return sub;
}

void add_reads(CLI::App& app, CtlFlags& f) {
  CLI::App* get = command(app, f, "get", "the key and its value (nothing when absent)", {"KEY"});
  get->add_flag("--serializable", f.serializable,
                "answer from one node's state without a quorum round (may be stale)");
  CLI::App* range = app.add_subcommand(
      "range",
      "every key starting with PREFIX, or with --from the keys in [START, END) (no END: to the last key)");
  range->add_option_function<std::string>(
      "PREFIX", [&f](const std::string& v) { f.args.push_back(v); }, "");
  range->add_option("--from", f.from, "the first key");
  range->add_option("--to", f.to, "the end of the range (excluded); needs --from");
  range->add_flag("--serializable", f.serializable,
                  "answer from one node's state without a quorum round (may be stale)");
  add_unsigned(*range, "--limit", f.limit, "at most N keys");
  range->add_flag("--keys-only", f.keys_only, "keys without values");
  range->add_flag("--count-only", f.count_only, "only the number of keys");
}

// watch --rev: a revision, counted from 1 (etcd's first revision too).
Result<uint64_t> parse_revision(const std::string& text) {
  Result<uint64_t> n = parse_decimal<uint64_t>(text);
  if (n.is_ok() && *n == 0) return usage("revisions start at 1 (--rev 1 replays all the history kept)");
  return n;
}

void add_watch(CLI::App& app, CtlFlags& f) {
  CLI::App* watch =
      command(app, f, "watch",
              "print every change to KEY (or with --prefix to every key starting with KEY) as it "
              "happens, one event per line (simple: type, key, value) or per JSON object; runs "
              "until interrupted (--timeout, a bound on one request, does not apply), "
              "resuming on another node when its node goes away",
              {"KEY"});
  watch->add_flag("--prefix", f.prefix, "every key starting with KEY");
  add_parsed(
      *watch, "--rev", parse_revision, [&f](uint64_t n) { f.rev = n; },
      "start with the changes at revision N, then follow (as etcdctl --rev: N itself included); "
      "default: the changes after now")
      ->type_name("N");
  watch->add_flag("--prev-kv", f.prev_kv, "also print each key's state before the change");
}

void add_writes(CLI::App& app, CtlFlags& f) {
  command(app, f, "put", "set KEY to VALUE", {"KEY", "VALUE"})
      ->add_flag("--prev-kv", f.prev_kv, "also print the key's previous state");
  command(app, f, "del", "delete KEY; prints how many keys were deleted (0 or 1)", {"KEY"})
      ->add_flag("--prev-kv", f.prev_kv, "also print the key's previous state");
  CLI::App* cas = command(
      app, f, "cas", "put NEW under KEY if the one condition given holds (one atomic Txn)", {"KEY", "NEW"});
  cas->add_option_function<std::string>(
      "--expect-value", [&f](const std::string& v) { f.expect.push_back(kv::CasExpect::value(v)); },
      "the key holds V");
  add_unsigned<uint64_t>(
      *cas, "--expect-version", [&f](uint64_t n) { f.expect.push_back(kv::CasExpect::version(n)); },
      "the key's version is N");
  add_unsigned<uint64_t>(
      *cas, "--expect-mod-revision", [&f](uint64_t n) { f.expect.push_back(kv::CasExpect::mod_revision(n)); },
      "the key was last written at revision R");
  cas->add_flag_callback(
      "--expect-absent", [&f] { f.expect.push_back(kv::CasExpect::absent()); }, "the key does not exist");
  command(app, f, "txn", "a transaction read from stdin (castorctl txn --help: its form)", {})
      ->footer(kTxnHelp);
}

void add_admin(CLI::App& app, CtlFlags& f) {
  command(
      app, f, "status",
      "every endpoint: name, address, role, term, commit, applied, leader, health (a leader seen, applied "
      "close to commit: the rule of /health)",
      {});
  command(app, f, "check", "the same as status; exits 4 when any node is unreachable or unhealthy", {});
  CLI::App* leader = app.add_subcommand("leader", "leadership");
  leader->require_subcommand(1);
  command(*leader, f, "transfer", "make the member NAME (as in castord --initial-cluster) the leader",
          {"NAME"});
}

void describe(CLI::App& app, CtlFlags& f) {
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // the global flags also after the command
  add_globals(app, f);
  add_reads(app, f);
  add_writes(app, f);
  add_watch(app, f);
  add_admin(app, f);
}

// The first argument that is neither a global flag nor its value, when it names no command.
std::optional<Status> unknown_command(const CLI::App& app, const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.empty() && a[0] == '-') {
      const CLI::Option* o = app.get_option_no_throw(a);
      if (o != nullptr && o->get_items_expected_max() > 0) ++i;  // skip its value
      continue;
    }
    std::string known;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    return usage("unknown command '" + a + "' (want one of " + known + ")");
  }
  return std::nullopt;
}

// The command words the user gave ("leader", "transfer"), outermost first, and the innermost.
const CLI::App* command_words(const CLI::App& app, std::vector<std::string>& words) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    words.push_back(at->get_name());
  }
  return at;
}

}  // namespace

std::string castorctl_usage() {
  CtlFlags f;
  CLI::App app("castorctl: Castor's command-line client.", "castorctl");
  describe(app, f);
  return app.help();
}

Result<CtlFlags> parse_castorctl_flags(const std::vector<std::string>& args) {
  CtlFlags f;
  f.endpoints = parse_endpoints(kDefaultEndpoints).value();
  CLI::App app("castorctl: Castor's command-line client.", "castorctl");
  describe(app, f);
  Result<CliParsed> parsed = parse_cli(app, args);
  std::vector<std::string> words;
  const CLI::App* innermost = command_words(app, words);
  if (!parsed.is_ok()) {
    std::optional<Status> unknown = words.empty() ? unknown_command(app, args) : std::nullopt;
    return unknown ? *unknown : parsed.status();
  }
  if (*parsed == CliParsed::kHelp) {
    f.help = true;
    f.help_text = innermost->help();
    return f;
  }
  f.args.insert(f.args.begin(), words.begin(), words.end());
  return f;
}

}  // namespace castor::tools

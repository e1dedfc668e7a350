// castord: the Castor node daemon. Parses its options, raises its open-files limit
// (tools/fd_limit.h), opens the data directory, and serves until SIGTERM or SIGINT, when it
// stops cleanly (the log write in flight completes).
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "kv/server/server.h"
#include "tools/castord_logging.h"
#include "tools/castord_options.h"
#include "tools/fd_limit.h"

int main(int argc, char** argv) {
  auto parsed = castor::tools::parse_castord_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "castord: %s\n(see castord --help)\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->help) {
    std::fputs(castor::tools::castord_usage().c_str(), stdout);
    return 0;
  }
  // The server exists only after the data directory opened; until then the term reads 0.
  std::atomic<const castor::kv::Server*> running{nullptr};
  castor::tools::setup_logging(parsed->server.name, parsed->log_format, parsed->log_level, [&running] {
    const castor::kv::Server* s = running.load(std::memory_order_acquire);
    return s == nullptr ? uint64_t{0} : s->term();
  });

  // Every connection is a file descriptor: take what the system allows before accepting any.
  if (auto limit = castor::tools::raise_fd_limit(); !limit.is_ok()) {
    spdlog::warn("cannot raise the open-files limit: {}", limit.status().message());
  } else if (auto warning = castor::tools::fd_limit_warning(*limit, castor::kv::fds_needed(parsed->server));
             !warning.empty()) {
    spdlog::warn("{}", warning);
  }

  // Signals go to one thread that asks the server to stop; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto server = castor::kv::Server::open(parsed->server);
  if (!server.is_ok()) {
    spdlog::critical("cannot start: {}", server.status().to_string());
    return 1;
  }
  running.store(server->get(), std::memory_order_release);
  // Set when run() returned on its own (it failed to bind, or stopped on a fatal error): the
  // SIGTERM that then wakes the watcher is ours, not an operator's, and is not logged as one.
  std::atomic<bool> returned{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (!returned.load()) spdlog::info("signal {}: shutting down", sig);
    (*server)->stop();
  });
  castor::Status s = (*server)->run();
  returned.store(true);
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  if (!s.is_ok()) {
    spdlog::critical("stopped: {}", s.to_string());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

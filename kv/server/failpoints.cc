#include "kv/server/failpoints.h"

#include <csignal>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

namespace castor::kv {

namespace {

// The points set to `action` in CASTOR_FAILPOINTS.
std::set<std::string> points_set_to(const std::string& action) {
  std::set<std::string> out;
  const char* env = std::getenv("CASTOR_FAILPOINTS");
  if (!env) return out;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    if (eq != std::string::npos && item.substr(eq + 1) == action) out.insert(item.substr(0, eq));
  }
  return out;
}

}  // namespace

void failpoint(const char* name) {
  static const std::set<std::string> crash = points_set_to("crash");
  if (crash.empty() || !crash.count(name)) return;
  std::raise(SIGKILL);
}

bool failpoint_once(const char* name) {
  // Not yet fired; reached from one thread at a time (the io thread), like every point.
  static std::set<std::string> pending = points_set_to("once");
  return !pending.empty() && pending.erase(name) > 0;
}

}  // namespace castor::kv

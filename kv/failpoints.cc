#include "kv/failpoints.h"

#include <csignal>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

namespace castor::kv {

namespace {

// The points set to crash, parsed once from CASTOR_FAILPOINTS.
const std::set<std::string>& crash_points() {
  static const std::set<std::string> points = [] {
    std::set<std::string> out;
    const char* env = std::getenv("CASTOR_FAILPOINTS");
    if (!env) return out;
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const size_t eq = item.find('=');
      if (eq != std::string::npos && item.substr(eq + 1) == "crash") out.insert(item.substr(0, eq));
    }
    return out;
  }();
  return points;
}

}  // namespace

void failpoint(const char* name) {
  if (crash_points().empty() || !crash_points().count(name)) return;
  std::raise(SIGKILL);
}

}  // namespace castor::kv

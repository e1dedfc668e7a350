// castor-sim: runs the whole-cluster simulation over many seeds and prints one summary line.
//
//   castor-sim --seeds N [--first S] [--nodes 3|5] [--plant BUG] [--trace]
//   castor-sim --rates --seeds N [--first S] [--nodes 3|5]
//
// Exits 0 when every seed is clean, 1 on any violation or liveness failure (printing each
// failing seed and the command that replays it with a trace), 2 on bad usage. A seed that did
// less than its minimum of work fails the liveness phase, so it never counts as clean.
//
// --rates runs the clean core and then every planted bug over the same seeds, and prints per
// bug how many seeds caught it (broke the property the bug breaks) and the rate. It exits 1
// when the clean core fails a seed.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "tests/sim/simulation.h"

namespace {

using castor::sim::Options;
using castor::sim::Outcome;

int usage(const char* why) {
  std::string bugs;
  for (const auto& bug : castor::sim::planted_bugs()) bugs += (bugs.empty() ? "" : " | ") + bug.name;
  std::fprintf(
      stderr,
      "castor-sim: %s\nusage: castor-sim --seeds N [--first S] [--nodes 3|5] [--plant BUG] [--trace]\n"
      "       castor-sim --rates --seeds N [--first S] [--nodes 3|5]\n"
      "  BUG: %s\n",
      why, bugs.c_str());
  return 2;
}

struct Tally {
  uint64_t violations = 0, liveness = 0, steps = 0, committed = 0, reads = 0;
  std::map<std::string, uint64_t> by_property;  // seeds whose first violation broke it
  double secs = 0;
};

// Runs seeds [first, first + seeds) with `base`; prints the first `report_max` failures with
// the command that replays each.
Tally run_seeds(const Options& base, uint64_t first, uint64_t seeds, bool trace, uint64_t report_max) {
  const auto start = std::chrono::steady_clock::now();
  Tally t;
  uint64_t reported = 0;
  for (uint64_t s = first; s < first + seeds; ++s) {
    Options opt = base;
    opt.seed = s;
    if (trace) opt.trace = &std::cout;
    const Outcome out = castor::sim::Simulation(opt).run();
    t.steps += out.steps;
    t.committed += out.committed;
    t.reads += out.reads_served;
    if (out.ok()) continue;
    if (!out.violations.empty()) ++t.violations, ++t.by_property[out.property()];
    if (out.liveness_failed) ++t.liveness;
    if (reported++ < report_max) {
      const std::string what =
          out.violations.empty() ? "liveness: " + out.liveness_reason : out.violations.front();
      const std::string planted = castor::sim::planted_name(base);
      const std::string plant = planted.empty() ? "" : " --plant " + planted;
      std::printf("FAIL seed %llu: %s\n  replay: castor-sim --seeds 1 --first %llu --nodes %d%s --trace\n",
                  static_cast<unsigned long long>(s), what.c_str(), static_cast<unsigned long long>(s),
                  base.nodes, plant.c_str());
    }
  }
  t.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

void print_summary(const Tally& t, uint64_t seeds, int nodes) {
  std::printf(
      "sim: %llu seeds, %d nodes, %llu violations, %llu liveness failures, %llu steps, %llu entries "
      "committed, "
      "%llu reads checked, %.1f s\n",
      static_cast<unsigned long long>(seeds), nodes, static_cast<unsigned long long>(t.violations),
      static_cast<unsigned long long>(t.liveness), static_cast<unsigned long long>(t.steps),
      static_cast<unsigned long long>(t.committed), static_cast<unsigned long long>(t.reads), t.secs);
}

// The clean core, then each planted bug, over the same seeds: one line each.
int rates(const Options& base, uint64_t first, uint64_t seeds) {
  const Tally clean = run_seeds(base, first, seeds, false, 5);
  std::printf("clean core: ");
  print_summary(clean, seeds, base.nodes);
  std::printf("%-24s %-38s %8s %7s  %s\n", "bug", "property", "caught", "rate", "other violations");
  for (const auto& bug : castor::sim::planted_bugs()) {
    Options planted = base;
    castor::sim::plant(bug.name, planted);
    const Tally t = run_seeds(planted, first, seeds, false, 0);
    uint64_t caught = 0;
    std::string other;
    for (const auto& [property, n] : t.by_property) {
      if (bug.breaks(property))
        caught += n;
      else
        other += (other.empty() ? "" : ", ") + property + " " + std::to_string(n);
    }
    if (t.liveness > 0)
      other += (other.empty() ? "" : ", ") + std::string("liveness ") + std::to_string(t.liveness);
    std::printf("%-24s %-38s %8llu %6.1f%%  %s\n", bug.name.c_str(), bug.properties_text().c_str(),
                static_cast<unsigned long long>(caught),
                100.0 * static_cast<double>(caught) / static_cast<double>(seeds), other.c_str());
    std::fflush(stdout);
  }
  return clean.violations + clean.liveness == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 1, first = 1;
  Options base;
  bool trace = false, rate_mode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--trace") {
      trace = true;
    } else if (a == "--rates") {
      rate_mode = true;
    } else if ((a == "--seeds" || a == "--first" || a == "--nodes" || a == "--plant") && (v = next())) {
      try {
        if (a == "--seeds") seeds = std::stoull(v);
        if (a == "--first") first = std::stoull(v);
        if (a == "--nodes") base.nodes = std::stoi(v);
      } catch (const std::exception&) {
        return usage(("not a number: " + std::string(v)).c_str());
      }
      if (a == "--plant" && !castor::sim::plant(v, base))
        return usage(("unknown bug: " + std::string(v)).c_str());
    } else {
      return usage(("bad argument: " + a).c_str());
    }
  }
  if (base.nodes < 1 || base.nodes > 9) return usage("--nodes must be 1 to 9");
  if (rate_mode && (trace || !castor::sim::planted_name(base).empty())) {
    return usage("--rates plants every bug itself and traces nothing");
  }
  if (rate_mode) return rates(base, first, seeds);

  const Tally t = run_seeds(base, first, seeds, trace, 5);
  print_summary(t, seeds, base.nodes);
  return t.violations + t.liveness == 0 ? 0 : 1;
}

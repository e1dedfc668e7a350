// castor-sim: runs the whole-cluster simulation over many seeds and prints one summary line.
//
//   castor-sim --seeds N [--first S] [--nodes 3|5] [--plant BUG] [--trace]
//
// Exits 0 when every seed is clean, 1 on any violation or liveness failure (printing each
// failing seed and the command that replays it with a trace), 2 on bad usage.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "tests/sim/simulation.h"

namespace {

int usage(const char* why) {
  std::string bugs;
  for (const std::string& name : castor::sim::plant_names()) bugs += (bugs.empty() ? "" : " | ") + name;
  std::fprintf(stderr,
               "castor-sim: %s\nusage: castor-sim --seeds N [--first S] [--nodes 3|5] [--plant BUG] [--trace]\n"
               "  BUG: %s\n",
               why, bugs.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 1, first = 1;
  castor::sim::Options base;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--trace") {
      trace = true;
    } else if ((a == "--seeds" || a == "--first" || a == "--nodes" || a == "--plant") && (v = next())) {
      try {
        if (a == "--seeds") seeds = std::stoull(v);
        if (a == "--first") first = std::stoull(v);
        if (a == "--nodes") base.nodes = std::stoi(v);
      } catch (const std::exception&) {
        return usage(("not a number: " + std::string(v)).c_str());
      }
      if (a == "--plant" && !castor::sim::plant(v, base)) return usage(("unknown bug: " + std::string(v)).c_str());
    } else {
      return usage(("bad argument: " + a).c_str());
    }
  }
  if (base.nodes < 1 || base.nodes > 9) return usage("--nodes must be 1 to 9");

  const auto start = std::chrono::steady_clock::now();
  uint64_t violations = 0, liveness = 0, steps = 0, committed = 0, reads = 0, reported = 0;
  for (uint64_t s = first; s < first + seeds; ++s) {
    castor::sim::Options opt = base;
    opt.seed = s;
    if (trace) opt.trace = &std::cout;
    castor::sim::Simulation sim(opt);
    const castor::sim::Outcome out = sim.run();
    steps += out.steps;
    committed += out.committed;
    reads += out.reads_served;
    if (out.ok()) continue;
    if (!out.violations.empty()) ++violations;
    if (out.liveness_failed) ++liveness;
    if (reported++ < 5) {
      const std::string what = out.violations.empty() ? "liveness: " + out.liveness_reason : out.violations.front();
      const std::string planted = castor::sim::planted_name(base);
      const std::string plant = planted.empty() ? "" : " --plant " + planted;
      std::printf("FAIL seed %llu: %s\n  replay: castor-sim --seeds 1 --first %llu --nodes %d%s --trace\n",
                  static_cast<unsigned long long>(s), what.c_str(), static_cast<unsigned long long>(s), base.nodes,
                  plant.c_str());
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sim: %llu seeds, %d nodes, %llu violations, %llu liveness failures, %llu steps, %llu entries committed, "
              "%llu reads checked, %.1f s\n",
              static_cast<unsigned long long>(seeds), base.nodes, static_cast<unsigned long long>(violations),
              static_cast<unsigned long long>(liveness), static_cast<unsigned long long>(steps),
              static_cast<unsigned long long>(committed), static_cast<unsigned long long>(reads), secs);
  return violations + liveness == 0 ? 0 : 1;
}

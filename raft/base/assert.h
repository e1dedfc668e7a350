// CASTOR_ASSERT: a broken invariant is a bug. It prints where and why, then aborts, in every
// build type (docs/STYLE.md, "Fail-stop"). Expected outcomes are Status values instead.
//
// What it does NOT do: log through spdlog or unwind (no destructors run): it prints to stderr and
// calls std::abort().
#pragma once

#include <cstdio>
#include <cstdlib>

#define CASTOR_ASSERT(cond, msg)                                                                       \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      std::fprintf(stderr, "%s:%d: CASTOR_ASSERT(%s) failed: %s\n", __FILE__, __LINE__, #cond, (msg)); \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)

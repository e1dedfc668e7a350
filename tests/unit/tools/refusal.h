// refusal(): what a command-line parser said when it refused `args` (and that it did, as
// INVALID_ARGUMENT), for the castord and castorctl flag tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/base/status.h"

namespace castor::tools::testing {

template <typename Parse>
std::string refusal(Parse parse, const std::vector<std::string>& args) {
  auto r = parse(args);
  EXPECT_FALSE(r.is_ok()) << "accepted";
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

inline bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace castor::tools::testing

// ReadContexts (raft/read_context.h): an answer meant for a read of an earlier run of a node
// must never be taken for a read of this run.
#include "raft/read_context.h"

#include <gtest/gtest.h>

namespace castor::raft {
namespace {

TEST(ReadContexts, NumbersThisRunsReadsInOrder) {
  ReadContexts run(42);
  const std::string first = run.next();
  const std::string second = run.next();
  EXPECT_NE(first, second);
  EXPECT_EQ(run.number_of(first), 1u);
  EXPECT_EQ(run.number_of(second), 2u);
}

// The stale answer of thesis 6.4's concern: read 1 of the previous run was answered at an
// index from before this run's read 1 began; releasing this run's read with it could miss a
// write acknowledged in between.
TEST(ReadContexts, AnAnswerForTheSameReadNumberOfAnotherRunIsNotRecognised) {
  ReadContexts before_restart(7);
  const std::string stale = before_restart.next();
  ReadContexts after_restart(8);
  const std::string fresh = after_restart.next();
  EXPECT_NE(stale, fresh);
  EXPECT_EQ(after_restart.number_of(stale), std::nullopt);
  EXPECT_EQ(after_restart.number_of(fresh), 1u);
}

TEST(ReadContexts, BytesThatAreNoContextAreNotRecognised) {
  ReadContexts run(1);
  EXPECT_EQ(run.number_of(""), std::nullopt);
  EXPECT_EQ(run.number_of("1"), std::nullopt);  // the form castord used before
  EXPECT_EQ(run.number_of(std::string(17, '\0')), std::nullopt);
}

}  // namespace
}  // namespace castor::raft

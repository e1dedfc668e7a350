// Failpoints: test-only crash points named in the environment, for the chaos harness.
//
//   CASTOR_FAILPOINTS=before-log-fsync=crash,after-apply=crash
//
// A point whose action is `crash` kills the process with SIGKILL when reached, exactly as
// `kill -9` would at that instant. Points (see where kv::Server calls them):
//   before-log-fsync, after-log-fsync, before-apply, after-apply,
//   before-send-append-response, during-snapshot-install.
// A point whose action is `once` makes failpoint_once() true the first time it is reached,
// for a test that damages one thing once:
//   corrupt-snapshot-chunk   the leader flips a byte in the last chunk of a snapshot it sends
// With the variable unset, each is one branch on a value read once at start-up.
//
// What it does NOT do: check names. A misspelt point, or an action other than crash and once, in
// CASTOR_FAILPOINTS is ignored without a word.
#pragma once

namespace castor::kv {

void failpoint(const char* name);
bool failpoint_once(const char* name);

}  // namespace castor::kv

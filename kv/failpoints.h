// Failpoints: test-only crash points named in the environment, for the chaos harness.
//
//   CASTOR_FAILPOINTS=before-log-fsync=crash,after-apply=crash
//
// A point whose action is `crash` kills the process with SIGKILL when reached, exactly as
// `kill -9` would at that instant. Points (see where kv::Server calls them):
//   before-log-fsync, after-log-fsync, before-apply, after-apply,
//   before-send-append-response, during-snapshot-install.
// With the variable unset, failpoint() is one branch on a bool read once at start-up.
#pragma once

namespace castor::kv {

void failpoint(const char* name);

}  // namespace castor::kv

#!/usr/bin/env bash
# Checks that the Raft core stays pure (docs/DESIGN.md, "The Raft core"): no file under DIR
# (default raft/), outside DIR/storage/ and the thread-safe metrics of DIR/base/metrics.*,
# includes Boost, LMDB, spdlog, threads, clocks, sockets or files.
#
#   raft_purity.sh [DIR]          exit 0 when pure, 1 listing each offending include
#   raft_purity.sh --self-test    shows the check catches a planted include (exit 0 if it does)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
forbidden='#\s*include\s*[<"](boost/|lmdb\.h|spdlog/|thread>|mutex>|condition_variable>|future>|atomic>|chrono>|ctime>|time\.h|fstream>|filesystem>|sys/socket\.h|netinet/|arpa/|unistd\.h|fcntl\.h)'

check() {
  local dir="$1"
  local hits
  hits="$(grep -rnEI "$forbidden" "$dir" --include='*.h' --include='*.cc' --exclude-dir=storage \
    | grep -v "^$dir/base/metrics\.\(h\|cc\):" || true)"
  if [[ -n "$hits" ]]; then
    echo "raft core is not pure; these includes belong in the host:"
    echo "$hits"
    return 1
  fi
  echo "raft core is pure: $(find "$dir" -path "$dir/storage" -prune -o \( -name '*.h' -o -name '*.cc' \) -print | wc -l) files checked"
}

if [[ "${1:-}" == "--self-test" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/storage"
  echo '#include <lmdb.h>' > "$tmp/storage/allowed.cc"
  mkdir -p "$tmp/base"
  echo '#include <mutex>' > "$tmp/base/metrics.h"
  check "$tmp" >/dev/null || { echo "self-test: storage/ and base/metrics.h must be allowed"; exit 1; }
  echo '#include <mutex>' > "$tmp/base/json.h"
  if check "$tmp" >/dev/null; then echo "self-test: a planted #include <mutex> in base/json.h was not caught"; exit 1; fi
  rm "$tmp/base/json.h"
  echo '#include <thread>' > "$tmp/node.cc"
  if check "$tmp" >/dev/null; then echo "self-test: a planted #include <thread> was not caught"; exit 1; fi
  echo "self-test: planted include caught"
  exit 0
fi
check "${1:-$here/../../raft}"

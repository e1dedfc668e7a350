#!/usr/bin/env bash
# Checks that every C++ file under ROOT's raft, kv, net, tests and tools folders is formatted as
# ROOT/.clang-format says (docs/STYLE.md, "Formatting and size"). Fix with clang-format -i FILE.
#
#   format_check.sh ROOT          exit 0 when every file is formatted, 1 naming each one that is not
#   format_check.sh --self-test   shows the check catches a planted misformatted file
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

check() {
  local root="$1" bad=() files
  command -v clang-format >/dev/null || { echo "clang-format is not installed (tools/bootstrap installs it)"; return 1; }
  mapfile -t files < <(cd "$root" && find raft kv net tests tools \( -name '*.cc' -o -name '*.h' \) \
    -not -path '*/corpus/*' 2>/dev/null | sort)
  for f in "${files[@]}"; do
    (cd "$root" && clang-format --dry-run --Werror "$f" >/dev/null 2>&1) || bad+=("$f")
  done
  if ((${#bad[@]})); then
    echo "not formatted as .clang-format says (run clang-format -i on them):"
    printf '  %s\n' "${bad[@]}"
    return 1
  fi
  echo "every one of ${#files[@]} C++ files is formatted"
}

if [[ "${1:-}" == "--self-test" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp "$here/../../.clang-format" "$tmp/"
  mkdir -p "$tmp/kv"
  printf 'int f(int x) { return x; }\n' > "$tmp/kv/good.cc"
  check "$tmp" >/dev/null || { echo "self-test: a well-formatted file was refused"; exit 1; }
  printf 'int g( int x ){return x;}\n' > "$tmp/kv/bad.cc"
  if check "$tmp" >/dev/null; then echo "self-test: a planted misformatted file was not caught"; exit 1; fi
  echo "self-test: planted misformatted file caught"
  exit 0
fi
check "${1:?usage: format_check.sh ROOT | --self-test}"

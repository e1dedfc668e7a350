#!/usr/bin/env bash
# Runs castor-crash with a planted bug and passes only if the checker caught it: the run must
# fail (exit status 1) with a summary line counting at least one of KIND (lost or divergent).
# A run that fails some other way (a crash, a bad argument, no summary) does not count.
#
#   expect_caught.sh lost|divergent CASTOR_CRASH ARGS...
set -uo pipefail
kind="${1:?expect_caught.sh: give lost or divergent}"
shift
if [[ "$kind" != lost && "$kind" != divergent ]]; then
  echo "expect_caught.sh: KIND is lost or divergent, not '$kind'"
  exit 2
fi

# A failed run keeps its data directory for inspection; here failing is the point, so the run
# gets a directory that is removed afterwards.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$("$@" --dir "$tmp/run" 2>&1)"
status=$?
echo "$out"
summary="$(grep -E '^crash: [0-9]+ kills, [0-9]+ lost, [0-9]+ divergent$' <<<"$out" | tail -n 1)"
if [[ -z "$summary" ]]; then
  echo "expect_caught.sh: no summary line"
  exit 1
fi
if [[ "$kind" == lost ]]; then
  count="$(sed -E 's/.* ([0-9]+) lost,.*/\1/' <<<"$summary")"
else
  count="$(sed -E 's/.* ([0-9]+) divergent$/\1/' <<<"$summary")"
fi
if [[ $status -ne 1 || "$count" -eq 0 ]]; then
  echo "expect_caught.sh: the planted bug was NOT caught (exit status $status, $count $kind)"
  exit 1
fi
echo "expect_caught.sh: planted bug caught ($count $kind, exit status 1)"

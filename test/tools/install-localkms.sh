#!/usr/bin/env bash
# local-kms, an AWS KMS emulator, for the KMS signing tests: built from the
# Go module proxy at an exact version (pinned in test/tools/localkms/go.mod)
# behind a small main that listens on loopback only. Installed into
# $CONVEYOR_TOOLS/bin/localkms. Idempotent: kept when its stamp matches.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

name=localkms
# The stamp hashes contents only, so a clone elsewhere keeps the build.
version=$(cat "$root/test/tools/localkms/go.sum" "$root/test/tools/localkms/main.go" | sha256sum | cut -c1-16)
stamp="$tools/versions/$name"

if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "installing $name (local-kms $(awk '/nsmithuk\/local-kms v/ {print $3; exit}' "$root/test/tools/localkms/go.mod"))"
(cd "$root/test/tools/localkms" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -o "$tools/bin/$name" .)
echo "$version" > "$stamp"

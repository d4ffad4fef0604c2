#!/usr/bin/env bash
# The oras CLI, the standard OCI artifact client: the supply-chain test runs
# `oras discover` against the CNCF distribution registry to prove that the
# provenance and SBOM Conveyor attaches are referrers any client finds.
# Built from the Go module proxy at an exact version into
# $CONVEYOR_TOOLS/bin. Idempotent: a binary already installed at this
# version (per its stamp) is kept.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

name=oras
module=oras.land/oras/cmd/oras
version=v1.3.6
stamp="$tools/versions/$name"

if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "installing $name $version"
GOBIN="$tools/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version"
echo "$version" > "$stamp"

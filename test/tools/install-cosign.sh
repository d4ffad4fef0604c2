#!/usr/bin/env bash
# cosign, Sigstore's signing CLI: the supply-chain test runs
# `cosign verify-attestation --key` on what Conveyor attaches, so the signed
# provenance is proven readable by the verifier people actually use.
# Built from the Go module proxy at an exact version into $CONVEYOR_TOOLS/bin
# (about 6 minutes on 2 cores, once; the binary is kept by its stamp).
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

name=cosign
module=github.com/sigstore/cosign/v2/cmd/cosign
version=v2.6.5
stamp="$tools/versions/$name"

if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "installing $name $version"
GOBIN="$tools/bin" GOFLAGS="-buildvcs=false -trimpath" CGO_ENABLED=0 go install -ldflags="-s -w" "$module@$version"
echo "$version" > "$stamp"

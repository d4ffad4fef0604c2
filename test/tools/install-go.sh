#!/usr/bin/env bash
# Go tools the tests and benchmarks run, at exact versions, into $CONVEYOR_TOOLS/bin.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

install() { # name module version
  local name=$1 module=$2 version=$3 stamp="$tools/versions/$1"
  if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return
  fi
  echo "installing $name $version"
  GOBIN="$tools/bin" GOFLAGS=-buildvcs=false go install "$module@$version"
  echo "$version" > "$stamp"
}

# crane: the baseline of the build benchmark.
install crane github.com/google/go-containerregistry/cmd/crane v0.22.1
# The CNCF distribution registry: the real registry the build tests push to.
install registry github.com/distribution/distribution/v3/cmd/registry v3.1.2

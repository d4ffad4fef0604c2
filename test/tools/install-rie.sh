#!/usr/bin/env bash
# The AWS Lambda Runtime Interface Emulator (aws-lambda-rie), which
# test/lambda_test.go runs each function's bootstrap under, at the only
# version the module proxy serves, into $CONVEYOR_TOOLS/bin. Idempotent: a
# binary already installed at this version (per its stamp) is kept.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

name=aws-lambda-rie
module=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
version=v0.0.0-20261030222936-bef5c4ba774d
stamp="$tools/versions/$name"

if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "installing $name $version"
GOBIN="$tools/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version"
echo "$version" > "$stamp"

#!/usr/bin/env bash
# govulncheck and an offline vulnerability database for `make lint`. The
# online database (vuln.go.dev) is unreachable from CI, so the database is
# built from the golang.org/x/vulndb module, pinned, with its own indexdb
# command; both are cached under $CONVEYOR_TOOLS.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
govulncheck_version=v1.9.0
vulndb_version=v0.0.0-20261105234957-e22db6528018
mkdir -p "$tools/bin" "$tools/versions"

stamp="$tools/versions/govulncheck"
if [ ! -x "$tools/bin/govulncheck" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$govulncheck_version" ]; then
  echo "installing govulncheck $govulncheck_version"
  GOBIN="$tools/bin" GOFLAGS=-buildvcs=false go install "golang.org/x/vuln/cmd/govulncheck@$govulncheck_version"
  echo "$govulncheck_version" > "$stamp"
fi

db="$tools/vulndb/$vulndb_version"
if [ ! -f "$db/index/db.json" ]; then
  echo "building the vulnerability database from golang.org/x/vulndb@$vulndb_version"
  src=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "golang.org/x/vulndb@$vulndb_version: no module directory" >&2; exit 1; }
  rm -rf "$db.tmp" && mkdir -p "$db.tmp"
  (cd "$src" && GOFLAGS=-mod=mod go run ./cmd/indexdb -vulns data/osv -out "$db.tmp")
  mv "$db.tmp" "$db"
fi
ln -sfn "$vulndb_version" "$tools/vulndb/current"

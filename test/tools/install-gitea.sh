#!/usr/bin/env bash
# Gitea, the real self-hosted forge the giteaforge tests run against, built
# once from the Go module proxy into $CONVEYOR_TOOLS/bin. v1.27.x refuses a
# dependency (FIELD-NOTES), so the version is pinned. Its static files are not
# embedded in a plain build, so the module directory is recorded for
# STATIC_ROOT_PATH.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
version=v1.26.0
module=code.gitea.io/gitea
stamp="$tools/versions/gitea"
mkdir -p "$tools/bin" "$tools/versions"
if [ -x "$tools/bin/gitea" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "installing gitea $version (a few minutes)"
dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "gitea: no module directory" >&2; exit 1; }
start=$(date +%s)
(cd "$dir" && GOFLAGS=-buildvcs=false go build -tags 'sqlite sqlite_unlock_notify' -o "$tools/bin/gitea.tmp" .)
mv "$tools/bin/gitea.tmp" "$tools/bin/gitea"
echo "$dir" > "$tools/versions/gitea-static"
echo "$version" > "$stamp"
echo "gitea $version built in $(( $(date +%s) - start ))s"

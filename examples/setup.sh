#!/usr/bin/env bash
# Sets up the example in DIR: the app source and the GitOps repository as git
# repositories, conveyor.yaml written by `conveyor init`, and push.json, the
# push webhook GitHub would send for the app's commit.
#
#   examples/setup.sh DIR
#
# CONVEYOR names the conveyor binary (default: conveyor on PATH, else
# ./bin/conveyor); REGISTRY the embedded registry's address (default
# 127.0.0.1:5000, as `conveyor dev --registry-addr`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: examples/setup.sh DIR}
registry=${REGISTRY:-127.0.0.1:5000}
conveyor=${CONVEYOR:-$(command -v conveyor || echo ./bin/conveyor)}

if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "examples/setup.sh: $dir is not empty" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cp -R "$here/web" "$dir/web"
cp -R "$here/gitops" "$dir/gitops"
if [ "$registry" != 127.0.0.1:5000 ]; then
  for f in "$dir"/gitops/base/deployment.yaml "$dir"/gitops/envs/*/kustomization.yaml; do
    sed "s|127.0.0.1:5000/|$registry/|" "$f" > "$f.new" && mv "$f.new" "$f"
  done
fi

# Fixed identities and dates: the same files give the same commits.
export GIT_AUTHOR_NAME=Developer GIT_AUTHOR_EMAIL=dev@example.com GIT_AUTHOR_DATE=2026-11-01T12:00:00Z
export GIT_COMMITTER_NAME=Developer GIT_COMMITTER_EMAIL=dev@example.com GIT_COMMITTER_DATE=2026-11-01T12:00:00Z
commit() {
  git -C "$1" add -A
  git -C "$1" -c commit.gpgsign=false commit -q -m "$2"
}
for repo in web gitops; do
  git -C "$dir/$repo" init -q
  git -C "$dir/$repo" symbolic-ref HEAD refs/heads/main
done
commit "$dir/web" "example web: a static site"
commit "$dir/gitops" "the example's manifests"

"$conveyor" init --path "$dir/gitops" --source "$dir" --reviewers alice --data-dir "$dir/data"
commit "$dir/gitops" "conveyor.yaml from conveyor init"

sha=$(git -C "$dir/web" rev-parse HEAD)
cat > "$dir/push.json" <<JSON
{
  "ref": "refs/heads/main",
  "before": "0000000000000000000000000000000000000000",
  "after": "$sha",
  "repository": {"name": "web", "full_name": "example/web", "html_url": "file://$dir/web", "clone_url": "file://$dir/web"},
  "pusher": {"name": "developer", "email": "dev@example.com"},
  "sender": {"login": "developer", "type": "User"},
  "created": true, "deleted": false, "forced": false,
  "commits": [{"id": "$sha", "distinct": true, "message": "example web: a static site", "timestamp": "2026-11-01T12:00:00Z",
    "author": {"name": "Developer", "email": "dev@example.com", "username": "developer"},
    "added": ["Dockerfile", "site/index.html", "site/healthz"], "removed": [], "modified": []}],
  "head_commit": {"id": "$sha", "distinct": true, "message": "example web: a static site", "timestamp": "2026-11-01T12:00:00Z",
    "author": {"name": "Developer", "email": "dev@example.com", "username": "developer"},
    "added": ["Dockerfile", "site/index.html", "site/healthz"], "removed": [], "modified": []}
}
JSON
echo "example ready in $dir: app source $dir/web, GitOps repository $dir/gitops, push $dir/push.json"

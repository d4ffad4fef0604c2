#!/usr/bin/env bash
# Chromium from Debian's packages, pinned, for the board's browser tests
# (test/board_test.go drives it headless through the DevTools protocol). No
# browser build is downloaded from anywhere else: apt installs the package,
# and $CONVEYOR_TOOLS/bin/chromium links to its binary, where the tests look.
# Idempotent: a machine that has this version installed and linked is kept.
# apt needs root; a security update that retires the pinned version makes
# this install the candidate instead, with a warning naming it.
set -euo pipefail
tools=${CONVEYOR_TOOLS:?}
mkdir -p "$tools/bin" "$tools/versions"

name=chromium
version=156.0.8078.114-1~deb12u1
stamp="$tools/versions/$name"

installed() { dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true; }

if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] && [ "$(installed)" = "$version" ]; then
  exit 0
fi
if [ "$(installed)" != "$version" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-chromium.sh: installing $name=$version needs root (apt-get)" >&2
    exit 1
  fi
  echo "installing $name $version"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache madison "$name" 2>/dev/null | grep -qF " $version "; then
    apt-get update -qq
  fi
  if apt-cache madison "$name" | grep -qF " $version "; then
    apt-get install -y -qq "$name=$version" "chromium-common=$version" >/dev/null
  else
    # Debian's security archive keeps only the newest build of a browser:
    # once it retires the pin, install what it offers rather than fail every
    # test run, say so loudly, and record the version actually installed.
    offered=$(apt-cache policy "$name" | sed -n 's/^ *Candidate: //p')
    if [ -z "$offered" ] || [ "$offered" = "(none)" ]; then
      echo "install-chromium.sh: apt offers no $name" >&2
      exit 1
    fi
    echo "install-chromium.sh: WARNING: $name $version is no longer offered; installing $offered — update the pin" >&2
    apt-get install -y -qq "$name=$offered" "chromium-common=$offered" >/dev/null
    version=$offered
  fi
fi
ln -sf "$(command -v chromium || echo /usr/bin/chromium)" "$tools/bin/$name"
echo "$(installed)" > "$stamp"

#!/usr/bin/env bash
# Installs what the sandbox and the tests need, from the project's own files: npm packages (when
# package-lock.json is newer than node_modules) and the platform's Go-built binaries (cached outside
# the repository; seconds when warm, about ten minutes on a fresh machine), kube-controller-manager
# included (the sandbox runs one; the tests do not need it; about 90 s more when cold).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[deps] installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
echo "[deps] installing the platform's binaries (cached after the first run)" >&2
bash test/platform/install-binaries.sh >/dev/null
# Named separately: naming a binary builds only what is named.
bash test/platform/install-binaries.sh kube-controller-manager >/dev/null

#!/usr/bin/env bash
# `npm test`: installs what the tests need (npm packages, the platform's Go-built binaries, cached
# outside the repo), type-checks, then runs every suite against the real components.
# Extra arguments go to vitest, e.g. `npm test -- test/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[test] installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "[test] installing the platform's binaries (cached after the first run)"
bash test/platform/install-binaries.sh >/dev/null
echo "[test] type-checking"
npx tsc -p tsconfig.json --noEmit
echo "[test] running the suites"
npx vitest run "$@"

#!/usr/bin/env bash
# `npm test`: installs what the tests need, type-checks, then runs every suite against the real
# components. Extra arguments go to vitest, e.g. `npm test -- test/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "[test] type-checking" >&2
npx tsc -p tsconfig.json --noEmit
echo "[test] running the suites" >&2
npx vitest run "$@"

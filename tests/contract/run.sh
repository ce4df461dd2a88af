#!/bin/sh
# Contract test: every response the end-to-end tests got (recorded by
# tests/e2e/run.sh in $MEMDB_BUILDDIR/contract.jsonl, or
# MEMDB_CONTRACT_LOG) must be described by swagger/openapi.yaml, and every
# path and status code there must have been seen.  make check runs it
# after tests/e2e/run.sh.  Prints TAP (tests/contract/check.mjs); skipped
# without node or the node tooling (npm ci --prefix tools).
src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
log=${MEMDB_CONTRACT_LOG:-${MEMDB_BUILDDIR:-.}/contract.jsonl}
if ! command -v node >/dev/null 2>&1 \
        || [ ! -d "$src/tools/node_modules/ajv" ] \
        || [ ! -d "$src/tools/node_modules/yaml" ]; then
    echo "1..1"
    echo "ok 1 # SKIP no node tooling (npm ci --prefix tools)"
    exit 0
fi
exec node "$src/tests/contract/check.mjs" "$log" "$src/swagger/openapi.yaml"

#!/bin/sh
# Renders the API reference (GET /docs of the built memdbd) in headless
# Chromium and checks it; keeps a screenshot in tests/output/docs.png (a CI
# artifact; in the build directory when the source tree is read-only).
# Prints TAP (tests/docs/render.mjs).  Skipped without /usr/bin/chromium
# (Debian's chromium) or playwright-core (npm ci --prefix tools).
src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MEMDB_BUILDDIR:-$(pwd)}
skip() {
    echo "1..1"
    echo "ok 1 # SKIP $*"
    exit 0
}
[ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is not installed"
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$src/tools/node_modules/playwright-core" ] \
    || skip "playwright-core is not installed (npm ci --prefix tools)"
out=$src/tests/output
if ! mkdir -p "$out" 2>/dev/null || [ ! -w "$out" ]; then
    out=$build/tests/output
    mkdir -p "$out"
fi
exec node "$src/tests/docs/render.mjs" "$build/memdbd" "$out/docs.png"

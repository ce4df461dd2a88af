#!/bin/sh
# End-to-end tests: start the built memdbd on loopback in temp dirs and
# talk to it over real sockets.  Prints TAP.  See tests/e2e/README.
#
# Under make check (MEMDB_BUILDDIR set) every HTTP exchange of the tests is
# recorded in $MEMDB_BUILDDIR/contract.jsonl (or MEMDB_CONTRACT_LOG; empty:
# none), started afresh here, for the contract test that make check runs
# next (tests/contract/run.sh).  Its first line says whether every test
# ran, so that a filtered run is not taken for missing coverage.
here=$(dirname "$0")
if [ -z "${MEMDB_CONTRACT_LOG+set}" ] && [ -n "${MEMDB_BUILDDIR:-}" ]; then
    MEMDB_CONTRACT_LOG=$MEMDB_BUILDDIR/contract.jsonl
    export MEMDB_CONTRACT_LOG
fi
if [ -n "${MEMDB_CONTRACT_LOG:-}" ]; then
    if [ $# -gt 0 ] || [ -n "${MEMDB_E2E_FILTER:-}" ]; then
        echo '{"run": "partial"}' > "$MEMDB_CONTRACT_LOG"
    else
        echo '{"run": "full"}' > "$MEMDB_CONTRACT_LOG"
    fi
fi
exec python3 "$here/run.py" "$@"

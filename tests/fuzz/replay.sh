#!/bin/sh
# The fuzz corpus as a regression test (make check, every build): runs each
# target's saved inputs (tests/fuzz/corpus/TARGET: seeds and every crash
# input ever found) once through its replay driver, a plain program built
# from the same target with tests/fuzz/replay.c.  Prints TAP.
builddir=${MEMDB_BUILDDIR:-.}
srcdir=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
targets="http url tok conf seg snap wire frame rec"

set -- $targets
echo "1..$#"
i=0
rc=0
for t in $targets; do
    i=$((i + 1))
    bin="$builddir/tests/fuzz/replay_$t"
    dir="$srcdir/tests/fuzz/corpus/$t"
    if [ ! -x "$bin" ]; then
        echo "not ok $i - fuzz_$t: $bin not built"
        rc=1
        continue
    fi
    if out=$(cd "${TMPDIR:-/tmp}" && "$bin" "$dir" 2>&1 < /dev/null); then
        n=$(printf '%s\n' "$out" | sed -n 's/^replay: \([0-9]*\) inputs$/\1/p')
        echo "ok $i - fuzz_$t corpus replayed ($n inputs)"
    else
        echo "not ok $i - fuzz_$t corpus replay failed"
        printf '%s\n' "$out" | tail -40 | sed 's/^/# /'
        rc=1
    fi
done
exit $rc

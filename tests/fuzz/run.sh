#!/bin/sh
# make fuzz: runs each libFuzzer target for FUZZ_SECONDS (default 60).
#
#   run.sh TARGET...      (from the build directory; make fuzz sets the env)
#
# Each target starts from its saved corpus (tests/fuzz/corpus/TARGET, read
# only) plus a work corpus in the build directory (kept between runs: new
# inputs libFuzzer finds go there, not into the source tree), with its
# dictionary when there is one.  A crash, leak, timeout (-timeout=10 s per
# input) or memory blow-up (-rss_limit_mb=2048) fails the run, and the
# input is saved next to the seeds as crash-*/leak-*/timeout-*/oom-*: a
# regression input for tests/fuzz/replay.sh once the bug is fixed.
#
# Environment: FUZZ_SECONDS, MEMDB_BUILDDIR, MEMDB_SRCDIR, FUZZ_ARGS (more
# libFuzzer flags).
set -u
builddir=${MEMDB_BUILDDIR:-$(pwd)}
srcdir=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
secs=${FUZZ_SECONDS:-60}
failed=""
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

for t in "$@"; do
    bin="$builddir/tests/fuzz/fuzz_$t"
    seeds="$srcdir/tests/fuzz/corpus/$t"
    work="$builddir/tests/fuzz/work/$t"
    log="$builddir/tests/fuzz/fuzz_$t.log"
    dict="$srcdir/tests/fuzz/$t.dict"
    mkdir -p "$work" "$seeds"
    set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$seeds/"
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    start=$(date +%s)
    # from the work directory and with no input: a fuzzed config may name
    # files to read (relative paths, /dev/stdin)
    (cd "$work/.." && "$bin" "$@" ${FUZZ_ARGS:-} "$work" "$seeds") \
        < /dev/null > "$log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        echo "fuzz_$t: ok, ${execs:-?} runs in ${dt}s, $cov"
    else
        echo "fuzz_$t: FAILED (exit $rc) after ${dt}s; log: $log"
        grep -E 'ERROR:|SUMMARY:|invariant failed|Test unit written|runtime error' "$log" \
            | head -20 | sed 's/^/    /'
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed"
    exit 1
fi
echo "fuzz: all targets ran clean"

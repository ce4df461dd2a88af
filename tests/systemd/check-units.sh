#!/bin/sh
# Checks the systemd units in etc/systemd/*.in with the real tools and
# prints TAP:
#   - the units make generated (if any) have every @VAR@ substituted;
#   - "systemd-analyze verify" says nothing about each unit (warnings such
#     as an unknown key are printed with exit status 0, so any output
#     fails), with ExecStart pointing at the memdbd of this build and the
#     man pages of this tree in MANPATH, so Documentation= is checked too;
#   - "systemd-analyze security" rates the services' exposure at 2.0 or
#     lower ("OK"); the number is printed.
# Skips (every test "ok ... # SKIP") only when systemd-analyze is absent.
#
# Environment (set by make check): MEMDB_SRCDIR, MEMDB_BUILDDIR.
# Needs systemd 250 or later (security --offline).
set -u

src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MEMDB_BUILDDIR:-$(pwd)}
max_exposure=2.0
# memdbd@.service and memdbd@.socket are checked as this instance
inst=9890

units="memdbd.service memdbd.socket memdbd@$inst.service memdbd@$inst.socket"
secured="memdbd.service memdbd@$inst.service"
ntests=$((1 + 4 + 2))
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
diag() { sed 's/^/# /'; }

echo "1..$ntests"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    while [ $n -lt $ntests ]; do
        ok "# SKIP systemd-analyze not found"
    done
    exit 0
fi
echo "# $(systemd-analyze --version | head -n 1)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memdb-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. what make generated: nothing left to substitute
gen=""
for u in memdbd.service memdbd.socket memdbd@.service memdbd@.socket; do
    [ -f "$build/etc/systemd/$u" ] && gen="$gen $build/etc/systemd/$u"
done
if [ -z "$gen" ]; then
    ok "# SKIP no generated units in $build/etc/systemd"
elif left=$(grep -n '@[a-z_]*@' $gen) ; then
    not_ok "generated units have unsubstituted variables"
    echo "$left" | diag
else
    ok "generated units have every @VAR@ substituted"
fi

# The units as make would generate them, but run from this build.
mkdir -p "$tmp/units" "$tmp/man/man1" "$tmp/man/man5" "$tmp/man/man8"
for f in "$src"/etc/systemd/*.in; do
    sed -e "s|@sbindir@|$build|g" -e "s|@bindir@|$build|g" \
        -e "s|@sysconfdir@|/etc|g" "$f" \
        > "$tmp/units/$(basename "$f" .in)"
done
man=--man=no
if command -v man >/dev/null 2>&1; then
    for p in "$src"/man/*.[158]; do
        s=${p##*.}
        cp "$p" "$tmp/man/man$s/"
    done
    man=--man=yes
fi

# 2-5. systemd-analyze verify, one unit at a time
for u in $units; do
    out=$(cd "$tmp/units" && MANPATH="$tmp/man" \
          systemd-analyze verify "$man" "./$u" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify $u"
    else
        not_ok "systemd-analyze verify $u (exit $rc)"
        echo "$out" | diag
    fi
done

# 6-7. systemd-analyze security: overall exposure <= 2.0
for u in $secured; do
    out=$(cd "$tmp/units" && systemd-analyze security --offline=true \
          --no-pager "./$u" 2>&1)
    rc=$?
    level=$(echo "$out" | sed -n \
            's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ $rc -ne 0 ] || [ -z "$level" ]; then
        not_ok "systemd-analyze security $u (exit $rc)"
        echo "$out" | tail -n 20 | diag
    elif awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'
    then
        ok "systemd-analyze security $u: exposure $level <= $max_exposure"
    else
        not_ok "systemd-analyze security $u: exposure $level > $max_exposure"
        echo "$out" | grep '✗' | diag
    fi
done

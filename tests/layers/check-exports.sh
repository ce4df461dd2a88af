#!/bin/sh
# The functions the layers' libraries export, against who calls them
# (make check, TAP).  From the objects of a build (nm):
#   - a global function of src/, shm/, worker/ or replicator/ that no
#     object of the build refers to, nor any source of tests/ or bench/
#     names (for the programs make check does not build), is either
#       - dead: its own file does not call it either: remove it, or
#       - used in its own file only: make it static;
#   - functions the unit tests or the fuzz targets call stay global.
#
#   check-exports.sh          the tests above (make check)
#   check-exports.sh --list   every finding, one "KIND FILE FUNCTION" a line
#
# Environment (set by make check): MEMDB_BUILDDIR, MEMDB_SRCDIR.
set -u

build=${MEMDB_BUILDDIR:-.}
src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

# "SOURCE KIND SYMBOL" for every object of the build whose source is in
# the tree: KIND T (defined) or U (referred to).  An object's source is
# its path with the per-target prefix automake adds dropped
# (src/ctl/memdbctl-ctl_cmd.o -> src/ctl/ctl_cmd.c).
symbols() {
    (cd "$build" && find . -name '*.o' -print) | sed 's|^\./||' | sort |
    while read -r o; do
        s=$(printf '%s\n' "$o" | sed -E 's|([^/]*-)?([^/-]*)\.o$|\2.c|')
        [ -f "$src/$s" ] || continue
        nm "$build/$o" 2>/dev/null | awk -v s="$s" \
            '$2 == "T" && $3 ~ /^[a-z][a-z0-9_]*$/ { print s, "T", $3 }
             $1 == "U" && $2 ~ /^[a-z][a-z0-9_]*$/ { print s, "U", $2 }'
    done
}

# "dead FILE FUNCTION" and "static FILE FUNCTION" lines.
findings() {
    symbols | awk '
    $2 == "T" && $1 ~ /^(src|shm|worker|replicator)\// && $3 != "main" {
        def[$3] = $1
    }
    $2 == "U" { used[$3, $1] = 1; users[$3] = users[$3] " " $1 }
    END {
        for (f in def) {
            n = split(users[f], u, " ")
            other = 0
            for (i = 1; i <= n; i++)
                if (u[i] != def[f])
                    other = 1
            if (!other)
                print def[f], f
        }
    }' | sort | while read -r file fn; do
        if grep -rqw --include='*.c' --include='*.h' -e "$fn" \
            "$src/tests" "$src/bench" 2>/dev/null; then
            continue # a program make check does not build calls it
        fi
        if [ "$(grep -cw -e "$fn" "$src/$file")" -gt 1 ]; then
            echo "static $file $fn"
        else
            echo "dead $file $fn"
        fi
    done
}

if [ "${1:-}" = "--list" ]; then
    findings
    exit 0
fi

echo "1..3"
nobj=$(symbols | awk '$1 ~ /^(src|shm|worker|replicator)\// { print $1 }' |
    sort -u | wc -l)
if [ "$nobj" -ge 50 ]; then
    echo "ok 1 - the objects of $nobj library files were read"
else
    echo "not ok 1 - only $nobj library objects in $build: build first"
fi
out=$(findings)
rc=0
n=1
for kind in dead static; do
    n=$((n + 1))
    case $kind in
    dead) what="every exported function has a caller" ;;
    static) what="functions used in their own file only are static" ;;
    esac
    bad=$(printf '%s\n' "$out" | sed -n "s/^$kind //p")
    if [ -z "$bad" ] && [ "$nobj" -ge 50 ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        printf '%s\n' "$bad" | sed 's/^/# /'
        rc=1
    fi
done
[ "$nobj" -ge 50 ] || rc=1
exit $rc

#!/bin/sh
# Checks the #include lines of the C sources against the layout and
# prints TAP:
#   - every #include "..." names a file from the top of the tree
#     ("src/core/log.h", "shm/ht.h"; config.h, from the build directory,
#     is the one exception), with no ../ or ./ anywhere;
#   - every #include of a layer's file follows the allowed directions:
#
#       layer       folder          may include
#       core        src/core/       core
#       shm         shm/            shm, core
#       words       src/words/      words, shm, core
#       changelog   src/changelog/  changelog, words, shm, core
#       worker      worker/         worker, changelog, words, shm, core
#       replicator  replicator/     replicator, changelog, words, shm, core
#       master      src/master/     everything but ctl
#       ctl         src/ctl/        ctl, changelog, words, shm, core
#
#     (worker and replicator never include each other; tests/ and bench/
#     may include any layer), and no file sits in src/ outside a layer;
#   - every header's include guard is its path from the top:
#     src/core/log.h -> MEMDB_SRC_CORE_LOG_H;
#   - each tree in tests/layers/fixtures/ gets what it expects: ok/
#     passes, every other one fails with the message in its file "expect"
#     (a wrong-way include, ../, a path not from the top, a bad guard), so
#     the checks above cannot pass by finding nothing.
#
#   check-includes.sh              the tests above (make check)
#   check-includes.sh --tree DIR   only lists what is wrong in DIR (exit 1
#                                  if anything is)
#
# Environment (set by make check): MEMDB_SRCDIR.
set -u

src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fixtures="$src/tests/layers/fixtures"

# scan ROOT: one line per problem in ROOT, "KIND FILE:LINE: message", KIND
# being path, layer or guard, then "files N", the number of files read.
# tests/layers/fixtures is not part of the tree it is in.
scan() {
    root=$1
    for d in src shm worker replicator tests bench; do
        [ -d "$root/$d" ] || continue
        find "$root/$d" -path "$root/tests/layers/fixtures" -prune -o \
            -type f \( -name '*.c' -o -name '*.h' \) -print
    done | LC_ALL=C sort | LC_ALL=C awk -v root="$root" '
    function layer(p, a) {
        split(p, a, "/")
        if (a[1] == "src")
            return (a[2] ~ /^(core|words|changelog|master|ctl)$/ \
                    && a[3] != "") ? a[2] : "none"
        if (a[1] ~ /^(shm|worker|replicator)$/)
            return a[1]
        return "any" # tests/, bench/
    }
    # one #include "inc" at rel:ln, in a file of layer me
    function include(rel, ln, me, inc, where, it, junk) {
        where = rel ":" ln ": "
        if (inc == "config.h")
            return
        if (inc ~ /(^|\/)\.\.?\//) {
            print "path " where "#include \"" inc "\": a path from the " \
                "top of the tree, without ../ or ./"
            return
        }
        if ((getline junk < (root "/" inc)) < 0) {
            print "path " where "#include \"" inc "\": no such file from " \
                "the top of the tree"
            return
        }
        close(root "/" inc)
        it = layer(inc)
        if (me == "any" || me == "none")
            return
        if (it == "any" || it == "none")
            print "layer " where "#include \"" inc "\": not a file of a " \
                "layer"
        else if (index(allow[me], " " it " ") == 0)
            print "layer " where me " may not include " inc " (" it ")"
    }
    BEGIN {
        allow["core"] = " core "
        allow["shm"] = " shm core "
        allow["words"] = " words shm core "
        allow["changelog"] = " changelog words shm core "
        allow["worker"] = " worker changelog words shm core "
        allow["replicator"] = " replicator changelog words shm core "
        allow["master"] = " master worker replicator changelog words shm core "
        allow["ctl"] = " ctl changelog words shm core "
    }
    {
        file = $0
        nfiles++
        rel = substr(file, length(root) + 2)
        me = layer(rel)
        if (me == "none")
            print "layer " rel ":1: not in a layer (src/core, src/words, " \
                "src/changelog, src/master, src/ctl)"
        hdr = rel ~ /\.h$/
        want = "MEMDB_" toupper(rel)
        gsub(/[\/.-]/, "_", want)
        # the guard: the first #ifndef, and a #define of it right after
        guard = 0; gline = 1; state = 0; ln = 0
        while ((getline line < file) > 0) {
            ln++
            if (hdr && state == 1) {
                if (line ~ /^[ \t]*#[ \t]*define[ \t]/) {
                    split(line, w, /[ \t]+/)
                    guard = w[2] == macro && macro == want
                }
                state = 2
            }
            if (hdr && state == 0 && line ~ /^[ \t]*#[ \t]*ifndef[ \t]/) {
                split(line, w, /[ \t]+/)
                macro = w[2]; gline = ln; state = 1
            }
            if (line ~ /^[ \t]*#[ \t]*include[ \t]*"/) {
                inc = line
                sub(/^[^"]*"/, "", inc)
                sub(/".*$/, "", inc)
                include(rel, ln, me, inc)
            }
        }
        close(file)
        if (hdr && !guard)
            print "guard " rel ":" gline ": the include guard should be " \
                want
    }
    END { print "files " nfiles + 0 }'
}

if [ "${1:-}" = "--tree" ]; then
    [ $# -eq 2 ] || { echo "usage: $0 [--tree DIR]" >&2; exit 2; }
    out=$(scan "${2%/}" | grep -v '^files ')
    [ -z "$out" ] && exit 0
    printf '%s\n' "$out" | cut -d' ' -f2-
    exit 1
fi

n=0
rc=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; rc=1; }
diag() { sed 's/^/# /'; }

cases=$(cd "$fixtures" 2>/dev/null && ls -d */ 2>/dev/null | tr -d /)
set -- $cases
echo "1..$((3 + ($# > 0 ? $# : 1)))"

out=$(scan "$src")
nfiles=$(printf '%s\n' "$out" | sed -n 's/^files //p')
for kind in path layer guard; do
    case $kind in
    path) what="#include paths are from the top of the tree, no ../" ;;
    layer) what="every #include follows the layer directions" ;;
    guard) what="include guards name the header's path" ;;
    esac
    bad=$(printf '%s\n' "$out" | sed -n "s/^$kind //p")
    # a tree of a few files is not this one: the checks found nothing
    [ "${nfiles:-0}" -lt 100 ] && bad="only ${nfiles:-0} files in $src"
    if [ -z "$bad" ]; then
        ok "$what ($nfiles files)"
    else
        not_ok "$what"
        printf '%s\n' "$bad" | diag
    fi
done

[ $# -eq 0 ] && not_ok "no fixtures in $fixtures"
for c in $cases; do
    got=$(scan "$fixtures/$c" | grep -v '^files ' | cut -d' ' -f2-)
    if [ "$c" = ok ]; then
        if [ -z "$got" ]; then
            ok "fixture ok: a tree that follows the rules passes"
        else
            not_ok "fixture ok: a tree that follows the rules passes"
            printf '%s\n' "$got" | diag
        fi
        continue
    fi
    want=$(cat "$fixtures/$c/expect" 2>/dev/null)
    if [ -z "$want" ]; then
        not_ok "fixture $c: no expect file"
    elif [ -n "$got" ] && printf '%s\n' "$got" | grep -qF -- "$want"; then
        ok "fixture $c is refused: $want"
    else
        not_ok "fixture $c is refused: $want"
        echo "got:" | diag
        printf '%s\n' "${got:-(nothing)}" | diag
    fi
done
exit $rc

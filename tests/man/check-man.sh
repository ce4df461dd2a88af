#!/bin/sh
# Checks the manual pages in man/ and prints TAP:
#   - "mandoc -Tlint" reports no warning or error for each page (style
#     hints such as a not-yet-installed Xr target are not counted);
#   - every configuration key of conf_opts[] in src/core/conf.c has its own
#     ".It Ic section.key" entry in memdb.yaml.5, and every entry there is
#     a real key.
# The lint tests are skipped when mandoc is not installed.
#
# Environment (set by make check): MEMDB_SRCDIR.
set -u

src=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
conf="$src/src/core/conf.c"
page5="$src/man/memdb.yaml.5"
pages="memdbd.8 memdb.yaml.5 memdbctl.1"

# "section.key" for each entry of conf_opts[], in table order.  An entry
# starts with its two string literals: STR("node", "id", ...),
# NUM("http", "workers", ...) or { "http", "listen", ... }.
keys=$(sed -n '/conf_opts\[\] *= *{/,/^};/p' "$conf" \
       | sed -n 's/^[^"]*"\([a-z_]*\)", *"\([a-z_]*\)".*/\1.\2/p')
# the keys memdb.yaml.5 documents
documented=$(sed -n 's/^\.It Ic \([a-z_]*\.[a-z_]*\)\( .*\)*$/\1/p' \
             "$page5" 2>/dev/null)
nkeys=$(echo "$keys" | grep -c .)

ntests=$(( $(echo $pages | wc -w) + 1 + nkeys + 1 ))
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
diag() { sed 's/^/# /'; }

echo "1..$ntests"

# mandoc -Tlint, one page at a time
for p in $pages; do
    if [ ! -f "$src/man/$p" ]; then
        not_ok "mandoc -Tlint $p: no such page"
    elif ! command -v mandoc >/dev/null 2>&1; then
        ok "# SKIP mandoc not found (mandoc -Tlint $p)"
    elif out=$(mandoc -Tlint -Wwarning "$src/man/$p" 2>&1) \
            && [ -z "$out" ]; then
        ok "mandoc -Tlint $p"
    else
        not_ok "mandoc -Tlint $p"
        echo "$out" | diag
    fi
done

# the keys were found at all (a changed table layout must not make the
# checks below pass vacuously)
if [ "$nkeys" -ge 20 ]; then
    ok "found $nkeys keys in conf_opts[] of src/core/conf.c"
else
    not_ok "found only $nkeys keys in conf_opts[] of src/core/conf.c"
fi

# every key is documented
for k in $keys; do
    if echo "$documented" | grep -qx "$k"; then
        ok "memdb.yaml.5 documents $k"
    else
        not_ok "memdb.yaml.5 documents $k (no \".It Ic $k\" entry)"
    fi
done

# nothing documented that is not a key
stale=""
for d in $documented; do
    echo "$keys" | grep -qx "$d" || stale="$stale $d"
done
if [ -z "$stale" ]; then
    ok "memdb.yaml.5 documents no key that conf_opts[] lacks"
else
    not_ok "memdb.yaml.5 documents keys that conf_opts[] lacks:$stale"
fi

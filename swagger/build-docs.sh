#!/bin/sh
# Builds the API reference page that memdbd serves at GET /docs from the
# OpenAPI document (make runs it; the page is compiled into memdbd):
#
#   sh swagger/build-docs.sh SPEC OUT
#
# With @redocly/cli installed in tools/node_modules (npm ci --prefix tools)
# and node on the PATH: "redocly build-docs" with the Redoc scripts inlined
# (--inlineBundle), so that the page needs nothing but itself.  The few
# references left in the page that would load something from another host
# when it is shown (the Redocly logo, the favicon) are replaced, and the
# result is checked for them.
#
# Without it: a plain HTML page that lists the endpoints and shows the YAML,
# and says that the full reference needs @redocly/cli.  The build does not
# need npm.
#
# Environment: REDOCLY, the redocly command (default: tools/node_modules/
# .bin/redocly next to this script; "none" makes the plain page).
set -eu

spec=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
redocly=${REDOCLY:-$here/../tools/node_modules/.bin/redocly}
tmp=$out.tmp

# Redocly sends no usage data and checks for no update.
REDOCLY_TELEMETRY=off
REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export REDOCLY_TELEMETRY REDOCLY_SUPPRESS_UPDATE_NOTICE

rm -f "$tmp"
if [ -x "$redocly" ] && command -v node >/dev/null 2>&1; then
    if ! "$redocly" build-docs "$spec" --config "$here/redocly.yaml" \
            --inlineBundle --output "$tmp" >"$tmp.log" 2>&1; then
        cat "$tmp.log" >&2
        rm -f "$tmp" "$tmp.log"
        echo "$0: redocly build-docs failed" >&2
        exit 1
    fi
    rm -f "$tmp.log"
    # The logo of the "API docs by" link is an <img> from Redocly's CDN:
    # an empty data: URL instead (the page hides an image that does not
    # load).  No favicon request either.
    sed -e 's|https://cdn\.redoc\.ly/[A-Za-z0-9./_-]*\.svg|data:,|g' \
        -e 's|^<head>$|<head><link rel="icon" href="data:,">|' \
        "$tmp" > "$tmp.2"
    mv -f "$tmp.2" "$tmp"
    # Nothing loaded from elsewhere: no fonts, no CDN scripts or styles.
    bad=$(grep -oE 'cdn\.redoc\.ly|fonts\.(googleapis|gstatic)\.com|<(script|img)[^>]* src="https?:|<link[^>]* href="https?:|@import +url\("?https?:' \
          "$tmp" | sort -u || true)
    if [ -n "$bad" ]; then
        rm -f "$tmp"
        echo "$0: the page would load from other hosts: $bad" >&2
        exit 1
    fi
else
    # title, version, then "METHOD PATH|summary" for each operation
    title=$(sed -n 's/^  title: *//p' "$spec" | head -n 1)
    version=$(sed -n 's/^  version: *//p' "$spec" | head -n 1)
    esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
    {
        cat <<EOF
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>$title</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto; }
code { background: #f4f4f4; }
</style>
</head>
<body>
<h1>$title ($version)</h1>
<p>This is the short form of the API reference.  The full reference is
built with @redocly/cli: install it with <code>npm ci --prefix tools</code>
and build memdbd again.  The OpenAPI document is at
<a href="/openapi.yaml">/openapi.yaml</a>.</p>
<h2>Endpoints</h2>
<ul>
EOF
        awk '
            /^paths:/ { inpaths = 1; next }
            /^[^ ]/ { inpaths = 0 }
            !inpaths { next }
            /^  \/[^ ]*:$/ { path = substr($1, 1, length($1) - 1); next }
            /^    (get|post|put|delete|patch):$/ {
                method = toupper(substr($1, 1, length($1) - 1)); next }
            /^      summary: / && method != "" {
                s = $0; sub(/^      summary: */, "", s)
                gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s)
                gsub(/>/, "\\&gt;", s)
                printf "<li><code>%s %s</code> %s</li>\n", method, path, s
                method = "" }
        ' "$spec"
        echo '</ul>'
        echo '<h2>openapi.yaml</h2>'
        echo '<pre>'
        esc < "$spec"
        echo '</pre>'
        echo '</body>'
        echo '</html>'
    } > "$tmp"
fi
mv -f "$tmp" "$out"

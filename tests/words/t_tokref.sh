#!/bin/sh
# Tokenizer profiles against an independent implementation: for each
# profile of tests/words/tokref.py's CHECKS and each text of
# tests/words/corpus/ (translations shipped by Debian packages: Japanese,
# Chinese, Thai, Korean, Russian, Arabic, Hindi, Greek, German), the
# counts of tests/words/tokdump (src/words/prof.h, fed whole and in random
# chunks) must be exactly those of tokref.py (PyICU).  Prints TAP; skipped
# when no python3 can import icu (apt-get install python3-icu).
builddir=${MEMDB_BUILDDIR:-.}
srcdir=${MEMDB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=""
# Debian's python3-icu is for Debian's python3, which another python3
# first on PATH (pyenv, a venv) does not see.
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import icu' 2>/dev/null; then
        py=$p
        break
    fi
done
if [ -z "$py" ]; then
    echo "1..1"
    echo "ok 1 # SKIP python3-icu is not installed (apt-get install python3-icu)"
    exit 0
fi
if [ ! -x "$builddir/tests/words/tokdump" ]; then
    echo "1..1"
    echo "not ok 1 - $builddir/tests/words/tokdump not built"
    exit 1
fi
exec "$py" "$srcdir/tests/words/tokref.py" --check \
    "$builddir/tests/words/tokdump" "$srcdir/tests/words/corpus"

#!/bin/sh
# End-to-end tests: start the built memdbd on loopback in temp dirs and
# talk to it over real sockets.  Prints TAP.  See tests/e2e/README.
here=$(dirname "$0")
exec python3 "$here/run.py" "$@"

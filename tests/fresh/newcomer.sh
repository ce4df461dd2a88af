#!/bin/sh
# tests/fresh/newcomer.sh - the README's quick start on a fresh Debian 12,
# as a newcomer runs it: as root, in a clean copy of the repository, on a
# machine that has nothing but a minimal Debian.
#
#   tests/fresh/newcomer.sh [--keep] [--rebuild-root] [--rev REV]
#
# Steps (each one's time is printed; its output goes to a log):
#   1. root      a fresh root from tests/fresh/mkroot.sh: the cached
#                "debootstrap --variant=minbase bookworm" tarball unpacked
#                (the first run builds it: from half a minute to a few
#                minutes, depending on the mirror)
#   2. checkout  "git archive REV" (default HEAD) of this repository as
#                /root/memdb in the root: committed files only, no build
#                products, no node_modules (uncommitted changes are not
#                tested)
#   3. deps      ./bootstrap deps, with this machine's network: the
#                apt-get update/install that the README's commands do
#                first, and the only step that needs the network
#   4. run       ./bootstrap run (it builds, then runs memdbd): waits
#                for 127.0.0.1:9889, uploads 'the cat' as the README's
#                curl does, expects {"the":1,"cat":1} from wordcount,
#                then sends SIGTERM and expects exit status 0
#   5. test      ./bootstrap test: must exit 0 and end "N passed, 0 failed"
# and ends with that last line.  Exit status 0 when every step passed.
#
#   --keep          keep the work directory (the root and the logs) even
#                   when everything passed; after a failure it is kept
#                   anyway, and its path printed
#   --rebuild-root  debootstrap again instead of using the cached root
#   --rev REV       test this commit instead of HEAD
#
# The commands run in the root under systemd-nspawn (without -b), not
# chroot: nspawn mounts /proc, /sys, /dev, /dev/shm, /run and /tmp for
# the root and removes them when it ends; the root gets a PID namespace
# of its own, so nothing a test leaves running outlives the run, with a
# stub init as PID 1 (--as-pid2) that reaps orphans as systemd does on a
# real machine.  Steps 4 and 5 run with --private-network: the root has
# a loopback interface of its own and no other, so memdbd's port 9889
# and the ports the tests pick cannot clash with anything on this
# machine (another build, another engineer's memdbd); step 3 shares this
# machine's network, for apt.  --register=no --keep-unit: no machined or
# systemd is needed on this machine.  (nspawn may print "Attempted to
# remove disk file system under /run/systemd/nspawn/propagate/...": on a
# machine whose /run is not a tmpfs; harmless.)
#
# Needs root; installs debootstrap and systemd-container with apt-get
# when missing.  Work directory: a new memdb-newcomer-* in ${TMPDIR:-/var/tmp};
# the cached roots are in ${MEMDB_CI_CACHE:-/var/cache/memdb-ci}
# (see mkroot.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
keep=0
rev=HEAD
mkroot_flags=""
# generous: the first build happens inside "./bootstrap run"
RUN_TIMEOUT=900
TEST_TIMEOUT=3600

usage() {
    echo "usage: $0 [--keep] [--rebuild-root] [--rev REV]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    --keep) keep=1 ;;
    --rebuild-root) mkroot_flags="--rebuild" ;;
    --rev) [ $# -ge 2 ] || usage; rev=$2; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
               exit 0 ;;
    *) usage ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "newcomer: needs root (debootstrap, systemd-nspawn)" >&2
    exit 1
fi

say() { echo "newcomer: $*"; }
now() { date +%s; }
t0=$(now)

if ! command -v systemd-nspawn >/dev/null 2>&1; then
    say "installing systemd-container (systemd-nspawn)"
    apt-get update -qq
    # without Recommends: libnss-mymachines would edit /etc/nsswitch.conf
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends systemd-container >/dev/null
fi

commit=$(git -C "$repo" rev-parse --verify "$rev^{commit}")
if [ "$rev" = HEAD ] && [ -n "$(git -C "$repo" status --porcelain)" ]; then
    say "note: uncommitted changes in $repo are not tested (git archive HEAD)"
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/memdb-newcomer-XXXXXX")
root="$work/root"
machine=$(basename "$work")
passed=0
finish() {
    if [ $passed = 1 ] && [ $keep = 0 ]; then
        rm -rf "$work"
    else
        say "kept $work (root: $root, logs: $work/*.log)"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# $1: step name; the rest: the command, whose output goes to $work/$1.log
step() {
    name=$1
    shift
    s=$(now)
    say "$name ..."
    if "$@" > "$work/$name.log" 2>&1; then
        say "$name: ok ($(( $(now) - s ))s)"
    else
        rc=$?
        say "$name: FAILED, exit $rc ($(( $(now) - s ))s); the end of $work/$name.log:"
        grep -v '^Attempted to remove disk file system under' "$work/$name.log" \
            | tail -n 60 | sed 's/^/    /'
        exit 1
    fi
}

# a shell command in the root, as root in /root/memdb; $1: "net" (this
# machine's network) or "private" (a loopback of its own)
in_root() {
    case $1 in
    net) private="" ;;
    private) private=--private-network ;;
    esac
    shift
    systemd-nspawn --quiet --register=no --keep-unit --as-pid2 --pipe \
        -D "$root" -M "$machine" --chdir=/root/memdb $private "$@"
}

# 1. root
step root "$here/mkroot.sh" $mkroot_flags "$root"
sed 's/^mkroot: /    /' "$work/root.log"

# 2. checkout
checkout() {
    git -C "$repo" archive --format=tar --prefix=memdb/ -o "$work/memdb.tar" \
        "$commit" \
        && tar -C "$root/root" -xf "$work/memdb.tar" \
        && rm -f "$work/memdb.tar" \
        && echo "$commit"
}
step checkout checkout
say "commit $(git -C "$repo" log -1 --format='%h %s' "$commit")"

# 3. deps (a commit older than "./bootstrap deps": ./bootstrap build)
deps=deps
grep -q '^deps)' "$root/root/memdb/bootstrap" || deps=build
step deps in_root net ./bootstrap $deps

# 4. run.  The check runs in the root, next to memdbd, and prints what it
# got; memdbd's own output is in /root/run.log there.
run_check='
log=/root/run.log
./bootstrap run > $log 2>&1 &
pid=$!
fail() { echo "--- ./bootstrap run:"; cat $log; echo "run: $*"; exit 1; }
t0=$(date +%s)
until curl -s -m 5 -o /dev/null http://127.0.0.1:9889/healthz; do
    kill -0 $pid 2>/dev/null || { wait $pid; fail "exited $? before serving"; }
    n=$(( $(date +%s) - t0 ))
    [ $n -le '"$RUN_TIMEOUT"' ] || fail "no answer on 127.0.0.1:9889 after ${n}s"
    sleep 1
done
echo "run: serving after $(( $(date +%s) - t0 ))s (build included)"
up=$(curl -s -m 10 --data-binary "the cat" http://127.0.0.1:9889/api/v1/upload)
echo "run: upload: $up"
case $up in *"\"words\":2"*) ;; *) fail "unexpected upload answer" ;; esac
wc=$(curl -s -m 10 "http://127.0.0.1:9889/api/v1/wordcount?word=the&word=cat")
echo "run: wordcount: $wc"
[ "$wc" = "{\"the\":1,\"cat\":1}" ] || fail "unexpected wordcount answer"
kill -TERM $pid
( sleep 60; kill -KILL $pid 2>/dev/null ) &
watchdog=$!
rc=0
wait $pid || rc=$?
kill $watchdog 2>/dev/null
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM (137: did not stop within 60 s)"
echo "run: stopped on SIGTERM, exit status 0"
! curl -s -m 5 -o /dev/null http://127.0.0.1:9889/healthz || fail "still answering"
sleep 1
left=$(grep -lx memdbd /proc/[0-9]*/comm 2>/dev/null)
[ -z "$left" ] || fail "memdbd processes left: $left"
echo "--- ./bootstrap run:"
cat $log
'
step run in_root private /bin/sh -c "$run_check"
grep '^run: ' "$work/run.log" | sed 's/^run: /    /'

# 5. test: its last line is the summary, on failure too
s=$(now)
say "test ..."
rc=0
in_root private timeout --kill-after=30 $TEST_TIMEOUT ./bootstrap test \
    > "$work/test.log" 2>&1 || rc=$?
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/test.log" | tail -n 1)
if [ $rc -eq 0 ] && echo "$summary" | grep -q ' 0 failed$'; then
    say "test: ok ($(( $(now) - s ))s)"
    # what this machine did not have (no npm: no contract and docs tests)
    grep '^SKIP: ' "$work/test.log" | sed 's/^/    /' || true
    passed=1
else
    say "test: FAILED, exit $rc ($(( $(now) - s ))s); the end of $work/test.log:"
    grep -v '^Attempted to remove disk file system under' "$work/test.log" \
        | grep -vE '^[0-9]+ passed, [0-9]+ failed$' | tail -n 60 | sed 's/^/    /'
fi
say "total: $(( $(now) - t0 ))s"
echo "${summary:-0 passed, 1 failed}"
[ $passed = 1 ]

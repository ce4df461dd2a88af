#!/bin/sh
# tests/fresh/mkroot.sh - a fresh Debian 12 root file system, built once
# and cached.
#
#   tests/fresh/mkroot.sh [--systemd] [--include PKG,...] [--rebuild] ROOT
#
# Fills the directory ROOT (created; must be empty) with what
# "debootstrap --variant=minbase bookworm ROOT" makes, i.e. a Debian 12
# with only its required packages: no compiler, no curl, no systemd.  That
# is the "fresh machine" the README's quick start must work on
# (tests/fresh/newcomer.sh runs it there).
#
#   --systemd        also install systemd systemd-sysv dbus, for a root
#                    that boots (systemd-nspawn -D ROOT -b --register=no
#                    --keep-unit)
#   --include P,...  also install these packages
#   --rebuild        build again even if the cache has this root
#
# The first run for a package list debootstraps (a few minutes) and saves
# the root as a tarball in the cache; later runs only unpack it (seconds).
# The tarball's name carries a hash of the suite, variant, architecture,
# package list and RECIPE below: a different list is another tarball, and
# changing what this script does to a root means bumping RECIPE.  The root
# is not upgraded when it is unpacked (the quick start runs apt-get update
# itself); --rebuild makes a new one from today's archive.
#
# Environment:
#   MEMDB_CI_CACHE   the cache directory (default /var/cache/memdb-ci)
#
# The Debian mirror is the one apt uses on this machine, read at run time
# from its configuration (apt-get indextargets), and the root's
# sources.list names that same mirror for bookworm, bookworm-updates and
# bookworm-security (those of them this machine uses).  Needs root, and
# debootstrap (installed with apt-get when missing).  Concurrent runs for
# the same package list wait for each other (flock).
set -eu

SUITE=bookworm
VARIANT=minbase
# What this script does to a root besides debootstrap: bump it when that
# changes, so that cached roots made the old way are not used.
RECIPE=2
SYSTEMD_PKGS="systemd systemd-sysv dbus"

cache=${MEMDB_CI_CACHE:-/var/cache/memdb-ci}
extra=""
rebuild=0
root=""

usage() {
    echo "usage: $0 [--systemd] [--include PKG,...] [--rebuild] ROOT" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --systemd) extra="$extra $SYSTEMD_PKGS" ;;
    --include) [ $# -ge 2 ] || usage
               extra="$extra $(echo "$2" | tr ',' ' ')"; shift ;;
    --include=*) extra="$extra $(echo "${1#*=}" | tr ',' ' ')" ;;
    --rebuild) rebuild=1 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
               exit 0 ;;
    -*) usage ;;
    *) [ -z "$root" ] || usage; root=$1 ;;
    esac
    shift
done
[ -n "$root" ] || usage

if [ "$(id -u)" != 0 ]; then
    echo "mkroot: needs root (debootstrap, and a root owned by root)" >&2
    exit 1
fi

say() { echo "mkroot: $*" >&2; }
now() { date +%s; }

mkdir -p "$root"
if [ -n "$(ls -A "$root")" ]; then
    say "$root is not empty"
    exit 1
fi
root=$(cd "$root" && pwd)

# the package list, one name a line, sorted: the cache key
pkgs=$(for p in $extra; do echo "$p"; done | sort -u)
arch=$(dpkg --print-architecture)
key=$(printf 'suite=%s variant=%s arch=%s recipe=%s\n%s\n' \
      "$SUITE" "$VARIANT" "$arch" "$RECIPE" "$pkgs" \
      | sha256sum | cut -c1-16)
name="$SUITE-$VARIANT-$arch-$key"
# tar picks the compression from the name (-a), and finds it when unpacking
if command -v zstd >/dev/null 2>&1; then
    tarball="$cache/$name.tar.zst"
else
    tarball="$cache/$name.tar.gz"
fi
tmp="$cache/$name.tmp.tar.${tarball##*.tar.}"
# --numeric-owner: the uids of the root's own passwd, not this machine's;
# extended attributes for file capabilities
tarx() { tar --numeric-owner --xattrs --xattrs-include='*' "$@"; }

mkdir -p "$cache"
# one build per key at a time; an unpack waits for a build in progress
exec 9>"$cache/$name.lock"
flock 9

if [ $rebuild = 0 ] && [ -f "$tarball" ]; then
    s=$(now)
    tarx -C "$root" -xpf "$tarball"
    say "unpacked cached $tarball: $(( $(now) - s ))s"
    exit 0
fi

# The Debian archives apt uses here, as "URI SUITE" lines, from apt itself
# (one-line and deb822 sources alike, disabled files left out).
repos=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(ORIGIN)' \
        | awk '$3 == "Debian" { sub("/$", "", $1); print $1, $2 }' | sort -u)
mirror=$(echo "$repos" | awk -v s="$SUITE" '$2 == s { print $1; exit }')
if [ -z "$mirror" ]; then
    say "apt on this machine has no Debian $SUITE archive (apt-get indextargets);"
    say "configure one in /etc/apt/sources.list.d/ and run apt-get update"
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends debootstrap >/dev/null
fi

include=$(echo $pkgs | tr ' ' ',')
s=$(now)
say "debootstrap --variant=$VARIANT ${include:+--include=$include }$SUITE $root $mirror"
if ! debootstrap --variant="$VARIANT" ${include:+--include="$include"} \
        "$SUITE" "$root" "$mirror" > "$cache/$name.debootstrap.log" 2>&1; then
    tail -n 20 "$cache/$name.debootstrap.log" >&2
    say "debootstrap failed (log: $cache/$name.debootstrap.log)"
    exit 1
fi
say "debootstrap: $(( $(now) - s ))s"

# What a Debian installer would leave: the suite, its updates and its
# security archive (those this machine uses), from the same mirror.
{
    echo "# written by memdb's tests/fresh/mkroot.sh from the host's apt sources"
    for s in "$SUITE" "$SUITE-updates" "$SUITE-security"; do
        echo "$repos" | awk -v s="$s" '$2 == s { print "deb", $1, s, "main" }'
    done
} > "$root/etc/apt/sources.list"
# the downloaded .debs; and the host's name (debootstrap copies it)
chroot "$root" apt-get clean
rm -f "$root/etc/hostname"
# Every root unpacked from the cache must not have the same machine id
# (systemd's postinst makes one): empty, as in Debian's cloud images, so
# that each boot makes its own.  dbus falls back to /etc/machine-id.
if [ -e "$root/etc/machine-id" ]; then
    : > "$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
fi

s=$(now)
tarx -C "$root" -caf "$tmp" .
mv -f "$tmp" "$tarball"
{
    echo "root: debootstrap --variant=$VARIANT $SUITE (recipe $RECIPE), $arch"
    echo "built: $(date -u '+%Y-%m-%d %H:%M:%S UTC') from $mirror"
    echo "extra packages: $(echo $pkgs)"
} > "$cache/$name.txt"
say "cached $tarball ($(du -h "$tarball" | cut -f1)): $(( $(now) - s ))s"

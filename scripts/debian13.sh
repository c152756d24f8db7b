#!/usr/bin/env bash
# Runs a command inside a Debian 13 ("trixie") root, with this checkout mounted at /lira
# and the command started there: how CI builds and tests lira against libtorch 2.6 on a
# Debian 12 machine, and how a developer reproduces it.
#
#   scripts/debian13.sh [--fresh] [--root DIR] [--] COMMAND [ARG...]
#   scripts/debian13.sh -- bash scripts/quickstart.sh     # the README's quickstart on Debian 13
#   scripts/debian13.sh -- bash scripts/test.sh           # the README's test command on Debian 13
#
# The root (default /var/tmp/lira-debian13, or $LIRA_DEBIAN13_ROOT) is made with
# debootstrap when it does not exist yet and kept for the next call; --fresh removes it
# first. Packages downloaded for it (debootstrap's and apt's) are kept in
# ${LIRA_PKG_CACHE:-/var/cache/lira}/trixie so that a second root on the same machine
# downloads only the package lists; nothing depends on that cache being there. The mirror is the one this
# machine's apt uses for Debian (or $LIRA_DEBIAN_MIRROR).
#
# Inside, /sys and /dev are the host's (bind mounts) and /proc a new proc mount, all
# unmounted when the script exits (not after a SIGKILL: the next call's --fresh unmounts
# what is left); the root is never removed while anything is mounted in it, and only a
# root this script made is removed. One call uses a root at a time ($root.lock). Needs root
# (debootstrap, chroot, mount) and the debootstrap package, which it installs on Debian.
# Build outputs go where the command puts them in the checkout: use a build folder of
# its own (BUILD_DIR=build-debian13, the default here) so the host's build/ is untouched.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${LIRA_DEBIAN13_ROOT:-/var/tmp/lira-debian13}
cache=${LIRA_PKG_CACHE:-/var/cache/lira}/trixie
fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) fresh=1; shift ;;
    --root) root=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "debian13.sh: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "debian13.sh: no command given; e.g. scripts/debian13.sh -- bash scripts/test.sh" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "debian13.sh: needs root (debootstrap, chroot and mount)" >&2; exit 1; }
# The root as /proc/self/mounts spells it (absolute, no trailing slash, no symlinks): the
# mount bookkeeping below compares paths as text.
[ -n "$root" ] || { echo "debian13.sh: empty root folder" >&2; exit 2; }
root=$(realpath -m -- "$root")
cache=$(realpath -m -- "$cache")
contains() { [ "$1" = / ] || [ "$2" = "$1" ] || [ "${2#"$1"/}" != "$2" ]; }  # is $2 at or below $1?
case "$root" in /|/usr|/usr/*|/var|/var/tmp|/var/cache|/tmp|/home|/root|/etc|/opt|/srv|/work)
  echo "debian13.sh: refusing root folder '$root'" >&2; exit 2 ;; esac
if contains "$root" "$repo" || contains "$repo" "$root" || contains "$root" "$cache" || contains "$cache" "$root"; then
  echo "debian13.sh: the root folder '$root' may not hold, or lie inside, the checkout or the package cache" >&2; exit 2
fi
mkdir -p "$(dirname "$root")"
# One user of a root at a time: a second call waits (its mounts and --fresh would pull the
# first one's filesystem away).
exec 9>"$root.lock"
flock -n 9 || { echo "debian13.sh: $root is in use by another debian13.sh; waiting for it"; flock 9; }

mounted_under() {  # prints the mount points at or below $1, deepest first
  awk -v r="$1" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r
}
unmount_all() {
  local m
  for m in $(mounted_under "$root"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
trap unmount_all EXIT

if [ "$fresh" = 1 ] && [ -e "$root" ]; then
  unmount_all
  if [ -n "$(mounted_under "$root")" ]; then
    echo "debian13.sh: something is still mounted under $root; not removing it" >&2; exit 1
  fi
  # Only a folder this script made (its marker) or a Debian root (an earlier version's).
  if [ ! -e "$root/.lira-debian13-root" ] && ! { [ -f "$root/etc/debian_version" ] && [ -x "$root/usr/bin/apt-get" ]; }; then
    echo "debian13.sh: $root is not a Debian root made by this script; not removing it" >&2; exit 1
  fi
  rm -rf --one-file-system "$root"
fi

if [ ! -x "$root/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }; }
  mirror=${LIRA_DEBIAN_MIRROR:-}
  if [ -z "$mirror" ]; then  # the URI this machine's apt uses for Debian's main archive
    mirror=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n 1 || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($i !~ /security/) { print $i; exit } break } }' \
                                   /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$mirror" ] || { echo "debian13.sh: no Debian mirror found in /etc/apt; set LIRA_DEBIAN_MIRROR" >&2; exit 1; }
  echo "debian13.sh: making a Debian 13 root in $root from $mirror"
  rm -rf --one-file-system "$root.partial"
  mkdir -p "$cache/debootstrap"
  debootstrap --variant=minbase --components=main,contrib,non-free --cache-dir="$cache/debootstrap" \
    trixie "$root.partial" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -n 30 "$root.debootstrap.log" >&2; echo "debian13.sh: debootstrap failed (log: $root.debootstrap.log)" >&2; exit 1; }
  touch "$root.partial/.lira-debian13-root"
  mv "$root.partial" "$root"
fi

cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"  # this machine's own name resolves inside too (munge, Slurm)
mkdir -p "$root/lira" "$cache/apt/partial"
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind "$cache/apt" "$root/var/cache/apt/archives"
mount --bind "$repo" "$root/lira"
# Keep apt's downloads (the cache above), and tell git the bind-mounted checkout is ours.
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/10lira-keep-debs"
printf '[safe]\n\tdirectory = /lira\n' >"$root/root/.gitconfig"

rc=0
chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  CI="${CI:-}" BUILD_DIR="${BUILD_DIR:-build-debian13}" BUILD_TYPE="${BUILD_TYPE:-Release}" \
  CMAKE_ARGS="${CMAKE_ARGS:-}" ASAN_BUILD_DIR=build-debian13-asan FUZZ_BUILD_DIR=build-debian13-fuzz \
  bash -c 'cd /lira && exec "$@"' debian13 "$@" 9>&- || rc=$?  # the lock stays here, not with daemons started inside
exit $rc

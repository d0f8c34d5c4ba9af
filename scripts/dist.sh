#!/usr/bin/env bash
# Release archives as the orb's install command expects them:
#   dist/v<version>/stevedore-<target>.tar.gz (holding stevedore-<target>/stevedore),
#   a .sha256 beside each, and one SHA256SUMS.
# Targets: $DIST_TARGETS (space-separated), default this machine's static Linux target. The
# project's CircleCI pipeline builds all four release targets on their own executors.
# $DIST_SKIP_BUILD=1 packs binaries already built, from $DIST_TARGET_DIR (default target) into
# $DIST_DIR (default dist): tests/orb/dist.bats does so with each kind of tar.
# $DIST_BINARY packs that binary as this machine's target's, built by nobody here: `make test`
# packs its one debug build (stripped) into target/test-dist for the orb's end-to-end tests,
# rather than building the same code a second time as a static release.
#
# Byte-for-byte reproducible on Linux and macOS alike: the archive is written by
# scripts/archive.py (fixed order, times, owners and modes; gzip without a timestamp), because
# GNU tar and macOS's bsdtar cannot be made to write the same bytes (their ustar headers format
# numbers differently, and bsdtar has no --sort or --mtime). The machine's own `tar` then lists
# the archive, as the install command will read it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(bash scripts/version.sh)
host_arch=$(uname -m)
targets=${DIST_TARGETS:-${host_arch/arm64/aarch64}-unknown-linux-musl}
out=${DIST_DIR:-dist}/v$version
mkdir -p "$out"

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

for target in $targets; do
  binary=${DIST_TARGET_DIR:-target}/$target/release/stevedore
  if [ -n "${DIST_BINARY:-}" ]; then
    binary=$out/.stevedore-$target
    objcopy --strip-debug "$DIST_BINARY" "$binary"
  elif [ "${DIST_SKIP_BUILD:-}" != 1 ]; then
    case $target in
      *-linux-musl) rustup target list --installed | grep -qx "$target" || rustup target add "$target" ;;
    esac
    cargo build --release --locked -p stevedore --target "$target"
  fi
  archive=$out/stevedore-$target.tar.gz
  python3 scripts/archive.py "$binary" "stevedore-$target/stevedore" "$archive"
  [ -z "${DIST_BINARY:-}" ] || rm -f "$binary"
  listing=$(tar -tzf "$archive")
  if [ "$listing" != "stevedore-$target/"$'\n'"stevedore-$target/stevedore" ]; then
    echo "dist: $(command -v tar) lists $archive as: $listing" >&2
    exit 1
  fi
  (cd "$out" && sha256 "stevedore-$target.tar.gz" >"stevedore-$target.tar.gz.sha256")
  echo "dist: $archive"
done
(cd "$out" && cat ./*.tar.gz.sha256 | sort -k2 >SHA256SUMS)
echo "dist: $out/SHA256SUMS"
cat "$out/SHA256SUMS"

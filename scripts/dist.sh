#!/usr/bin/env bash
# Release archives as the orb's install command expects them:
#   dist/v<version>/stevedore-<target>.tar.gz (holding stevedore-<target>/stevedore),
#   a .sha256 beside each, and one SHA256SUMS.
# Targets: $DIST_TARGETS (space-separated), default this machine's static Linux target. The
# project's CircleCI pipeline builds all four release targets on their own executors.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(bash scripts/version.sh)
host_arch=$(uname -m)
targets=${DIST_TARGETS:-${host_arch/arm64/aarch64}-unknown-linux-musl}
out=dist/v$version
mkdir -p "$out"
for target in $targets; do
  case $target in
    *-linux-musl) rustup target list --installed | grep -qx "$target" || rustup target add "$target" ;;
  esac
  cargo build --release --locked -p stevedore --target "$target"
  stage=$(mktemp -d)
  mkdir "$stage/stevedore-$target"
  cp "target/$target/release/stevedore" "$stage/stevedore-$target/stevedore"
  # Byte-for-byte reproducible: fixed order, times and owners, no gzip timestamp.
  tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "stevedore-$target" |
    gzip -n -9 >"$out/stevedore-$target.tar.gz"
  rm -rf "$stage"
  (cd "$out" && sha256sum "stevedore-$target.tar.gz" >"stevedore-$target.tar.gz.sha256")
  echo "dist: $out/stevedore-$target.tar.gz"
done
(cd "$out" && cat ./*.tar.gz.sha256 | sort -k2 >SHA256SUMS)
echo "dist: $out/SHA256SUMS"
cat "$out/SHA256SUMS"

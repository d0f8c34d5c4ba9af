#!/usr/bin/env bash
# Install the stevedore release binary for this machine, verified against the SHA-256 checksums
# the packed orb carries. Fails closed: no checksum, a mismatch or no checksum tool stop the job.
set -euo pipefail

# Filled in by the orb packer (make orb); left as they are in the orb's source.
ORB_VERSION="@@STEVEDORE_VERSION@@"
ORB_CHECKSUMS="@@STEVEDORE_SHA256SUMS@@"
DEFAULT_BASE_URL="https://github.com/stevedore-ci/stevedore/releases/download"

fail() {
  echo "stevedore install: $*" >&2
  exit 1
}

case $ORB_VERSION in @@*) ORB_VERSION="" ;; esac
case $ORB_CHECKSUMS in @@*) ORB_CHECKSUMS="" ;; esac

# The release target of this machine; Rosetta's x86_64 on Apple silicon gets the native binary.
detect_target() {
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case $os in
    Linux) os=unknown-linux-musl ;;
    Darwin)
      os=apple-darwin
      if [ "$arch" = x86_64 ]; then
        translated=$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)
        [ "$translated" != 1 ] || arch=arm64
      fi
      ;;
    *) fail "unsupported operating system '$os': stevedore is released for Linux and macOS" ;;
  esac
  case $arch in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) fail "unsupported CPU '$arch': stevedore is released for x86_64 and arm64" ;;
  esac
  echo "$arch-$os"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else
    return 1
  fi
}

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --retry-connrefused -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -t 3 -O "$2" "$1"
  else
    fail "neither curl nor wget is installed: add one to the executor's image"
  fi
}

version=${STEVEDORE_INSTALL_VERSION:-}
version=${version:-$ORB_VERSION}
version=${version#v}
[ -n "$version" ] || fail "no version to install: this orb was not packed with one; set version"
checksums=${STEVEDORE_INSTALL_CHECKSUMS:-}
if [ -z "$checksums" ]; then
  [ "$version" = "$ORB_VERSION" ] ||
    fail "version $version is not this orb's (${ORB_VERSION:-none}):" \
      "pass its SHA256SUMS lines in the checksums parameter"
  checksums=$ORB_CHECKSUMS
fi
dir=${STEVEDORE_INSTALL_DIR:-$HOME/.stevedore/bin}
target=$(detect_target)
archive="stevedore-$target.tar.gz"

add_to_path() {
  case ":$PATH:" in *":$dir:"*) return 0 ;; esac
  if [ -n "${BASH_ENV:-}" ]; then
    # $PATH is expanded by the later steps' shells, not now.
    # shellcheck disable=SC2016
    printf 'export PATH=%q:"$PATH"\n' "$dir" >>"$BASH_ENV"
  fi
}

installed=""
[ -x "$dir/stevedore" ] && installed=$("$dir/stevedore" --version 2>/dev/null || true)
if [ "$installed" = "stevedore $version" ]; then
  echo "stevedore $version is installed already in $dir"
  add_to_path
  exit 0
fi

expected=$(printf '%s\n' "$checksums" | awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }')
[ -n "$expected" ] || fail "no checksum for $archive in this orb: no stevedore $version for $target"
sha256_of /dev/null >/dev/null ||
  fail "no SHA-256 tool (sha256sum, shasum or openssl) to verify the download: add one to the image"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=${STEVEDORE_DOWNLOAD_BASE_URL:-$DEFAULT_BASE_URL}
url="${base%/}/v$version/$archive"
echo "Downloading $url"
download "$url" "$tmp/$archive" || fail "could not download $url"
actual=$(sha256_of "$tmp/$archive")
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $archive: expected $expected, got $actual; refusing to install it"
fi
tar -xzf "$tmp/$archive" -C "$tmp"
[ -f "$tmp/stevedore-$target/stevedore" ] || fail "$archive does not hold stevedore-$target/stevedore"
if ! mkdir -p "$dir" 2>/dev/null || ! [ -w "$dir" ]; then
  command -v sudo >/dev/null 2>&1 || fail "cannot write to $dir: choose another install_dir"
  sudo mkdir -p "$dir"
  sudo install -m 0755 "$tmp/stevedore-$target/stevedore" "$dir/stevedore"
else
  install -m 0755 "$tmp/stevedore-$target/stevedore" "$dir/stevedore"
fi
add_to_path
echo "Installed $("$dir/stevedore" --version) for $target in $dir (sha256 $actual verified)"

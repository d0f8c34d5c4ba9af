#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine: Debian packages, the static musl
# Rust target for release archives, a Python venv with moto (a third-party AWS emulator used as a
# cross-check) and the orb's linters, and nothing else by hand.
# Idempotent and quick when everything is already there.
# Needs: Debian (apt-get), root or sudo for the packages, rustup, and network access to Debian's
# package mirrors, crates.io and PyPI. python3-venv is installed too: stock Debian's python3
# cannot make a venv without it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-deps: installing Debian packages needs root or sudo: run \`sudo apt-get install ${missing[*]}\` once, then this again" >&2
    exit 1
  fi
}

apt_packages=(shellcheck docker-registry skopeo apache2-utils busybox-static bats bats-assert bats-support
  musl-tools python3-venv libarchive-tools chromium binutils)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

musl_target="$(uname -m | sed s/arm64/aarch64/)-unknown-linux-musl"
if ! rustup target list --installed | grep -qx "$musl_target"; then
  echo "install-deps: rustup target add $musl_target"
  rustup target add "$musl_target"
fi

requirements=scripts/requirements-test.txt
stamp=.venv/.installed-$(sha256sum "$requirements" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "install-deps: python venv from $requirements"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

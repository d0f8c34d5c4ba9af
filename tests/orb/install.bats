#!/usr/bin/env bats
# The orb's install script, as packed: platform detection, checksums, reuse.

load helpers

TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin"

setup() {
  T=$BATS_TEST_TMPDIR
  mkdir -p "$T/dl/v1.2.3" "$T/home" "$T/stubs"
  for target in $TARGETS; do
    mkdir -p "$T/build/stevedore-$target"
    printf '#!/bin/sh\necho "stevedore 1.2.3"\n# %s\n' "$target" >"$T/build/stevedore-$target/stevedore"
    chmod +x "$T/build/stevedore-$target/stevedore"
    tar -C "$T/build" -czf "$T/dl/v1.2.3/stevedore-$target.tar.gz" "stevedore-$target"
  done
  (cd "$T/dl/v1.2.3" && sha256sum ./*.tar.gz | sed 's| \./| |' >SHA256SUMS)
  "$PY" "$ROOT/scripts/orbtool.py" pack --src "$ROOT/orb/src" --version 1.2.3 \
    --checksums "$T/dl/v1.2.3/SHA256SUMS" -o "$T/orb.yml" >/dev/null
  packed_script "$T/orb.yml" install "$T/install.sh"
  # uname and sysctl answer what each test says.
  printf '#!/bin/sh\ncase "$1" in -s) echo "$FAKE_OS";; -m) echo "$FAKE_ARCH";; esac\n' >"$T/stubs/uname"
  printf '#!/bin/sh\necho "${FAKE_TRANSLATED:-0}"\n' >"$T/stubs/sysctl"
  chmod +x "$T/stubs/uname" "$T/stubs/sysctl"
  export HOME=$T/home BASH_ENV=$T/bash_env PATH="$T/stubs:$PATH"
  export STEVEDORE_DOWNLOAD_BASE_URL="file://$T/dl" FAKE_OS=Linux FAKE_ARCH=x86_64
  : >"$BASH_ENV"
}

@test "Linux x86_64 gets the static x86_64 binary, on PATH for later steps" {
  run bash "$T/install.sh"
  assert_success
  assert_output --partial "Installed stevedore 1.2.3 for x86_64-unknown-linux-musl"
  run "$HOME/.stevedore/bin/stevedore" --version
  assert_output "stevedore 1.2.3"
  grep -q '# x86_64-unknown-linux-musl' "$HOME/.stevedore/bin/stevedore"
  run bash -c "source '$BASH_ENV'; command -v stevedore"
  assert_output "$HOME/.stevedore/bin/stevedore"
}

@test "platforms map to release targets, Rosetta to the native arm64 binary" {
  for case in "Linux aarch64 0 aarch64-unknown-linux-musl" "Linux arm64 0 aarch64-unknown-linux-musl" \
    "Darwin arm64 0 aarch64-apple-darwin" "Darwin x86_64 0 x86_64-apple-darwin" \
    "Darwin x86_64 1 aarch64-apple-darwin" "Linux amd64 0 x86_64-unknown-linux-musl"; do
    read -r FAKE_OS FAKE_ARCH FAKE_TRANSLATED want <<<"$case"
    export FAKE_OS FAKE_ARCH FAKE_TRANSLATED
    rm -rf "$HOME/.stevedore"
    run bash "$T/install.sh"
    assert_success
    assert_output --partial "for $want in"
    grep -q "# $want" "$HOME/.stevedore/bin/stevedore"
  done
}

@test "an unsupported platform is refused by name" {
  FAKE_OS=FreeBSD run bash "$T/install.sh"
  assert_failure
  assert_output --partial "unsupported operating system 'FreeBSD'"
  FAKE_ARCH=riscv64 run bash "$T/install.sh"
  assert_failure
  assert_output --partial "unsupported CPU 'riscv64'"
}

@test "a checksum mismatch fails closed and installs nothing" {
  echo tampered >>"$T/dl/v1.2.3/stevedore-x86_64-unknown-linux-musl.tar.gz"
  run bash "$T/install.sh"
  assert_failure
  assert_output --partial "checksum mismatch for stevedore-x86_64-unknown-linux-musl.tar.gz"
  assert_output --partial "refusing to install it"
  [ ! -e "$HOME/.stevedore/bin/stevedore" ]
}

@test "no checksum tool fails closed before downloading" {
  mkdir -p "$T/bare"
  for tool in bash sh awk cut mktemp tar gzip curl rm mkdir install cat sed dirname; do
    ln -s "$(command -v "$tool")" "$T/bare/$tool"
  done
  ln -s "$T/stubs/uname" "$T/bare/uname"
  PATH="$T/bare" run bash "$T/install.sh"
  assert_failure
  assert_output --partial "no SHA-256 tool (sha256sum, shasum or openssl)"
  refute_output --partial "Downloading"
  [ ! -e "$HOME/.stevedore/bin/stevedore" ]
}

@test "a target without a checksum in the orb is refused" {
  grep -v aarch64-apple-darwin "$T/dl/v1.2.3/SHA256SUMS" >"$T/sums"
  "$PY" "$ROOT/scripts/orbtool.py" pack --src "$ROOT/orb/src" --version 1.2.3 --checksums "$T/sums" \
    -o "$T/orb2.yml" >/dev/null
  packed_script "$T/orb2.yml" install "$T/install2.sh"
  FAKE_OS=Darwin FAKE_ARCH=arm64 run bash "$T/install2.sh"
  assert_failure
  assert_output --partial "no checksum for stevedore-aarch64-apple-darwin.tar.gz in this orb"
}

@test "the installed version is reused without a download" {
  run bash "$T/install.sh"
  assert_success
  export STEVEDORE_DOWNLOAD_BASE_URL="file://$T/nowhere"
  : >"$BASH_ENV"
  run bash "$T/install.sh"
  assert_success
  assert_output "stevedore 1.2.3 is installed already in $HOME/.stevedore/bin"
  grep -q '.stevedore/bin' "$BASH_ENV"
}

@test "another version needs its own checksums; the unpacked source refuses to guess" {
  STEVEDORE_INSTALL_VERSION=9.9.9 run bash "$T/install.sh"
  assert_failure
  assert_output --partial "version 9.9.9 is not this orb's (1.2.3)"
  assert_output --partial "checksums parameter"
  run bash "$ROOT/orb/src/scripts/install.sh"
  assert_failure
  assert_output --partial "this orb was not packed with one; set version"
}

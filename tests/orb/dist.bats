#!/usr/bin/env bats
# scripts/dist.sh writes the same archive bytes whichever tar the machine has: GNU tar (Linux)
# or bsdtar (macOS's tar; Debian's libarchive-tools here), and that tar reads the archive back.

load helpers

setup() {
  BIN=$BATS_TEST_TMPDIR/target/test-target/release
  mkdir -p "$BIN" "$BATS_TEST_TMPDIR/bsd"
  head -c 300000 /dev/urandom >"$BIN/stevedore"
  chmod 0700 "$BIN/stevedore" # the archive's modes must not depend on the build's umask
  ln -s "$(command -v bsdtar)" "$BATS_TEST_TMPDIR/bsd/tar"
}

dist() {
  DIST_SKIP_BUILD=1 DIST_TARGETS=test-target DIST_TARGET_DIR=$BATS_TEST_TMPDIR/target \
    DIST_DIR=$BATS_TEST_TMPDIR/$1 bash "$ROOT/scripts/dist.sh"
}

@test "dist.sh writes byte-identical archives with GNU tar and with bsdtar as tar" {
  run tar --version
  assert_output --partial "GNU tar"
  run dist gnu
  assert_success
  PATH=$BATS_TEST_TMPDIR/bsd:$PATH run tar --version
  assert_output --partial "bsdtar"
  PATH=$BATS_TEST_TMPDIR/bsd:$PATH run dist bsd
  assert_success
  version=$(bash "$ROOT/scripts/version.sh")
  a=$BATS_TEST_TMPDIR/gnu/v$version/stevedore-test-target.tar.gz
  b=$BATS_TEST_TMPDIR/bsd/v$version/stevedore-test-target.tar.gz
  cmp "$a" "$b"
  cmp "$BATS_TEST_TMPDIR/gnu/v$version/SHA256SUMS" "$BATS_TEST_TMPDIR/bsd/v$version/SHA256SUMS"
  # What is inside: the binary, unchanged, executable, owned by 0 with a fixed time.
  run bsdtar -tvzf "$b"
  assert_line --regexp '^drwxr-xr-x +0 0 +0 +0 .* stevedore-test-target/$'
  assert_line --regexp '^-rwxr-xr-x +0 0 +0 +300000 .* stevedore-test-target/stevedore$'
  mkdir "$BATS_TEST_TMPDIR/x"
  tar -C "$BATS_TEST_TMPDIR/x" -xzf "$a"
  cmp "$BIN/stevedore" "$BATS_TEST_TMPDIR/x/stevedore-test-target/stevedore"
  # gzip header: no name, mtime 0 (bytes 4-7).
  run od -An -tx1 -N10 "$a"
  assert_output --regexp '^ 1f 8b 08 00 00 00 00 00 02'
}

@test "a second run writes the same bytes (reproducible)" {
  dist one
  dist two
  version=$(bash "$ROOT/scripts/version.sh")
  cmp "$BATS_TEST_TMPDIR/one/v$version/stevedore-test-target.tar.gz" "$BATS_TEST_TMPDIR/two/v$version/stevedore-test-target.tar.gz"
}

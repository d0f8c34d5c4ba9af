#!/usr/bin/env bash
# `make test`: every check in order, stopping at the first stage that fails, then a summary of
# what ran, how many tests passed and what was skipped and why. Logs: target/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
logs=target/test-logs
rm -rf "$logs"
mkdir -p "$logs"
summary=()
passed=0
failed=0
status=0

# Counts from cargo's "test result:" lines and bats' summary or TAP lines.
# A nextest log also holds libtest's "test result:" line of each failed test's captured output;
# its own summary line is the count there.
count() {
  local log=$1 p=0 f=0 i=0 np=0 nf=0 nextest=0 line
  while IFS= read -r line; do
    if [[ $line =~ test\ result:\ [a-zA-Z]+\.\ ([0-9]+)\ passed\;\ ([0-9]+)\ failed\;\ ([0-9]+)\ ignored ]]; then
      p=$((p + BASH_REMATCH[1])) f=$((f + BASH_REMATCH[2])) i=$((i + BASH_REMATCH[3]))
    elif [[ $line =~ Summary\ \[.*\]\ [0-9]+\ tests?\ run:\ ([0-9]+)\ passed ]]; then
      # cargo-nextest's summary: "N tests run: P passed (S slow), F failed, K skipped"
      nextest=1 np=$((np + BASH_REMATCH[1]))
      [[ $line =~ ,\ ([0-9]+)\ failed ]] && nf=$((nf + BASH_REMATCH[1]))
      [[ $line =~ ,\ ([0-9]+)\ timed\ out ]] && nf=$((nf + BASH_REMATCH[1]))
    elif [[ $line =~ ^([0-9]+)\ tests?,\ ([0-9]+)\ failures? ]]; then
      p=$((p + BASH_REMATCH[1] - BASH_REMATCH[2])) f=$((f + BASH_REMATCH[2]))
    elif [[ $line =~ ^ok\ [0-9]+\  ]]; then
      p=$((p + 1)) # bats' TAP output, off a terminal
    elif [[ $line =~ ^not\ ok\ [0-9]+\  ]]; then
      f=$((f + 1))
    fi
  done <"$log"
  if [ "$nextest" -eq 1 ]; then
    echo "$np $nf 0"
  else
    echo "$p $f $i"
  fi
}

# stage NAME COMMAND…: run it with its output shown and kept; record the outcome.
stage() {
  local name=$1 start end p f i
  shift
  if [ "$status" -ne 0 ]; then
    summary+=("$(printf '%-18s not run (an earlier stage failed)' "$name")")
    return
  fi
  echo "== make test: $name"
  start=$(date +%s)
  "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  end=$(date +%s)
  read -r p f i < <(count "$logs/$name.log")
  passed=$((passed + p)) failed=$((failed + f))
  local tests=""
  if [ $((p + f + i)) -gt 0 ]; then
    tests=", $p passed, $f failed"
    [ "$i" -gt 0 ] && tests+=", $i ignored"
  fi
  if [ "$rc" -eq 0 ]; then
    summary+=("$(printf '%-18s ok in %ss%s' "$name" $((end - start)) "$tests")")
  else
    status=$rc
    summary+=("$(printf '%-18s FAILED (exit %s) in %ss%s; log: %s' "$name" "$rc" $((end - start)) "$tests" "$logs/$name.log")")
  fi
}

# Each binary is built once, in the debug profile: the tests run it, and the orb's end-to-end
# tests install it from an archive packed as a release's (target/test-dist); the static release
# build is `make dist`'s (and the demo's), not the tests'.
test_dist=$PWD/target/test-dist
# The integration tests wait on sandboxes and child processes more than they compute: more
# at once than there are cores, each in its own process (cargo-nextest).
threads=${STEVEDORE_TEST_THREADS:-8}
# run_tests on|off all|scenarios: every test, or the sandbox's scenarios, with the sandbox's
# tasks run as containers (on) or simulated (off).
# shellcheck disable=SC2317 # called through `stage`
run_tests() {
  export STEVEDORE_SANDBOX_DOCKER=$1 STEVEDORE_TEST_DIST=$test_dist
  if [ -x .venv/bin/cargo-nextest ]; then
    # The scenarios by a filter over the same build, not by package (which would rebuild it).
    local only=()
    [ "$2" = scenarios ] && only=(-E 'package(stevedore-sandbox) & binary(it) & test(scenarios)')
    .venv/bin/cargo-nextest nextest run --no-fail-fast --test-threads "$threads" --workspace --all-targets "${only[@]}"
  elif [ "$2" = scenarios ]; then
    cargo test -p stevedore-sandbox --test it scenarios # no cargo-nextest wheel for this machine
  else
    cargo test --workspace --all-targets
  fi
}
stage lint make --no-print-directory lint
stage build cargo build --workspace --all-targets
stage test-dist env DIST_BINARY=target/debug/stevedore DIST_DIR="$test_dist" bash scripts/dist.sh
stage orb-check make --no-print-directory orb-check
stage unit+integration run_tests off all
if docker info >/dev/null 2>&1; then
  stage docker-scenarios run_tests on scenarios
else
  summary+=("$(printf '%-18s skipped: no Docker engine answers docker info (tasks were simulated only)' docker-scenarios)")
fi
echo
echo "== make test: summary"
printf '%s\n' "${summary[@]}"
echo "all stages: $passed passed, $failed failed, in $((SECONDS / 60)) min $((SECONDS % 60)) s"
exit "$status"

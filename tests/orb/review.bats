#!/usr/bin/env bats
# orbtool review: clean on the orb's source, and each rule catches the defect it is for.

load helpers

setup() {
  cp -r "$ROOT/orb/src" "$BATS_TEST_TMPDIR/src"
  SRC=$BATS_TEST_TMPDIR/src
}

review() {
  run "$PY" "$ROOT/scripts/orbtool.py" review --src "$SRC"
}

@test "the orb's source passes review" {
  review
  assert_success
  assert_output --partial "10 commands, 5 jobs, 2 executors, 9 examples: clean"
}

@test "each review rule catches its defect" {
  edit() { "$PY" -c "import sys; p=sys.argv[1]; s=open(p).read(); open(p,'w').write(s.replace(sys.argv[2], sys.argv[3], 1))" "$@"; }
  edit "$SRC/commands/ecr_login.yml" "description: >" "summary: >"                       # RC002
  edit "$SRC/commands/run_task.yml" $'default: 30m\n    description: >' $'default: 30m\n    x-note: >'
  edit "$SRC/commands/auth.yml" "      name: Get AWS credentials" ""                       # RC008
  edit "$SRC/commands/doctor.yml" "command: <<include(scripts/doctor.sh)>>" "command: stevedore doctor"  # RC009
  mv "$SRC/executors/machine.yml" "$SRC/executors/Machine.yml"                             # RC010
  edit "$SRC/@orb.yml" "description: >" $'description: Too short.\nlong_description: >'      # RC005
  edit "$SRC/commands/deploy_service.yml" "STEVEDORE_ROLLBACK: << parameters.rollback >>" "STEVEDORE_ROLLBACK: true"
  edit "$SRC/commands/install.yml" "<< parameters.install_dir >>" "<< parameters.install_directory >>"
  printf 'eval "$STEVEDORE_REPO"\n' >>"$SRC/scripts/ecr_login.sh"
  printf 'cat <<EOF\nEOF\n' >>"$SRC/scripts/run_task.sh"
  review
  assert_failure
  assert_output --partial "RC002: commands/ecr_login has no description"
  assert_output --partial "RC002: commands/run_task: parameter timeout has no description"
  assert_output --partial "RC008: commands/auth: a run step has no name"
  assert_output --partial "RC009: commands/doctor: run step 'Check the AWS set-up' should <<include(scripts/...)>>"
  assert_output --partial "RC010: executors/Machine: the name is not snake_case"
  assert_output --partial "RC005: the orb's description must be 64 characters or more"
  assert_output --partial "commands/deploy_service declares parameter rollback but never uses it"
  assert_output --partial "commands/install uses << parameters.install_directory >> but does not declare it"
  assert_output --partial "scripts/ecr_login.sh: uses eval"
  assert_output --partial "scripts/run_task.sh: contains '<<'"
  assert_output --partial "scripts/doctor.sh is not included by any command"
}

@test "RC104, RC006 and RC007: a waiting step without no_output_timeout, a display without URLs" {
  edit() { "$PY" -c "import sys; p=sys.argv[1]; s=open(p).read(); open(p,'w').write(s.replace(sys.argv[2], sys.argv[3], 1))" "$@"; }
  edit "$SRC/commands/deploy_service.yml" "      no_output_timeout: << parameters.timeout >>"$'\n' ""
  edit "$SRC/commands/run_task.yml" "no_output_timeout: << parameters.timeout >>" "no_output_timeout: 10m"
  edit "$SRC/@orb.yml" "  home_url: https://github.com/stevedore-ci/stevedore"$'\n' ""
  edit "$SRC/@orb.yml" "source_url: https://" "source_url: http://"
  review
  assert_failure
  assert_output --partial "RC104: commands/deploy_service: step 'Deploy to Amazon ECS' waits up to its timeout but sets no no_output_timeout"
  assert_output --partial "RC104: commands/run_task: step 'Run a one-off ECS task': no_output_timeout 10m is shorter than its timeout << parameters.timeout >>"
  assert_output --partial "RC007: display.home_url must be an https URL"
  assert_output --partial "RC006: display.source_url must be an https URL"
}

review_config() {
  run "$PY" "$ROOT/scripts/orbtool.py" review-config "$@"
}

@test "the project's CircleCI configs pass review-config" {
  review_config "$ROOT/.circleci/config.yml" "$ROOT/.circleci/test-deploy.yml"
  assert_success
  assert_output --partial "clean"
}

@test "review-config catches each defect of the configs as they were before issue 18" {
  # tests/orb/fixtures/*-before-18.yml: the project's configs as they were, which would have
  # failed on their first real CircleCI run.
  review_config "$ROOT/tests/orb/fixtures/config-before-18.yml" "$ROOT/tests/orb/fixtures/test-deploy-before-18.yml"
  assert_failure
  assert_output --partial "RC101: tests/orb/fixtures/config-before-18.yml: job dist_macos: resource class macos.m1.medium.gen1 is retired: M1 and M2 classes reached end of life on 2026-02-16; use m4pro.medium"
  assert_output --partial "RC102: tests/orb/fixtures/config-before-18.yml: workflow setup: jobs dist_linux_arm64 and dist_linux_x86_64 can run at the same time and both persist dist"
  assert_output --partial "RC102: tests/orb/fixtures/config-before-18.yml: workflow setup: jobs dist_linux_x86_64 and dist_macos can run at the same time and both persist dist"
  assert_output --partial "RC103: tests/orb/fixtures/config-before-18.yml: job pack_orb: step 'One SHA256SUMS for the four archives; pack, review and validate the dev orb' needs circleci-orb, which cimg/rust:1.85 does not have"
  assert_output --partial "needs python3-venv, which cimg/rust:1.85 does not have"
  assert_output --partial "RC103: tests/orb/fixtures/config-before-18.yml: job publish_dev: step 'This commit's binaries as a GitHub pre-release, and the dev orb that installs them' needs gh"
  assert_output --partial "RC103: tests/orb/fixtures/test-deploy-before-18.yml: job publish_release: step 'Release the binaries, then publish the production orb that installs them' needs gh"
  assert_output --partial "RC105: tests/orb/fixtures/config-before-18.yml: workflow setup: job lint runs for tag v1.2.3-dev.0123456789ab (filter /.*/)"
  assert_output --partial "RC105: tests/orb/fixtures/test-deploy-before-18.yml: workflow integration: job doctor runs for tag"
}

@test "review-config: RC104 on a wait without a long enough no_output_timeout, and unknown classes and images" {
  cfg=$BATS_TEST_TMPDIR/config.yml
  cat >"$cfg" <<'YAML'
version: 2.1
jobs:
  deploy:
    docker:
      - image: cimg/base:current
    resource_class: huge
    steps:
      - run:
          name: Deploy
          command: stevedore deploy --cluster c --service web --timeout 20m
      - run:
          name: Migrate
          no_output_timeout: 40m
          command: stevedore run-task --cluster c --task-definition m
  vm:
    machine:
      image: ubuntu-2004:current
    steps:
      - run:
          name: Migrate
          no_output_timeout: 20m
          command: stevedore run-task --cluster c --task-definition m
workflows:
  main:
    jobs: [deploy, vm]
YAML
  review_config "$cfg"
  assert_failure
  assert_output --partial "RC104: $cfg: job deploy: step 'Deploy' waits up to 1200 s but no_output_timeout is 10m (the default)"
  assert_output --partial "RC104: $cfg: job vm: step 'Migrate' waits up to 1800 s but no_output_timeout is 20m"
  refute_output --partial "job deploy: step 'Migrate'"
  assert_output --partial "RC101: $cfg: job deploy: resource class huge is not a docker class CircleCI offers"
  assert_output --partial "RC101: $cfg: job vm: machine image ubuntu-2004:current is retired"
}

@test "ci-pack.sh: one SHA256SUMS, the orb packed, validated and inlined in the continuation" {
  dist=$BATS_TEST_TMPDIR/dist
  version=$(bash "$ROOT/scripts/version.sh")
  mkdir -p "$dist/v$version"
  for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin; do
    echo "$t" >"$dist/v$version/stevedore-$t.tar.gz"
    (cd "$dist/v$version" && sha256sum "stevedore-$t.tar.gz" >"stevedore-$t.tar.gz.sha256")
  done
  STUBS=$BATS_TEST_TMPDIR/stubs STUB_LOG=$BATS_TEST_TMPDIR/log
  stub circleci
  export CIRCLE_SHA1=0123456789abcdef0123456789abcdef01234567 CIRCLE_WORKFLOW_JOB_ID=job-1
  PATH=$STUBS:$PATH DIST_DIR=$dist run bash "$ROOT/scripts/ci-pack.sh"
  assert_success
  assert_output --partial "ci-pack: orb $version-dev.0123456789ab packed with 4 archives"
  run cat "$STUB_LOG/circleci"
  assert_output "$(printf 'orb\nvalidate\n%s' "$dist/orb.yml")"
  run "$PY" - "$dist" "$version-dev.0123456789ab" <<'PYEOF'
import json, sys, yaml
dist, release = sys.argv[1:]
c = yaml.safe_load(open(f"{dist}/continue.yml"))
orb = c["orbs"]["stevedore"]
assert isinstance(orb, dict) and "install" in orb["commands"], "the orb is inlined"
install = yaml.safe_dump(orb["commands"]["install"])
assert release in install, "the inlined orb installs this commit's release"
for t in ("x86_64-unknown-linux-musl", "aarch64-apple-darwin"):
    assert f"stevedore-{t}.tar.gz" in install, t
p = json.load(open(f"{dist}/continue-parameters.json"))
assert p["release"] == release and p["dist_url"].endswith("/output/job/job-1/artifacts/0/release"), p
print("ok")
PYEOF
  assert_output "ok"
  [ -f "$dist/artifacts/v$version-dev.0123456789ab/SHA256SUMS" ]
  [ "$(wc -l <"$dist/v$version/SHA256SUMS")" -eq 4 ]
  # Three archives: refused before anything is packed.
  rm "$dist/v$version/stevedore-x86_64-apple-darwin.tar.gz" "$dist/orb.yml"
  PATH=$STUBS:$PATH DIST_DIR=$dist run bash "$ROOT/scripts/ci-pack.sh"
  assert_failure
  assert_output --partial "ci-pack: expected 4 archives in $dist/v$version (one per release target), found 3"
  [ ! -e "$dist/orb.yml" ]
}

@test "every parameter of the incumbent orbs has a home in stevedore or a reason in the migration guide" {
  run "$PY" "$ROOT/tests/orb/parity.py" "$ROOT/target/orb-check.yml" "$ROOT/target/debug/stevedore"
  assert_success
  assert_output --partial "parity: 308 incumbent parameters of 20 jobs and commands"
}

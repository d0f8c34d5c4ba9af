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
  assert_output --partial "7 commands, 3 jobs, 2 executors, 6 examples: clean"
}

@test "each review rule catches its defect" {
  edit() { "$PY" -c "import sys; p=sys.argv[1]; s=open(p).read(); open(p,'w').write(s.replace(sys.argv[2], sys.argv[3], 1))" "$@"; }
  edit "$SRC/commands/ecr_login.yml" "description: >" "summary: >"                       # RC002
  edit "$SRC/commands/run_task.yml" "    description: Give up waiting after this long (the step then fails)." ""
  edit "$SRC/commands/auth.yml" "      name: Get AWS credentials" ""                       # RC008
  edit "$SRC/commands/doctor.yml" "command: <<include(scripts/doctor.sh)>>" "command: stevedore doctor"  # RC009
  mv "$SRC/executors/machine.yml" "$SRC/executors/Machine.yml"                             # RC010
  edit "$SRC/@orb.yml" "description: >" $'description: Too short.\nlong_description: >'      # RC005
  edit "$SRC/commands/deploy_service.yml" "STEVEDORE_TIMEOUT: << parameters.timeout >>" "STEVEDORE_TIMEOUT: 1m"
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
  assert_output --partial "commands/deploy_service declares parameter timeout but never uses it"
  assert_output --partial "commands/install uses << parameters.install_directory >> but does not declare it"
  assert_output --partial "scripts/ecr_login.sh: uses eval"
  assert_output --partial "scripts/run_task.sh: contains '<<'"
  assert_output --partial "scripts/doctor.sh is not included by any command"
}

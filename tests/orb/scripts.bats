#!/usr/bin/env bats
# The orb's other scripts, with docker and stevedore stubbed: required parameters, values passed
# as single arguments (never through eval), and booleans as CircleCI hands them over (1/0).

load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  STUBS=$T/stubs STUB_LOG=$T/log
  stub docker
  stub stevedore
  export PATH="$STUBS:$PATH" BASH_ENV=$T/bash_env CIRCLE_SHA1=abc123 CIRCLE_BUILD_NUM=7
  : >"$BASH_ENV"
  S=$ROOT/orb/src/scripts
  cd "$T"
}

@test "build_and_push: an empty repo parameter fails with a clear message" {
  STEVEDORE_REPO="" run bash "$S/build_and_push.sh"
  assert_failure 2
  assert_output --partial "the repo parameter is empty: set it to the repository name"
  [ ! -e "$STUB_LOG/docker" ]
}

@test "build_and_push: tags and build args are expanded, never executed, and stay single arguments" {
  export STEVEDORE_REPO=Team/App
  export STEVEDORE_TAGS='${CIRCLE_SHA1},$(touch pwned),`touch pwned2`'
  export STEVEDORE_BUILD_ARGS=$'GREETING=hello "quoted" world\nREV=${CIRCLE_SHA1}\n\nNAME_ONLY'
  run bash "$S/build_and_push.sh"
  assert_success
  [ ! -e pwned ] && [ ! -e pwned2 ]
  run cat "$STUB_LOG/docker"
  assert_output "build
-f
Dockerfile
--build-arg
GREETING=hello \"quoted\" world
--build-arg
REV=abc123
--build-arg
NAME_ONLY
-t
stevedore-build-team-app:7
."
  run cat "$STUB_LOG/stevedore"
  assert_output 'push
--docker-image
stevedore-build-team-app:7
--tag
abc123,$(touch pwned),`touch pwned2`'
}

@test "build_and_push: create_repo arrives as 1 and ensures the repository first" {
  stub stevedore 'echo "$1 $2" >>"'"$T"'/calls"'
  STEVEDORE_REPO=app STEVEDORE_CREATE_REPO=1 run bash "$S/build_and_push.sh"
  assert_success
  run cat "$T/calls"
  assert_output "ecr ensure-repo
push --docker-image"
  rm "$T/calls"
  STEVEDORE_REPO=app STEVEDORE_CREATE_REPO=0 run bash "$S/build_and_push.sh"
  run cat "$T/calls"
  assert_output "push --docker-image"
}

@test "build_and_push: several platforms build with buildx into an OCI archive" {
  STEVEDORE_REPO=app STEVEDORE_PLATFORM=linux/amd64,linux/arm64 run bash "$S/build_and_push.sh"
  assert_success
  run head -4 "$STUB_LOG/docker"
  assert_output "buildx
build
--platform
linux/amd64,linux/arm64"
  grep -q '^type=oci,dest=.*/image.tar$' "$STUB_LOG/docker"
  run sed -n 2p "$STUB_LOG/stevedore"
  assert_output "--archive"
}

@test "deploy_service: empty cluster or service fail; the image defaults to the one pushed" {
  STEVEDORE_CLUSTER="" STEVEDORE_SERVICES=web run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "the cluster parameter is empty"
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES="" run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "the service parameter is empty"
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES=web run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "no image: set the image parameter, or push one earlier in this job"
  stub stevedore 'echo "$STEVEDORE_IMAGE" >"'"$T"'/image"'
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES=web STEVEDORE_IMAGE_URI=reg/app@sha256:1 \
    run bash "$S/deploy_service.sh"
  assert_success
  run cat "$T/image"
  assert_output "reg/app@sha256:1"
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES=web STEVEDORE_IMAGE='reg/app:${CIRCLE_SHA1}' \
    run bash "$S/deploy_service.sh"
  run cat "$T/image"
  assert_output "reg/app:abc123"
}

@test "run_task: missing parameters fail with a clear message" {
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION="" run bash "$S/run_task.sh"
  assert_failure 2
  assert_output --partial "the cluster and task_definition parameters must not be empty"
}

@test "auth: access keys under other names are passed on; missing ones fail clearly" {
  unset CIRCLE_OIDC_TOKEN_V2 CIRCLE_OIDC_TOKEN
  STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  assert_failure 2
  assert_output --partial "MY_KEY or MY_SECRET is empty"
  MY_KEY=AKIA123 MY_SECRET='s3cr/t+x' STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY \
    STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  assert_success
  refute_output --partial "s3cr/t+x"
  run bash -c "source '$BASH_ENV'; echo \"\$AWS_ACCESS_KEY_ID \$AWS_SECRET_ACCESS_KEY\""
  assert_output "AKIA123 s3cr/t+x"
  run cat "$STUB_LOG/stevedore"
  assert_output "auth"
}

@test "deploy_service: a named container gets the image as CONTAINER=IMAGE" {
  stub stevedore 'echo "[$STEVEDORE_IMAGE] [$STEVEDORE_CONTAINER_IMAGES]" >"'"$T"'/images"'
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES=web STEVEDORE_IMAGE_URI=reg/app@sha256:1 \
    STEVEDORE_DEPLOY_CONTAINER=app run bash "$S/deploy_service.sh"
  assert_success
  run cat "$T/images"
  assert_output "[] [app=reg/app@sha256:1]"
}

@test "run_task: pushed_image runs the task with the image pushed earlier, or says there is none" {
  stub stevedore 'echo "[${STEVEDORE_IMAGE:-}]" >"'"$T"'/image"'
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION=migrate STEVEDORE_RUN_PUSHED_IMAGE=1 \
    STEVEDORE_IMAGE_URI=reg/app@sha256:1 run bash "$S/run_task.sh"
  assert_success
  run cat "$T/image"
  assert_output "[reg/app@sha256:1]"
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION=migrate STEVEDORE_RUN_PUSHED_IMAGE=1 \
    run bash "$S/run_task.sh"
  assert_failure 2
  assert_output --partial "nothing was pushed earlier in this job"
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION=migrate STEVEDORE_RUN_PUSHED_IMAGE=0 \
    STEVEDORE_IMAGE_URI=reg/app@sha256:1 run bash "$S/run_task.sh"
  run cat "$T/image"
  assert_output "[]"
}

@test "finding 2: a variable-name parameter never runs code" {
  unset CIRCLE_OIDC_TOKEN_V2 CIRCLE_OIDC_TOKEN
  STEVEDORE_ACCESS_KEY_ID_VAR='a[$(touch pwned)]' STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET \
    MY_SECRET=x run bash "$S/auth.sh"
  assert_failure 2
  assert_output --partial "must be variable names"
  [ ! -e pwned ]
  STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY STEVEDORE_SECRET_ACCESS_KEY_VAR='x[`touch pwned2`]' \
    MY_KEY=x run bash "$S/auth.sh"
  assert_failure 2
  [ ! -e pwned2 ]
  [ ! -e "$STUB_LOG/stevedore" ]
}

@test "finding 3: the auth step leaves \$BASH_ENV owner-only, even when it existed world-readable" {
  unset CIRCLE_OIDC_TOKEN_V2 CIRCLE_OIDC_TOKEN
  chmod 644 "$BASH_ENV"
  MY_KEY=AKIA123 MY_SECRET=s3cret STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY \
    STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  assert_success
  run stat -c %a "$BASH_ENV"
  assert_output "600"
  rm -f "$BASH_ENV"
  MY_KEY=AKIA123 MY_SECRET=s3cret STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY \
    STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  assert_success
  run stat -c %a "$BASH_ENV"
  assert_output "600"
}

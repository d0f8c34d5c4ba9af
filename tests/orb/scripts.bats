#!/usr/bin/env bats
# The orb's step scripts: each is one call of the helper (`stevedore orb <step>`), and run as a
# job runs them, with the real debug helper and docker stubbed, they keep the behaviour users
# see: clear refusals, values passed as single arguments, secrets only in an owner-only
# $BASH_ENV. The steps' logic is tested in Rust (src/orb.rs); these prove the wiring.

load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  STUBS=$T/stubs STUB_LOG=$T/log
  mkdir -p "$STUBS" "$STUB_LOG"
  # docker records every call, one argument a line, and a blank line after each call.
  printf '#!/usr/bin/env bash\nprintf "%%s\\n" "$@" "" >>"%s/docker"\n' "$STUB_LOG" >"$STUBS/docker"
  chmod +x "$STUBS/docker"
  export PATH="$STUBS:$ROOT/target/debug:$PATH" BASH_ENV=$T/bash_env CIRCLE_SHA1=abc123 CIRCLE_BUILD_NUM=7
  # Nothing here may reach AWS: a closed local port answers every call at once.
  export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_DEFAULT_REGION=us-east-1 AWS_MAX_ATTEMPTS=1
  unset CIRCLE_OIDC_TOKEN_V2 CIRCLE_OIDC_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  : >"$BASH_ENV"
  S=$ROOT/orb/src/scripts
  cd "$T"
}

@test "every step script but install.sh is at most five lines that call stevedore" {
  for f in "$S"/*.sh; do
    [ "$(basename "$f")" = install.sh ] && continue
    lines=$(wc -l <"$f")
    [ "$lines" -le 5 ] || { echo "$f has $lines lines"; false; }
    grep -Eq '^exec stevedore ' "$f" || { echo "$f does not call stevedore"; false; }
  done
}

@test "build_and_push: an empty repo parameter fails with a clear message and builds nothing" {
  STEVEDORE_REPO="" run bash "$S/build_and_push.sh"
  assert_failure 2
  assert_output --partial "the repo parameter is empty: set it to the repository name"
  [ ! -e "$STUB_LOG/docker" ]
}

@test "build_and_push: tags and build args are expanded, never executed, and stay single arguments" {
  export STEVEDORE_REPO=Team/App
  export STEVEDORE_TAGS='${CIRCLE_SHA1},$(touch pwned),`touch pwned2`'
  export STEVEDORE_BUILD_ARGS=$'GREETING=hello "quoted" world\nREV=${CIRCLE_SHA1}\n\nNAME_ONLY'
  # The push refuses the tags that are not tags, after the build: the build's arguments are
  # what this checks, and that nothing ran.
  run bash "$S/build_and_push.sh"
  [ ! -e pwned ] && [ ! -e pwned2 ]
  run sed -n '1,/^$/p' "$STUB_LOG/docker"
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
}

@test "build_and_push: several platforms get QEMU for the foreign one and a BuildKit builder, removed after the build" {
  STEVEDORE_REPO=app STEVEDORE_PLATFORM=linux/amd64,linux/arm64 run bash "$S/build_and_push.sh"
  foreign=arm64
  [ "$(uname -m)" = x86_64 ] || foreign=amd64
  # One docker call a line; the first asks whether the machine has buildx.
  run awk 'BEGIN { RS = "" } { gsub("\n", " "); print }' "$STUB_LOG/docker"
  assert_line --index 0 "buildx version"
  assert_line --index 1 "run --privileged --rm tonistiigi/binfmt:latest --install $foreign"
  assert_line --index 2 "buildx create --name stevedore-7 --driver docker-container --driver-opt image=moby/buildkit:buildx-stable-1 --bootstrap"
  assert_line --index 3 --regexp '^buildx build --builder stevedore-7 --platform linux/amd64,linux/arm64 -f Dockerfile --output type=oci,dest=.*/image.tar \.$'
  assert_line --index 4 "buildx rm stevedore-7"
}

@test "deploy_service and run_task: missing parameters fail with a clear message" {
  STEVEDORE_CLUSTER="" STEVEDORE_SERVICES=web run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "the cluster parameter is empty"
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES="" run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "the service parameter is empty"
  STEVEDORE_CLUSTER=c1 STEVEDORE_SERVICES=web run bash "$S/deploy_service.sh"
  assert_failure 2
  assert_output --partial "no image: set the image parameter, or push one earlier in this job"
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION="" run bash "$S/run_task.sh"
  assert_failure 2
  assert_output --partial "the cluster and task_definition parameters must not be empty"
  STEVEDORE_CLUSTER=c1 STEVEDORE_TASK_DEFINITION=migrate STEVEDORE_RUN_PUSHED_IMAGE=1 \
    run bash "$S/run_task.sh"
  assert_failure 2
  assert_output --partial "nothing was pushed earlier in this job"
}

@test "auth: access keys under other names are passed on, owner-only; missing ones fail clearly" {
  STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  assert_failure 2
  assert_output --partial "MY_KEY or MY_SECRET is empty"
  chmod 644 "$BASH_ENV"
  # stevedore auth then fails at the closed endpoint; the keys were handed on before.
  MY_KEY=AKIA123 MY_SECRET='s3cr/t+x' STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY \
    STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET run bash "$S/auth.sh"
  refute_output --partial "s3cr/t+x"
  run bash -c "source '$BASH_ENV'; echo \"\$AWS_ACCESS_KEY_ID \$AWS_SECRET_ACCESS_KEY\""
  assert_output "AKIA123 s3cr/t+x"
  run stat -c %a "$BASH_ENV"
  assert_output "600"
}

@test "finding 2: a variable-name parameter never runs code" {
  STEVEDORE_ACCESS_KEY_ID_VAR='a[$(touch pwned)]' STEVEDORE_SECRET_ACCESS_KEY_VAR=MY_SECRET \
    MY_SECRET=x run bash "$S/auth.sh"
  assert_failure 2
  assert_output --partial "must be variable names"
  [ ! -e pwned ]
  STEVEDORE_ACCESS_KEY_ID_VAR=MY_KEY STEVEDORE_SECRET_ACCESS_KEY_VAR='x[`touch pwned2`]' \
    MY_KEY=x run bash "$S/auth.sh"
  assert_failure 2
  [ ! -e pwned2 ]
  [ ! -s "$BASH_ENV" ]
}

@test "every STEVEDORE_ variable a command's step sets is read by the helper commands it runs" {
  # A parameter handed on under a name no command reads is silently ignored: run_task's
  # `environment` once went out as STEVEDORE_ENV, which is deploy's, while run-task reads
  # STEVEDORE_RUN_ENV. Read: named in the `--help` of a command the step runs, or by the orb
  # step's own logic (src/orb/).
  run python3 - "$ROOT" <<'PY'
import pathlib, re, subprocess, sys
root = pathlib.Path(sys.argv[1])
runs = {
    "auth": [["auth"]],
    "build_and_push": [["push"], ["ecr", "ensure-repo"]],
    "deploy_service": [["deploy"]],
    "doctor": [["doctor"]],
    "ecr_login": [["ecr", "login"]],
    "publish_index": [["index"]],
    "run_task": [["run-task"]],
}
orb_logic = "".join(p.read_text() for p in (root / "src/orb").glob("*.rs"))
bad = []
for cmd, subs in runs.items():
    text = (root / f"orb/src/commands/{cmd}.yml").read_text()
    helps = "".join(
        subprocess.run([str(root / "target/debug/stevedore"), *s, "--help"], capture_output=True, text=True, check=True).stdout
        for s in subs
    )
    helps = re.sub(r"\s+", " ", helps)  # the help wraps `[env: X]` across lines
    for var in sorted(set(re.findall(r"^\s+(STEVEDORE_[A-Z_]+):", text, re.M))):
        # clap shows `[env: X=value]` when X is set where the help runs.
        if not re.search(rf"\[env: {var}[\]=]", helps) and f'"{var}"' not in orb_logic:
            bad.append(f"{cmd}: {var} is read by none of {subs}")
print("\n".join(bad) or "all read")
sys.exit(1 if bad else 0)
PY
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "all read" ]
}

#!/usr/bin/env bash
# The main job, end to end, on this machine: what a CircleCI job with the orb does, step by step,
# against the stevedore sandbox (a local AWS whose STS verifies OIDC tokens for real, whose ECR is
# backed by real registries and whose ECS simulates rollouts, ten times faster than real time).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STEVEDORE_BIN:-target/debug/stevedore}
sandbox=${STEVEDORE_SANDBOX_BIN:-target/debug/stevedore-sandbox}
version=$(bash scripts/version.sh)

work=$(mktemp -d)
sandbox_pid=
cleanup() {
  # The orb step's `docker build` tags an image locally (on CircleCI its engine goes with the job).
  if docker info >/dev/null 2>&1; then
    docker image rm --force stevedore-build-acme-demo-app:3 >/dev/null 2>&1 || true
  fi
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$sandbox" up --dir "$work/sandbox" --clock-speed 10 --cluster demo >"$work/sandbox.env" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 200); do
  grep -q '^# stevedore-sandbox ready' "$work/sandbox.env" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log" >&2; exit 1; }
  sleep 0.05
done
# shellcheck disable=SC1091
. "$work/sandbox.env"

# Headings in bold on a terminal only, and never with NO_COLOR set (no-color.org): CI logs and
# files get plain text.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi
echo "sandbox up at $STEVEDORE_SANDBOX_URL; ECS tasks are $STEVEDORE_SANDBOX_TASKS"

# An OCI image layout: a static busybox and a command (what `docker buildx build --output
# type=oci` would produce; built by hand because nothing can be pulled here). Where a Docker
# engine answers, the sandbox runs it for real; otherwise it reads the labels, which say the same.
image() {
  local dir=$1 labels=$2 cmd=$3 layer_hex config config_hex manifest manifest_hex
  mkdir -p "$dir/blobs/sha256" "$dir.rootfs/bin"
  cp /bin/busybox "$dir.rootfs/bin/busybox"
  tar -C "$dir.rootfs" --mtime=@0 --owner=0 --group=0 -cf - . | gzip -n >"$dir/layer"
  layer_hex=$(sha256sum "$dir/layer" | cut -c1-64)
  mv "$dir/layer" "$dir/blobs/sha256/$layer_hex"
  config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":$labels,\"Cmd\":$cmd},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$(tar -C "$dir.rootfs" --mtime=@0 --owner=0 --group=0 -cf - . | sha256sum | cut -c1-64)\"]}}"
  config_hex=$(printf '%s' "$config" | sha256sum | cut -c1-64)
  printf '%s' "$config" >"$dir/blobs/sha256/$config_hex"
  manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_hex\",\"size\":${#config}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer_hex\",\"size\":$(stat -c %s "$dir/blobs/sha256/$layer_hex")}]}"
  manifest_hex=$(printf '%s' "$manifest" | sha256sum | cut -c1-64)
  printf '%s' "$manifest" >"$dir/blobs/sha256/$manifest_hex"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' "$manifest_hex" "${#manifest}" >"$dir/index.json"
}

# The job's environment, as CircleCI and the project's settings provide it. The sandbox's admin
# keys are dropped: the job authenticates with its OIDC token only.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export CIRCLE_PROJECT_REPONAME=demo-app CIRCLE_BUILD_NUM=1 CIRCLE_ORGANIZATION_ID=org-sandbox
export BASH_ENV="$work/bash_env" HOME="$work/home" DOCKER_CONFIG="$work/home/.docker"
export AWS_ROLE_ARN="arn:aws:iam::$AWS_ACCOUNT_ID:role/circleci-deployer"
mkdir -p "$HOME"
CIRCLE_OIDC_TOKEN_V2=$("$sandbox" token --project proj-demo --vcs-origin github.com/acme/demo-app --vcs-ref refs/heads/main)
export CIRCLE_OIDC_TOKEN_V2

step "stevedore auth: assume the CI role with the job's OIDC token (verified by the sandbox's STS)"
"$bin" auth
# shellcheck disable=SC1090
. "$BASH_ENV"
"$bin" whoami

step "stevedore doctor: the job's set-up checked in order (token, role, variables, repository, cluster, permissions)"
"$bin" doctor --repo acme/demo-app --create-repo --cluster demo

step "stevedore ecr ensure-repo: scan on push and a lifecycle policy"
"$bin" ecr ensure-repo --repo acme/demo-app --keep-last 20 --expire-untagged-days 7 --resource-tag team=demo

step "stevedore push: build-1 (native OCI push, no daemon)"
image "$work/v1" '{"org.opencontainers.image.version":"1"}' '["/bin/busybox","sleep","3600"]'
"$bin" push --repo acme/demo-app --tag "build-$CIRCLE_BUILD_NUM,latest" --oci-layout "$work/v1"
# shellcheck disable=SC1090
. "$BASH_ENV"

step "stevedore deploy: create the service from a template, pinned to $STEVEDORE_IMAGE_URI"
cat >"$work/web.json.hbs" <<'JSON'
{
  "family": "demo-web",
  "requiresCompatibilities": ["FARGATE"],
  "networkMode": "awsvpc",
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{image}}", "portMappings": [{"containerPort": 8080}],
     "environment": [{"name": "BUILD", "value": "{{env.CIRCLE_BUILD_NUM}}"}]}
  ]
}
JSON
"$bin" deploy --cluster demo --service web --template "$work/web.json.hbs" --var "image=$STEVEDORE_IMAGE_URI" \
  --create-service --subnets subnet-demo --desired-count 2 --circuit-breaker rollback --poll-interval 1s

step "stevedore run-task: a migration with the next build's image, before the release"
image "$work/migrate" '{"stevedore.sandbox.exit-code":"0","stevedore.sandbox.exit-after":"3"}' '["/bin/busybox","sh","-c","echo migrating; sleep 3; exit 0"]'
"$bin" push --repo acme/demo-app --tag migrate --oci-layout "$work/migrate"
# shellcheck disable=SC1090
. "$BASH_ENV"
# ECS cannot swap an image at run time: run-task registers a revision with the pushed image
# (pinned to its digest), runs it once and exits with the task's exit code.
set +e
"$bin" run-task --cluster demo --task-definition demo-web --container web --image "$STEVEDORE_IMAGE_URI" \
  --command '["/bin/busybox","sh","-c","echo migrating; sleep 3; exit 0"]' --subnets subnet-demo --poll-interval 1s
code=$?
set -e
echo "stevedore run-task exited with $code (the migration task's own exit code)"
[ "$code" -eq 0 ]

step "stevedore deploy --dry-run: what a deploy of the migration image would change, and nothing changed"
"$bin" deploy --cluster demo --service web --image "$STEVEDORE_IMAGE_URI" --dry-run

step "stevedore deploy: build-2 crashes on start; the circuit breaker rolls back and stevedore says so"
image "$work/v2" '{"stevedore.sandbox.exit-code":"3","stevedore.sandbox.exit-after":"1"}' '["/bin/busybox","sh","-c","sleep 1; exit 3"]'
export CIRCLE_BUILD_NUM=2
"$bin" push --repo acme/demo-app --tag "build-$CIRCLE_BUILD_NUM" --oci-layout "$work/v2"
# shellcheck disable=SC1090
. "$BASH_ENV"
set +e
"$bin" deploy --cluster demo --service web --container "web=$STEVEDORE_IMAGE_URI" --poll-interval 1s
code=$?
set -e
echo "stevedore deploy exited with $code (3: the deployment failed and was rolled back)"
[ "$code" -eq 3 ]

step "the orb: its build_push_and_deploy job, packed with the release archive's checksum, run step by step"
if [ -f "dist/v$version/SHA256SUMS" ] && docker info >/dev/null 2>&1; then
  .venv/bin/python scripts/orbtool.py pack --version "$version" --checksums "dist/v$version/SHA256SUMS" -o "$work/orb.yml"
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/python -m http.server --bind 127.0.0.1 "$port" --directory dist >/dev/null 2>&1 &
  files_pid=$!
  mkdir -p "$work/project"
  cp /bin/busybox "$work/project/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "3600"]\n' >"$work/project/Dockerfile"
  : >"$BASH_ENV"
  export CIRCLE_BUILD_NUM=3 CIRCLE_SHA1=0123456789abcdef0123456789abcdef01234567
  # The job starts without stevedore on PATH: the orb's install command downloads and verifies it.
  set +e
  PATH=/usr/local/bin:/usr/bin:/bin .venv/bin/python tests/orb/circleci_job.py --orb "$work/orb.yml" \
    --job build_push_and_deploy --checkout "$work/project" --workdir "$work/job" \
    --param repo=acme/demo-app --param cluster=demo --param service=web --param container=web \
    --param download_base_url="http://127.0.0.1:$port" --param timeout=2m
  code=$?
  set -e
  kill "$files_pid" 2>/dev/null || true
  [ "$code" -eq 0 ]
else
  echo "(skipped: needs \`make dist\` and a Docker engine to build the image)"
fi

step "done"
echo "auth, doctor, repository, push, deploy, rollback detection and the orb's job ran against the local sandbox."

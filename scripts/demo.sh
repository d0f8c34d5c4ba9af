#!/usr/bin/env bash
# The main job, end to end, on this machine: what a CircleCI job with the orb does, step by step,
# against the stevedore sandbox (a local AWS whose STS verifies OIDC tokens for real and whose
# ECR is backed by a real registry). Push (issue 4) and deploy (issue 5) are not built yet; the
# demo stands in skopeo for the push, using the credentials `stevedore ecr login` wrote, and stops
# before the deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STEVEDORE_BIN:-target/debug/stevedore}
sandbox=${STEVEDORE_SANDBOX_BIN:-target/debug/stevedore-sandbox}

work=$(mktemp -d)
sandbox_pid=
cleanup() {
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$sandbox" up --dir "$work/sandbox" --clock-speed 10 >"$work/sandbox.env" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 200); do
  grep -q '^# stevedore-sandbox ready' "$work/sandbox.env" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log" >&2; exit 1; }
  sleep 0.05
done
# shellcheck disable=SC1091
. "$work/sandbox.env"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The job's environment, as CircleCI and the project's settings provide it. The sandbox's admin
# keys are dropped: the job authenticates with its OIDC token only.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export CIRCLE_PROJECT_REPONAME=demo-app CIRCLE_BUILD_NUM=1 CIRCLE_ORGANIZATION_ID=org-sandbox
export BASH_ENV="$work/bash_env" HOME="$work/home" DOCKER_CONFIG="$work/home/.docker"
mkdir -p "$HOME"
CIRCLE_OIDC_TOKEN_V2=$("$sandbox" token --project proj-demo --vcs-origin github.com/acme/demo-app --vcs-ref refs/heads/main)
export CIRCLE_OIDC_TOKEN_V2

step "stevedore auth: assume the CI role with the job's OIDC token (verified by the sandbox's STS)"
"$bin" auth --role-name circleci-deployer
# shellcheck disable=SC1090
. "$BASH_ENV"

step "stevedore whoami"
"$bin" whoami

step "stevedore ecr ensure-repo: repository with scan-on-push and a lifecycle policy"
"$bin" ecr ensure-repo --repo acme/demo-app --keep-last 20 --expire-untagged-days 7 --resource-tag team=demo
"$bin" ecr ensure-repo --repo acme/demo-app

step "stevedore ecr login"
"$bin" ecr login

image=$("$bin" ecr uri --repo acme/demo-app --tag "build-$CIRCLE_BUILD_NUM")
step "push (skopeo stands in for stevedore push, issue 4); in AWS the address would be $image"
layout="$work/image"
mkdir -p "$layout/blobs/sha256" "$work/certs"
cp "$AWS_CA_BUNDLE" "$work/certs/ca.crt"
config='{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.title":"demo"}},"rootfs":{"type":"layers","diff_ids":[]}}'
config_hex=$(printf '%s' "$config" | sha256sum | cut -c1-64)
printf '%s' "$config" >"$layout/blobs/sha256/$config_hex"
manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_hex\",\"size\":${#config}},\"layers\":[]}"
manifest_hex=$(printf '%s' "$manifest" | sha256sum | cut -c1-64)
printf '%s' "$manifest" >"$layout/blobs/sha256/$manifest_hex"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' "$manifest_hex" "${#manifest}" >"$layout/index.json"
skopeo --insecure-policy copy --quiet --authfile "$DOCKER_CONFIG/config.json" --dest-cert-dir "$work/certs" \
  "oci:$layout:latest" "docker://$STEVEDORE_SANDBOX_REGISTRY/acme/demo-app:build-$CIRCLE_BUILD_NUM"
echo "pushed sha256:$manifest_hex as $STEVEDORE_SANDBOX_REGISTRY/acme/demo-app:build-$CIRCLE_BUILD_NUM"

step "not yet built"
echo "stevedore push (issue 4) and stevedore deploy with rollout following (issue 5) come next;"
echo "the sandbox already simulates ECS rollouts for them (see sandbox/tests)."

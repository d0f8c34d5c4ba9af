#!/usr/bin/env bash
# The main job, end to end, on this machine: what a CircleCI job with the orb does, step by step,
# against a local AWS endpoint. Until the stevedore sandbox lands (issue 3) the endpoint is moto's
# server, which verifies no token and has no registry behind ECR, so the demo stops after login.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STEVEDORE_BIN:-target/debug/stevedore}

work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO_ACCOUNT_ID=123456789012 .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The job's environment, as CircleCI and the project's settings provide it.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_DEFAULT_REGION=eu-west-1 AWS_ACCOUNT_ID=123456789012
export CIRCLE_PROJECT_REPONAME=demo-app CIRCLE_BUILD_NUM=1 CIRCLE_ORGANIZATION_ID=org-demo
export BASH_ENV="$work/bash_env" HOME="$work/home"
mkdir -p "$HOME"
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
exp=$(($(date +%s) + 3600))
CIRCLE_OIDC_TOKEN_V2="$(printf '{"alg":"RS256","typ":"JWT"}' | b64url).$(printf '{"iss":"https://oidc.circleci.com/org/org-demo","aud":"org-demo","sub":"org/org-demo/project/proj-demo/user/u1/vcs-origin/github.com/acme/demo-app/vcs-ref/refs/heads/main","exp":%s}' "$exp" | b64url).unsigned"
export CIRCLE_OIDC_TOKEN_V2

step "stevedore auth: assume the CI role with the job's OIDC token"
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

step "stevedore ecr uri"
"$bin" ecr uri --repo acme/demo-app --tag "build-$CIRCLE_BUILD_NUM"

step "not yet built"
echo "push (issue 4), deploy and rollout (issue 5) and the sandbox backend (issue 3) come next;"
echo "this demo ran auth, repository set-up and login against moto."

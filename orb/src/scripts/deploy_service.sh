#!/usr/bin/env bash
# Deploy the image to the ECS service(s) and follow the rollout; stevedore's exit code is the
# step's: 0 deployed, 3 failed or rolled back, 4 timed out.
set -euo pipefail

# Expand ${NAME} references in a value; nothing else in it is interpreted.
expand_vars() {
  local rest=$1 out="" name re='^([^$]*)[$][{]([A-Za-z_][A-Za-z0-9_]*)[}](.*)$'
  while [[ $rest =~ $re ]]; do
    name=${BASH_REMATCH[2]}
    out+="${BASH_REMATCH[1]}${!name-}"
    rest=${BASH_REMATCH[3]}
  done
  printf '%s' "$out$rest"
}

for pair in STEVEDORE_CLUSTER:cluster STEVEDORE_SERVICES:service; do
  var=${pair%%:*}
  if [ -z "${!var:-}" ]; then
    echo "deploy_service: the ${pair#*:} parameter is empty: set it to the ECS ${pair#*:} name" >&2
    exit 2
  fi
done
STEVEDORE_IMAGE=$(expand_vars "${STEVEDORE_IMAGE:-}")
STEVEDORE_CONTAINER_IMAGES=$(expand_vars "${STEVEDORE_CONTAINER_IMAGES:-}")
if [ -z "$STEVEDORE_IMAGE$STEVEDORE_CONTAINER_IMAGES" ]; then
  if [ -z "${STEVEDORE_IMAGE_URI:-}" ]; then
    echo "deploy_service: no image: set the image parameter, or push one earlier in this job" \
      "(build_and_push exports STEVEDORE_IMAGE_URI)" >&2
    exit 2
  fi
  STEVEDORE_IMAGE=$STEVEDORE_IMAGE_URI
fi
if [ -n "${STEVEDORE_DEPLOY_CONTAINER:-}" ] && [ -n "$STEVEDORE_IMAGE" ]; then
  STEVEDORE_CONTAINER_IMAGES="$STEVEDORE_DEPLOY_CONTAINER=$STEVEDORE_IMAGE"
  STEVEDORE_IMAGE=""
fi
unset STEVEDORE_DEPLOY_CONTAINER
export STEVEDORE_IMAGE STEVEDORE_CONTAINER_IMAGES
stevedore deploy

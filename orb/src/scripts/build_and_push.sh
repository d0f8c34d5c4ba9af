#!/usr/bin/env bash
# Build the image and push it with stevedore. Parameters arrive as STEVEDORE_* variables; values
# are passed as separate arguments, never through eval, so quotes and spaces cannot break them.
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

is_true() { case ${1:-} in true | 1 | yes) return 0 ;; *) return 1 ;; esac }

if [ -z "${STEVEDORE_REPO:-}" ]; then
  echo "build_and_push: the repo parameter is empty: set it to the repository name, e.g. team/app" >&2
  exit 2
fi
tags=$(expand_vars "${STEVEDORE_TAGS:-}")
tags=${tags:-${CIRCLE_SHA1:-latest}}
unset STEVEDORE_TAGS

build_args=()
while IFS= read -r line; do
  [ -n "$line" ] || continue
  build_args+=(--build-arg "$(expand_vars "$line")")
done < <(printf '%s\n' "${STEVEDORE_BUILD_ARGS:-}")

if is_true "${STEVEDORE_CREATE_REPO:-}"; then
  stevedore ecr ensure-repo
fi

dockerfile=${STEVEDORE_DOCKERFILE:-Dockerfile}
context=${STEVEDORE_BUILD_PATH:-.}
platform=${STEVEDORE_PLATFORM:-}
if [[ $platform == *,* ]] || is_true "${STEVEDORE_BUILDX:-}"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  docker buildx build ${platform:+--platform "$platform"} -f "$dockerfile" "${build_args[@]}" \
    --output "type=oci,dest=$work/image.tar" "$context"
  stevedore push --archive "$work/image.tar" --tag "$tags"
else
  name=$(printf '%s' "$STEVEDORE_REPO" | tr '/A-Z' '-a-z')
  local_ref="stevedore-build-$name:${CIRCLE_BUILD_NUM:-local}"
  docker build ${platform:+--platform "$platform"} -f "$dockerfile" "${build_args[@]}" \
    -t "$local_ref" "$context"
  stevedore push --docker-image "$local_ref" --tag "$tags"
fi

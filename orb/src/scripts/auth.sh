#!/usr/bin/env bash
# Credentials for the following steps: `stevedore auth` with the job's OIDC token, or access keys
# kept under other variable names than AWS's own, passed on as AWS_ACCESS_KEY_ID and friends.
set -euo pipefail

id_var=${STEVEDORE_ACCESS_KEY_ID_VAR:-AWS_ACCESS_KEY_ID}
secret_var=${STEVEDORE_SECRET_ACCESS_KEY_VAR:-AWS_SECRET_ACCESS_KEY}
if [ -z "${CIRCLE_OIDC_TOKEN_V2:-}${CIRCLE_OIDC_TOKEN:-}" ] && [ "$id_var" != AWS_ACCESS_KEY_ID ]; then
  if [ -z "${!id_var:-}" ] || [ -z "${!secret_var:-}" ]; then
    echo "stevedore auth: no OIDC token, and $id_var or $secret_var is empty:" \
      "enable OIDC for the project or set both variables" >&2
    exit 2
  fi
  export AWS_ACCESS_KEY_ID="${!id_var}" AWS_SECRET_ACCESS_KEY="${!secret_var}"
  # $BASH_ENV is the file CircleCI meant for passing variables to the following steps.
  printf 'export AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >>"$BASH_ENV"
fi
unset STEVEDORE_ACCESS_KEY_ID_VAR STEVEDORE_SECRET_ACCESS_KEY_VAR
stevedore auth

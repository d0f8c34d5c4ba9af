#!/usr/bin/env bash
# Credentials for the following steps: `stevedore auth` with the job's OIDC token, or access keys
# kept under other variable names than AWS's own, passed on as AWS_ACCESS_KEY_ID and friends.
set -euo pipefail
# Credentials go to files only this user can read, whatever existed before.
umask 077

id_var=${STEVEDORE_ACCESS_KEY_ID_VAR:-AWS_ACCESS_KEY_ID}
secret_var=${STEVEDORE_SECRET_ACCESS_KEY_VAR:-AWS_SECRET_ACCESS_KEY}
# The names are expanded indirectly below: a name that is not a plain variable name (such as
# 'a[$(cmd)]', which bash would evaluate as an array index) is refused before any expansion.
for name in "$id_var" "$secret_var"; do
  if ! [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "stevedore auth: access_key_id_var and secret_access_key_var must be variable names" \
      "(letters, digits and '_', not starting with a digit); got '$name'" >&2
    exit 2
  fi
done
if [ -z "${CIRCLE_OIDC_TOKEN_V2:-}${CIRCLE_OIDC_TOKEN:-}" ] && [ "$id_var" != AWS_ACCESS_KEY_ID ]; then
  if [ -z "${!id_var:-}" ] || [ -z "${!secret_var:-}" ]; then
    echo "stevedore auth: no OIDC token, and $id_var or $secret_var is empty:" \
      "enable OIDC for the project or set both variables" >&2
    exit 2
  fi
  export AWS_ACCESS_KEY_ID="${!id_var}" AWS_SECRET_ACCESS_KEY="${!secret_var}"
  # $BASH_ENV is the file CircleCI meant for passing variables to the following steps; it
  # holds secrets now, so only its owner may read it.
  touch "$BASH_ENV"
  chmod 600 "$BASH_ENV"
  printf 'export AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >>"$BASH_ENV"
fi
unset STEVEDORE_ACCESS_KEY_ID_VAR STEVEDORE_SECRET_ACCESS_KEY_VAR
stevedore auth

#!/usr/bin/env bash
# Credentials for the following steps (OIDC, or access keys under other names); the logic is stevedore's.
set -euo pipefail
exec stevedore orb auth

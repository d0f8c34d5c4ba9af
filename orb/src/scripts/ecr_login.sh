#!/usr/bin/env bash
# Docker credentials for the registry; the settings arrive as STEVEDORE_* variables.
set -euo pipefail
exec stevedore ecr login

#!/usr/bin/env bash
# Run the one-off task and exit with its container's exit code.
set -euo pipefail
exec stevedore orb run-task

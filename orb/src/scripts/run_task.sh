#!/usr/bin/env bash
# Run the one-off task and exit with its container's exit code.
set -euo pipefail
if [ -z "${STEVEDORE_CLUSTER:-}" ] || [ -z "${STEVEDORE_TASK_DEFINITION:-}" ]; then
  echo "run_task: the cluster and task_definition parameters must not be empty" >&2
  exit 2
fi
stevedore run-task

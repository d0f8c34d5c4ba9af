#!/usr/bin/env bash
# Run the one-off task and exit with its container's exit code.
set -euo pipefail
if [ -z "${STEVEDORE_CLUSTER:-}" ] || [ -z "${STEVEDORE_TASK_DEFINITION:-}" ]; then
  echo "run_task: the cluster and task_definition parameters must not be empty" >&2
  exit 2
fi
case ${STEVEDORE_RUN_PUSHED_IMAGE:-} in
  true | 1)
    if [ -z "${STEVEDORE_IMAGE_URI:-}" ]; then
      echo "run_task: pushed_image is set but nothing was pushed earlier in this job" \
        "(no STEVEDORE_IMAGE_URI)" >&2
      exit 2
    fi
    export STEVEDORE_IMAGE=$STEVEDORE_IMAGE_URI
    ;;
esac
unset STEVEDORE_RUN_PUSHED_IMAGE
stevedore run-task

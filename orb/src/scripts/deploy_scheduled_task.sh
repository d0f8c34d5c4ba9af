#!/usr/bin/env bash
# Point the scheduled tasks at the new revision.
set -euo pipefail
exec stevedore orb deploy-scheduled-task

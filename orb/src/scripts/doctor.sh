#!/usr/bin/env bash
# One line per check; the first failure names its fix and fails the step.
set -euo pipefail
exec stevedore doctor

#!/usr/bin/env bash
# Build the image with docker and push it; parameters arrive as STEVEDORE_* variables, read by stevedore.
set -euo pipefail
exec stevedore orb build-and-push

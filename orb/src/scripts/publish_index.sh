#!/usr/bin/env bash
# Stitch the per-architecture images into one multi-architecture image index (no layer pulled).
set -euo pipefail
exec stevedore orb publish-index

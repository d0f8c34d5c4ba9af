#!/usr/bin/env bash
# Deploy the image and follow the rollout: exit 0 deployed, 3 failed or rolled back, 4 timed out.
set -euo pipefail
exec stevedore orb deploy-service

#!/usr/bin/env bash
# Give an image already in the repository more tags.
set -euo pipefail
exec stevedore orb tag-image

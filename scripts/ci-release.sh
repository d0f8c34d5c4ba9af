#!/usr/bin/env bash
# publish_release on CircleCI, for a tag vX.Y.Z once the dev orb deployed to the sandbox
# account: the very archives that were tested (from pack_orb's artifacts, checked against the
# SHA256SUMS packed into the dev orb) become the GitHub release, and the production orb that
# installs them is packed and published.
# Needs: CIRCLE_TAG, STEVEDORE_DIST_URL, STEVEDORE_RELEASE, GITHUB_TOKEN (gh), CIRCLE_TOKEN,
# the full CircleCI CLI, gh, python3 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(bash scripts/version.sh)
if [ "${CIRCLE_TAG:-}" != "v$version" ]; then
  echo "ci-release: tag '${CIRCLE_TAG:-}' is not v$version (Cargo.toml's version)" >&2
  exit 1
fi
: "${STEVEDORE_DIST_URL:?the continuation parameter dist_url is empty}"
: "${STEVEDORE_RELEASE:?the continuation parameter release is empty}"
dir=dist/release
mkdir -p "$dir"
base="$STEVEDORE_DIST_URL/v$STEVEDORE_RELEASE"
curl -fsSL --retry 3 -o "$dir/SHA256SUMS" "$base/SHA256SUMS"
while read -r _ name; do
  name=${name#\*}
  curl -fsSL --retry 3 -o "$dir/$name" "$base/$name"
  (cd "$dir" && grep -F "  $name" SHA256SUMS >"$name.sha256")
done <"$dir/SHA256SUMS"
(cd "$dir" && sha256sum -c SHA256SUMS)
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r scripts/requirements-test.txt; }
gh release create "v$version" --title "stevedore $version" --notes-from-tag \
  "$dir"/*.tar.gz "$dir"/*.sha256 "$dir/SHA256SUMS"
.venv/bin/python scripts/orbtool.py pack --version "$version" --checksums "$dir/SHA256SUMS" -o dist/orb.yml
circleci orb validate dist/orb.yml
circleci orb publish dist/orb.yml "stevedore-ci/stevedore@$version" --token "$CIRCLE_TOKEN"

#!/usr/bin/env bash
# pack_orb on CircleCI (after the three dist jobs): one SHA256SUMS for the four archives they
# persisted, the orb of this commit packed, reviewed and validated, and the continuation config
# with that orb inlined, so nothing is published before the integration jobs pass and forked
# pull requests test their own orb. Writes, under $DIST_DIR (default dist):
#   v<version>/SHA256SUMS, orb.yml, continue.yml, continue-parameters.json, and
#   artifacts/v<release>/ (archives + SHA256SUMS, stored as pack_orb's artifacts: the inlined
#   orb installs from there).
# Needs: CIRCLE_SHA1, CIRCLE_WORKFLOW_JOB_ID, the full CircleCI CLI, python3 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${DIST_DIR:-dist}
version=$(bash scripts/version.sh)
release="$version-dev.${CIRCLE_SHA1:0:12}"
out=$dist/v$version
expect=${DIST_EXPECT:-4}
found=$(find "$out" -maxdepth 1 -name 'stevedore-*.tar.gz' | wc -l | tr -d ' ')
if [ "$found" -ne "$expect" ]; then
  echo "ci-pack: expected $expect archives in $out (one per release target), found $found" >&2
  exit 1
fi
(cd "$out" && cat ./*.tar.gz.sha256 | sort -k2 >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
[ -x .venv/bin/check-jsonschema ] || { python3 -m venv .venv && .venv/bin/pip install -q -r scripts/requirements-test.txt; }
py=.venv/bin/python
$py scripts/orbtool.py review
$py scripts/orbtool.py review-config .circleci/config.yml .circleci/test-deploy.yml
$py scripts/orbtool.py pack --version "$release" --checksums "$out/SHA256SUMS" -o "$dist/orb.yml"
$py scripts/orbtool.py inline --orb "$dist/orb.yml" --config .circleci/test-deploy.yml -o "$dist/continue.yml"
.venv/bin/check-jsonschema --builtin-schema vendor.circle-ci "$dist/orb.yml" "$dist/continue.yml"
circleci orb validate "$dist/orb.yml"
mkdir -p "$dist/artifacts/v$release"
cp "$out"/stevedore-*.tar.gz "$out/SHA256SUMS" "$dist/artifacts/v$release/"
url="https://output.circle-artifacts.com/output/job/$CIRCLE_WORKFLOW_JOB_ID/artifacts/${CIRCLE_NODE_INDEX:-0}/release"
printf '{"dist_url": "%s", "release": "%s"}\n' "$url" "$release" >"$dist/continue-parameters.json"
echo "ci-pack: orb $release packed with $(wc -l <"$out/SHA256SUMS" | tr -d ' ') archives; continuation in $dist/continue.yml"

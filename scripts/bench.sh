#!/usr/bin/env bash
# Speed, as ratios against a peer measured in the same run (never as absolute thresholds).
# What exists so far: registry login. Peer: boto3 (the library under the AWS CLI that the
# aws-ecr orb runs) making the same GetAuthorizationToken call and writing the same config.json.
# Deploy: scripts/bench_deploy.py (time from the sandbox deciding a rollout to stevedore's exit).
# Push: scripts/bench_push.py (4 x 50 MB, cold and warm, against skopeo and the registry's floor).
# Size: the static release binary `make dist` builds (target: at most 6 MB, one crypto stack).
# Build cache: scripts/bench_cache.py (the build step on a fresh engine, with and without it).
# Logs: scripts/bench_logs.py (a 100,000-line task followed by run-task).
# Progress: scripts/bench_progress.py (a 1 GB push through a slow registry, its output's silences).
# Signing: scripts/bench_sign.py (push with and without --sign --sbom --provenance, requests added).
set -euo pipefail
cd "$(dirname "$0")/.."
musl=target/$(uname -m | sed s/arm64/aarch64/)-unknown-linux-musl/release/stevedore
if [ -f "$musl" ]; then
  size=$(stat -c %s "$musl")
  echo "static release binary: $(numfmt --to=si --suffix=B --format=%.2f "$size") ($size bytes; target <= 6 MB)"
fi
bin=${STEVEDORE_BIN:-target/release/stevedore}
runs=${BENCH_RUNS:-15}

work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO_ACCOUNT_ID=123456789012 .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_DEFAULT_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench DOCKER_CONFIG="$work/docker"

cat >"$work/peer.py" <<'PY'
import boto3, json, os
d = boto3.client("ecr").get_authorization_token()["authorizationData"][0]
host = d["proxyEndpoint"].split("://", 1)[-1]
path = os.path.join(os.environ["DOCKER_CONFIG"], "config.json")
os.makedirs(os.environ["DOCKER_CONFIG"], exist_ok=True)
doc = json.load(open(path)) if os.path.exists(path) else {}
doc.setdefault("auths", {})[host] = {"auth": d["authorizationToken"]}
json.dump(doc, open(path, "w"))
PY

# Median wall time in ms of a command over $runs runs.
median_ms() {
  local times=() start end
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

ours=$(median_ms "$bin" ecr login)
peer=$(median_ms .venv/bin/python "$work/peer.py")
echo "registry login, median of $runs: stevedore ${ours} ms, boto3 ${peer} ms"
awk -v a="$ours" -v b="$peer" 'BEGIN { printf "ratio stevedore/boto3: %.2f\n", (b > 0 ? a / b : 0) }'

# Deploy: latency after COMPLETED / FAILED and the DescribeServices rate, against the sandbox.
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_deploy.py

# Push: stevedore against skopeo, cold and warm, over loopback TLS to the sandbox's registry.
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_push.py

# Build cache: the orb's build step on a fresh engine, with and without the cache kept in ECR.
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_cache.py

# Logs: run-task following a 100,000-line task (lines/s, GetLogEvents calls a minute, memory).
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_logs.py

# Progress: a 1 GB layer through a 25 MB/s registry, the longest silence in the output.
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_progress.py

# Signing: a push with and without --sign --sbom --provenance, and the registry requests added.
STEVEDORE_BIN="$PWD/$bin" .venv/bin/python scripts/bench_sign.py

"""Push bench: a 4 x 50 MB random-data image pushed over loopback TLS to the sandbox's registry by
stevedore and by skopeo in the same run, cold (the repository is empty) and warm (every blob is
there), as ratios stevedore / skopeo (stevedore's runs include fetching its registry token; skopeo
is handed credentials). Also the registry's own ingest floor: the same blobs uploaded in parallel
by plain curl (POST, then PUT with the digest). Targets: cold <= 0.6 of skopeo and <= 1.1 of the
floor, warm <= 1.0 of skopeo."""

import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_deploy import BIN, kw, start_sandbox  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
LAYERS = int(os.environ.get("BENCH_LAYERS", "4"))
LAYER_MB = int(os.environ.get("BENCH_LAYER_MB", "50"))


def make_layout(root):
    blobs = os.path.join(root, "blobs/sha256")
    os.makedirs(blobs)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    layers = []
    for _ in range(LAYERS):
        d = put(os.urandom(LAYER_MB * 1024 * 1024))
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        layers.append(d)
    config = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers}).encode())
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


FLOOR_UPLOAD = r"""
set -euo pipefail
loc=$(curl -sS --fail -u "$CREDS" --cacert "$CA" -X POST -o /dev/null -D - "https://$REGISTRY/v2/$REPO/blobs/uploads/" |
  tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
case $loc in /*) loc="https://$REGISTRY$loc" ;; esac
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS --fail -u "$CREDS" --cacert "$CA" -X PUT -o /dev/null -H 'Content-Type: application/octet-stream' \
  --data-binary "@$BLOB" "$loc${sep}digest=$DIGEST"
"""


def floor(layout, repo, creds, ca, registry, env):
    """Seconds to upload every blob of the layout at once with curl: what the registry itself takes."""
    blobs = os.path.join(layout, "blobs/sha256")
    start = time.time()
    procs = [subprocess.Popen(["bash", "-c", FLOOR_UPLOAD], env={**env, "CREDS": creds, "CA": ca, "REGISTRY": registry,
                                                                 "REPO": repo, "BLOB": os.path.join(blobs, h), "DIGEST": "sha256:" + h})
             for h in os.listdir(blobs)]
    codes = [p.wait() for p in procs]
    elapsed = time.time() - start
    if any(codes):
        raise SystemExit(f"floor: a curl upload failed ({codes})")
    return elapsed


def timed(cmd, env):
    start = time.time()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.time() - start


def main():
    proc, env = start_sandbox()
    try:
        ecr = boto3.client("ecr", **kw(env))
        work = tempfile.mkdtemp()
        certs = os.path.join(work, "certs")
        os.makedirs(certs)
        with open(env["AWS_CA_BUNDLE"]) as src, open(os.path.join(certs, "ca.crt"), "w") as dst:
            dst.write(src.read())
        creds = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode()
        registry = env["STEVEDORE_SANDBOX_REGISTRY"]
        full_env = {**os.environ, **env}
        ours = {"cold": [], "warm": []}
        peer = {"cold": [], "warm": []}
        floors = []
        for i in range(RUNS):
            layout = os.path.join(work, f"oci-floor-{i}")
            make_layout(layout)
            ecr.create_repository(repositoryName=f"bench-floor-{i}")
            floors.append(floor(layout, f"bench-floor-{i}", creds, env["AWS_CA_BUNDLE"], registry, full_env))
            for tool, results in (("stevedore", ours), ("skopeo", peer)):
                # Fresh random layers every time: skopeo remembers where it saw a blob and would
                # mount it from an earlier repository, which would not be a cold push.
                layout = os.path.join(work, f"oci-{tool}-{i}")
                make_layout(layout)
                repo = f"bench-{tool}-{i}"
                ecr.create_repository(repositoryName=repo)
                for kind in ("cold", "warm"):
                    if tool == "stevedore":
                        cmd = [BIN, "push", "--repo", repo, "--tag", kind, "--oci-layout", layout]
                    else:
                        cmd = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-creds", creds, "--dest-cert-dir", certs,
                               f"oci:{layout}:latest", f"docker://{registry}/{repo}:{kind}"]
                    results[kind].append(timed(cmd, full_env))
        total_mb = LAYERS * LAYER_MB
        subprocess.run(["rm", "-rf", work])
        low = statistics.median(floors)
        cold = statistics.median(ours["cold"])
        print(f"push cold against the registry's ingest floor (the same {LAYERS + 2} blobs by parallel curl POST + PUT, median of {RUNS}): "
              f"floor {low:.2f} s, stevedore {cold:.2f} s; ratio {cold / low:.2f} (target <= 1.1)")
        for kind in ("cold", "warm"):
            a, b = statistics.median(ours[kind]), statistics.median(peer[kind])
            target = 0.6 if kind == "cold" else 1.0
            print(f"push {kind} ({LAYERS} x {LAYER_MB} MB, median of {RUNS}): stevedore {a:.2f} s, skopeo {b:.2f} s; "
                  f"ratio {a / b:.2f} (target <= {target}); stevedore {total_mb / a:.0f} MB/s" if kind == "cold" else
                  f"push {kind} ({LAYERS} x {LAYER_MB} MB, median of {RUNS}): stevedore {a:.2f} s, skopeo {b:.2f} s; ratio {a / b:.2f} (target <= {target})")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

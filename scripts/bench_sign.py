"""Signing bench: the same cold push (2 x 10 MB) with and without `--sign --sbom --provenance`,
against the sandbox's registry and KMS, in the same run. Reports the time ratio, and every
registry request the extras add, counted by the registry front: blob uploads (POST + PUT each)
apart from the rest. Target: beyond the uploads, at most one round trip per artifact (the SBOM,
the provenance, the three signatures and the provenance's DSSE attestation) where the registry has the referrers API; without it
(the tag schema) each attestation also reads and writes the sha256-<hex> index."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BENCH_LAYERS", "2")
os.environ.setdefault("BENCH_LAYER_MB", "10")
from bench_deploy import BIN, kw, start_sandbox  # noqa: E402
from bench_push import make_layout  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ARTIFACTS = 6  # the SBOM, the provenance, a signature of each and of the image, the DSSE attestation


def control(env, method, path, body=None):
    req = urllib.request.Request(env["STEVEDORE_SANDBOX_URL"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        text = r.read()
    return json.loads(text) if text.strip() else None


def requests_of(env):
    """The registry requests since the last call: (blob uploads, the others)."""
    calls = control(env, "GET", "/_sandbox/registry-calls")
    control(env, "DELETE", "/_sandbox/registry-calls")
    uploads = sum(1 for c in calls if "/blobs/uploads" in c["path"] and c["method"] in ("POST", "PUT", "PATCH"))
    return uploads, len(calls) - uploads


def sbom(path):
    packages = [{"name": f"pkg-{i}", "SPDXID": f"SPDXRef-{i}", "versionInfo": "1.0"} for i in range(2000)]
    with open(path, "w") as f:
        json.dump({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "bench", "packages": packages}, f)
    return os.path.getsize(path)


def main():
    proc, env = start_sandbox()
    try:
        k = boto3.client("kms", **kw(env))
        key = k.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        k.create_alias(AliasName="alias/bench", TargetKeyId=key)
        work = tempfile.mkdtemp()
        sbom_path = os.path.join(work, "sbom.spdx.json")
        sbom_size = sbom(sbom_path)
        job = {"CIRCLE_REPOSITORY_URL": "git@github.com:acme/app.git", "CIRCLE_SHA1": "0" * 40, "CIRCLE_BRANCH": "main",
               "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/app/1"}
        full_env = {**os.environ, **env, **job}
        extras = ["--sign", "awskms:///alias/bench", "--sbom", sbom_path, "--provenance"]
        for mode, referrers in (("referrers API", True), ("tag schema", False)):
            control(env, "PUT", "/_sandbox/registry-faults", {"without_referrers_api": not referrers})
            times = {"plain": [], "extras": []}
            counts = {}
            for i in range(RUNS):
                for kind in ("plain", "extras"):
                    layout = os.path.join(work, f"oci-{mode[:3]}-{kind}-{i}")
                    make_layout(layout)
                    cmd = [BIN, "push", "--repo", f"bench-sign-{mode[:3]}-{kind}-{i}", "--create-repo", "--tag", "v1",
                           "--oci-layout", layout] + (extras if kind == "extras" else [])
                    requests_of(env)
                    start = time.time()
                    subprocess.run(cmd, env=full_env, check=True, stdout=subprocess.DEVNULL)
                    times[kind].append(time.time() - start)
                    counts[kind] = requests_of(env)
            a, b = statistics.median(times["extras"]), statistics.median(times["plain"])
            (up_e, other_e), (up_p, other_p) = counts["extras"], counts["plain"]
            extra_uploads, extra_others = up_e - up_p, other_e - other_p
            print(f"push with --sign --sbom ({sbom_size // 1024} KB) --provenance, {mode} (median of {RUNS}): "
                  f"{a:.2f} s against {b:.2f} s without; ratio {a / b:.2f}")
            print(f"  registry requests added: {extra_uploads} uploading blobs (POST + PUT each), "
                  f"{extra_others} other for {ARTIFACTS} artifacts ({extra_others / ARTIFACTS:.1f} each; "
                  f"target <= 1.0 with the referrers API)")
        subprocess.run(["rm", "-rf", work])
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

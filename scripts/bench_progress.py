"""Progress bench: a 1 GB layer pushed through the sandbox's registry with its upload rate held
to 25 MB/s (the registry fault `upload_bytes_per_sec`, which stands in for a slow link), stdout
read as it comes. Reports the longest silence between output lines during the upload, which must
stay at most 10 s (one progress line per blob every 10 s when the output is not a terminal), and
how many progress lines were printed."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_deploy import BIN, start_sandbox  # noqa: E402

SIZE = int(os.environ.get("BENCH_PROGRESS_BYTES", str(1_000_000_000)))
RATE = int(os.environ.get("BENCH_PROGRESS_RATE", str(25_000_000)))


def layout(root):
    """An OCI layout whose one layer is SIZE random bytes, written in 16 MB pieces."""
    blobs = os.path.join(root, "blobs/sha256")
    os.makedirs(blobs)
    h = hashlib.sha256()
    tmp = os.path.join(blobs, "layer.tmp")
    with open(tmp, "wb") as f:
        left = SIZE
        while left:
            chunk = os.urandom(min(left, 16 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    layer = h.hexdigest()
    os.rename(tmp, os.path.join(blobs, layer))

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    config = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer]}}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + layer, "size": SIZE}]}).encode())
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


def main():
    proc, env = start_sandbox()
    work = tempfile.mkdtemp()
    try:
        layout(os.path.join(work, "oci"))
        req = urllib.request.Request(env["STEVEDORE_SANDBOX_URL"] + "/_sandbox/registry-faults", method="PUT",
                                     data=json.dumps({"upload_bytes_per_sec": RATE}).encode(), headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        child = subprocess.Popen([BIN, "push", "--repo", "big", "--create-repo", "--oci-layout", os.path.join(work, "oci")],
                                 env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        times, lines = [], []
        for line in child.stdout:
            times.append(time.monotonic())
            lines.append(line.rstrip("\n"))
        if child.wait() != 0:
            raise SystemExit("push failed:\n" + "\n".join(lines[-20:]))
        gaps = [b - a for a, b in zip(times, times[1:])]
        progress = [l for l in lines if " of 1.00 GB (" in l]
        print(f"progress: 1 GB pushed at {RATE / 1e6:.0f} MB/s in {times[-1] - times[0]:.0f} s, {len(progress)} progress lines, "
              f"longest silence {max(gaps):.1f} s (target <= 10 s)")
        if max(gaps) > 10.5:
            raise SystemExit("a silence longer than 10 s:\n" + "\n".join(lines))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Build-cache bench: the orb's build_and_push step (`stevedore orb build-and-push`) building a
small image whose one RUN step stands for a dependency install (~5 s of work), on a machine
without the image (as every CircleCI job starts), with and without `build_cache`: the cache is
the last image, kept in the repository under `buildcache` and pulled first (Docker's classic
builder here; buildx would use a registry cache in the same repository). Ratio: cached step /
uncached step, the same run; each time includes the pull or the build and the push."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_deploy import BIN, start_sandbox  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; echo $i > /deps"]
COPY app /app
CMD ["/bin/busybox", "sleep", "3600"]
"""


def forget(images):
    """The machine of a new job: none of the images (nor their build cache) in the engine."""
    subprocess.run(["docker", "image", "rm", "--force", *images], capture_output=True)


def step(env, cache):
    start = time.time()
    out = subprocess.run([BIN, "orb", "build-and-push"], env={**env, "STEVEDORE_BUILD_CACHE": "1" if cache else "0"},
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"build_and_push failed:\n{out.stdout}\n{out.stderr}")
    return time.time() - start, out.stdout


def main():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("build cache: skipped (no Docker engine)")
        return
    proc, env = start_sandbox()
    work = tempfile.mkdtemp()
    try:
        project = os.path.join(work, "project")
        os.makedirs(project)
        shutil.copy("/bin/busybox", os.path.join(project, "busybox"))
        with open(os.path.join(project, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        registry = env["STEVEDORE_SANDBOX_REGISTRY"]
        cache_ref = f"{registry}/cachebench:buildcache"
        local = "stevedore-build-cachebench:bench"
        env = {**env, "STEVEDORE_REPO": "cachebench", "STEVEDORE_CREATE_REPO": "1", "STEVEDORE_BUILD_PATH": project,
               "STEVEDORE_DOCKERFILE": os.path.join(project, "Dockerfile"), "CIRCLE_BUILD_NUM": "bench",
               "BASH_ENV": os.path.join(work, "bash_env"), "DOCKER_CONFIG": os.path.join(work, "docker"),
               "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", work)}
        cold, warm = [], []
        # The previous commit's job seeds the cache.
        with open(os.path.join(project, "app"), "w") as f:
            f.write("seed\n")
        env["STEVEDORE_TAGS"] = "seed"
        forget([local, cache_ref])
        step(env, True)
        for i in range(RUNS):
            # A commit that changes the app but not the dependencies: the RUN step can be reused.
            with open(os.path.join(project, "app"), "w") as f:
                f.write(f"build {i}\n")
            env["STEVEDORE_TAGS"] = f"c{i}"
            forget([local, cache_ref])
            t, _ = step(env, False)
            cold.append(t)
            forget([local, cache_ref])
            t, out = step(env, True)
            if "Using cache" not in out:
                raise SystemExit(f"the cached build did not reuse the RUN step:\n{out}")
            warm.append(t)
            if os.environ.get("BENCH_VERBOSE"):
                print(out)
        forget([local, cache_ref])
        c, w = sorted(cold)[len(cold) // 2], sorted(warm)[len(warm) // 2]
        print(f"build_and_push on a fresh engine, median of {RUNS}: without cache {c:.2f} s, with the cache in ECR {w:.2f} s (runs: {' '.join(f'{x:.2f}' for x in cold)} / {' '.join(f'{x:.2f}' for x in warm)})")
        print(f"ratio cached/uncached: {w / c:.2f}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

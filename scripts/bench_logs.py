"""Log-streaming bench: `stevedore run-task` following a one-off task that prints 100,000 lines
over 20 seconds into CloudWatch Logs (the sandbox's awslogs stream), printing each line as it
arrives. Reports lines per second printed, GetLogEvents calls a minute (one poll every 3 s, a
page of up to 10,000 lines per call), the calls per 10,000 lines against the floor (AWS's page
size), and stevedore's peak memory, which must not grow with the stream."""

import json
import os
import tempfile
import subprocess
import sys
import time

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_deploy import BIN, calls, kw, push, start_sandbox  # noqa: E402

LINES = int(os.environ.get("BENCH_LOG_LINES", "100000"))
SECONDS = 20


def follow(env, family, lines):
    """Run the task; (seconds, GetLogEvents calls, stevedore's peak memory in MB)."""
    before = len(calls(env))
    started = time.time()
    with tempfile.TemporaryFile(mode="w+") as stdout:
        child = subprocess.Popen([BIN, "run-task", "--cluster", "bench", "--task-definition", family],
                                 env={**os.environ, **env}, stdout=stdout, stderr=subprocess.STDOUT, text=True)
        # wait4: this child's own peak memory, not the other programs this bench ran.
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.time() - started
        stdout.seek(0)
        text = stdout.read()
    if status != 0:
        raise SystemExit(f"run-task failed:\n{text[-2000:]}")
    printed = [l for l in text.splitlines() if l.startswith("m| ")]
    if printed != [f"m| line {i}" for i in range(1, lines + 1)]:
        raise SystemExit(f"run-task printed {len(printed)} lines, not lines 1 to {lines} once each in order")
    gets = sum(1 for c in calls(env)[before:] if c["call"] == "CloudWatchLogs.GetLogEvents")
    return elapsed, gets, usage.ru_maxrss / 1024


def main():
    proc, env = start_sandbox()
    try:
        ecs = boto3.client("ecs", **kw(env))
        ecs.create_cluster(clusterName="bench")
        for family, lines in [("small", 1000), ("large", LINES)]:
            image = push(env, "logbench", family, {"stevedore.sandbox.exit-code": "0", "stevedore.sandbox.exit-after": str(SECONDS),
                                                   "stevedore.sandbox.log-count": str(lines)})
            ecs.register_task_definition(family=family, containerDefinitions=[{
                "name": "m", "image": image, "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/logbench", "awslogs-region": env["AWS_DEFAULT_REGION"], "awslogs-stream-prefix": "ecs"}}}])
        _, _, small_mb = follow(env, "small", 1000)
        elapsed, gets, large_mb = follow(env, "large", LINES)
        print(f"log streaming: {LINES} lines over a {SECONDS} s task, followed in {elapsed:.1f} s: "
              f"{LINES / elapsed:,.0f} lines/s printed; {gets} GetLogEvents calls ({gets / elapsed * 60:.0f} a minute, "
              f"{gets / (LINES / 10000):.1f} per 10,000 lines, floor 1.0); stevedore's peak memory {large_mb:.1f} MB "
              f"(1,000 lines: {small_mb:.1f} MB)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

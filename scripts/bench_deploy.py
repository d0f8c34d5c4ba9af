"""Deploy bench: how soon stevedore exits after the sandbox marks a rollout COMPLETED or FAILED,
and how many DescribeServices calls a minute it makes while waiting. The peer is the cadence of
the AWS CLI's services-stable waiter (one DescribeServices every 15 s; the aws-ecs orb's is 20 s).

Runs the sandbox at real-time speed so its clock and the wall clock agree, with tasks simulated
(the rollout timing is the sandbox's, not a container's)."""

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("STEVEDORE_BIN", os.path.join(ROOT, "target/release/stevedore"))
SANDBOX = os.environ.get("STEVEDORE_SANDBOX_BIN", os.path.join(ROOT, "target/release/stevedore-sandbox"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WAITER_CADENCE = 15.0


def start_sandbox():
    proc = subprocess.Popen([SANDBOX, "up", "--clock-speed", "1", "--docker", "off"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = {}
    for line in proc.stdout:
        if line.startswith("# stevedore-sandbox ready"):
            break
        if line.startswith("export "):
            k, v = line[len("export "):].strip().split("=", 1)
            env[k] = v.strip("'")
    return proc, env


def push(env, repo, tag, labels):
    work = tempfile.mkdtemp()
    blobs = os.path.join(work, "oci/blobs/sha256")
    os.makedirs(blobs)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return "sha256:" + h, len(data)

    cd, cs = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": labels}, "rootfs": {"type": "layers", "diff_ids": []}, "created": tag}).encode())
    md, ms = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": []}).encode())
    with open(os.path.join(work, "oci/oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(work, "oci/index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    certs = os.path.join(work, "certs")
    os.makedirs(certs)
    with open(env["AWS_CA_BUNDLE"]) as src, open(os.path.join(certs, "ca.crt"), "w") as dst:
        dst.write(src.read())
    import base64
    ecr = ecr_client(env)
    # The deploy pins tags to digests through ECR's DescribeImages: the repository must exist.
    try:
        ecr.create_repository(repositoryName=repo)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    ref = f"{env['STEVEDORE_SANDBOX_REGISTRY']}/{repo}:{tag}"
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-creds", creds, "--dest-cert-dir", certs, f"oci:{work}/oci:latest", f"docker://{ref}"], check=True)
    return ref


def kw(env):
    return dict(endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def ecr_client(env):
    return boto3.client("ecr", **kw(env))


def calls(env):
    with urllib.request.urlopen(env["STEVEDORE_SANDBOX_URL"] + "/_sandbox/calls") as r:
        return json.load(r)


def scenario(env, ecs, service, image, breaker):
    ecs.create_service(cluster="bench", serviceName=service, taskDefinition="web:1", desiredCount=2,
                       deploymentConfiguration={"deploymentCircuitBreaker": breaker})
    while ecs.describe_services(cluster="bench", services=[service])["services"][0]["deployments"][0].get("rolloutState") != "COMPLETED":
        time.sleep(0.2)
    out = tempfile.mktemp()
    started = time.time()
    proc = subprocess.run([BIN, "deploy", "--cluster", "bench", "--service", service, "--image", image, "--output-file", out],
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exited = time.time()
    with open(out) as f:
        dep_id = json.load(f)["deployments"][0]["deploymentId"]
    svc = ecs.describe_services(cluster="bench", services=[service])["services"][0]
    dep = next(d for d in svc["deployments"] if d["id"] == dep_id)
    decided = dep["updatedAt"].timestamp()
    log = calls(env)
    # "While waiting": from the UpdateService that started the deployment to stevedore's exit.
    updated = max(c["at"] for c in log if c["call"] == "ECS.UpdateService" and started <= c["at"] <= exited)
    n = sum(1 for c in log if c["call"] == "ECS.DescribeServices" and updated <= c["at"] <= exited)
    return proc.returncode, dep["rolloutState"], exited - decided, n / ((exited - updated) / 60.0), exited - started


def many_services(env, ecs, image, count=20):
    """One deploy of `count` services: DescribeServices calls a minute while it waits, against
    one call per service per poll unbatched (the peer: what separate waits would make)."""
    names = [f"many-{i}" for i in range(count)]
    for n in names:
        ecs.create_service(cluster="bench", serviceName=n, taskDefinition="web:1", desiredCount=1)
    for chunk in (names[:10], names[10:]):
        while not all(s["deployments"][0].get("rolloutState") == "COMPLETED" for s in ecs.describe_services(cluster="bench", services=chunk)["services"]):
            time.sleep(0.2)
    started = time.time()
    proc = subprocess.run([BIN, "deploy", "--cluster", "bench", "--service", ",".join(names), "--image", image],
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exited = time.time()
    log = calls(env)
    n = sum(1 for c in log if c["call"] == "ECS.DescribeServices" and started <= c["at"] <= exited)
    return proc.returncode, n, n / ((exited - started) / 60.0), exited - started


LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
STRATEGIES = {
    "BLUE_GREEN": {},
    "LINEAR": {"linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 0}},
    "CANARY": {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 0}},
}


def native_scenario(env, ecs, strategy, service, image, breaker):
    """A blue/green, linear or canary deployment: how soon stevedore exits after the sandbox
    decides it (finishedAt of a SUCCESSFUL one, the rollback's startedAt of a rolled-back one),
    and its DescribeServiceDeployments and DescribeServices calls a minute while it waits."""
    lb = [{"targetGroupArn": LB_ARN + "targetgroup/blue/1", "containerName": "web", "containerPort": 80,
           "advancedConfiguration": {"alternateTargetGroupArn": LB_ARN + "targetgroup/green/2",
                                     "productionListenerRule": LB_ARN + "listener-rule/app/lb/1/2/3", "roleArn": "arn:aws:iam::123456789012:role/lb"}}]
    config = {"strategy": strategy, "bakeTimeInMinutes": 0, "deploymentCircuitBreaker": breaker, **STRATEGIES[strategy]}
    ecs.create_service(cluster="bench", serviceName=service, taskDefinition="lb:1", desiredCount=2, loadBalancers=lb, deploymentConfiguration=config)
    while ecs.describe_services(cluster="bench", services=[service])["services"][0]["deployments"][0].get("rolloutState") != "COMPLETED":
        time.sleep(0.2)
    started = time.time()
    proc = subprocess.run([BIN, "deploy", "--cluster", "bench", "--service", service, "--image", image],
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exited = time.time()
    arn = ecs.list_service_deployments(cluster="bench", service=service)["serviceDeployments"][0]["serviceDeploymentArn"]
    d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    decided = (d["rollback"]["startedAt"] if "rollback" in d else d["finishedAt"]).timestamp()
    log = calls(env)
    updated = max(c["at"] for c in log if c["call"] == "ECS.UpdateService" and started <= c["at"] <= exited)
    minutes = (exited - updated) / 60.0
    count = lambda op: sum(1 for c in log if c["call"] == f"ECS.{op}" and updated <= c["at"] <= exited)
    return proc.returncode, d["status"], exited - decided, count("DescribeServiceDeployments") / minutes, count("DescribeServices") / minutes


def native(env, ecs, good, crash):
    ecs.register_task_definition(family="lb", containerDefinitions=[{"name": "web", "image": good, "portMappings": [{"containerPort": 80}]}])
    for strategy in STRATEGIES:
        for want, image, breaker in (("SUCCESSFUL", good, {"enable": False, "rollback": False}), ("ROLLBACK", crash, {"enable": True, "rollback": True})):
            rows = []
            for i in range(RUNS):
                code, status, latency, sd_rate, ds_rate = native_scenario(env, ecs, strategy, f"n-{strategy.lower()}-{want.lower()}-{i}", image, breaker)
                if not status.startswith(want):
                    sys.exit(f"bench: expected a {want} {strategy} deployment, the sandbox says {status} (stevedore exit {code})")
                rows.append((latency, sd_rate, ds_rate, code))
            lat = statistics.median(r[0] for r in rows)
            print(f"deploy {strategy} {want}: sandbox decided -> stevedore exited in {lat:.2f} s (median of {len(rows)}; exit codes {sorted({r[3] for r in rows})}); "
                  f"waiter cadence {WAITER_CADENCE:.0f} s; ratio {lat / WAITER_CADENCE:.2f}; DescribeServiceDeployments {max(r[1] for r in rows):.1f}/min, "
                  f"DescribeServices {max(r[2] for r in rows):.1f}/min at most")


def codedeploy_scenario(env, ecs, cd, service, image):
    """A CodeDeploy blue/green deployment (ECSAllAtOnce, no termination wait): how soon
    stevedore exits after the sandbox decides it (the deployment's completeTime), and its
    GetDeployment and BatchGetDeploymentTargets calls a minute while it waits."""
    ecs.create_service(cluster="bench", serviceName=service, taskDefinition="lb:1", desiredCount=2,
                       deploymentController={"type": "CODE_DEPLOY"},
                       loadBalancers=[{"targetGroupArn": LB_ARN + "targetgroup/blue/1", "containerName": "web", "containerPort": 80}])
    app, group = f"AppECS-bench-{service}", f"DgpECS-bench-{service}"
    cd.create_application(applicationName=app, computePlatform="ECS")
    cd.create_deployment_group(applicationName=app, deploymentGroupName=group, serviceRoleArn="arn:aws:iam::123456789012:role/cd",
                               ecsServices=[{"serviceName": service, "clusterName": "bench"}],
                               deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                               blueGreenDeploymentConfiguration={"terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 0}},
                               loadBalancerInfo={"targetGroupPairInfoList": [{"targetGroups": [{"name": "blue"}, {"name": "green"}],
                                                                              "prodTrafficRoute": {"listenerArns": [LB_ARN + "listener/app/lb/1/2"]}}]})
    while ecs.describe_services(cluster="bench", services=[service])["services"][0]["runningCount"] != 2:
        time.sleep(0.2)
    out = tempfile.mktemp()
    started = time.time()
    proc = subprocess.run([BIN, "deploy", "--cluster", "bench", "--service", service, "--image", image, "--output-file", out],
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exited = time.time()
    with open(out) as f:
        dep_id = json.load(f)["deployments"][0]["deploymentId"]
    d = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
    decided = d["completeTime"].timestamp()
    log = calls(env)
    created = max(c["at"] for c in log if c["call"] == "CodeDeploy.CreateDeployment" and started <= c["at"] <= exited)
    minutes = (exited - created) / 60.0
    count = lambda op: sum(1 for c in log if c["call"] == op and created <= c["at"] <= exited)
    return proc.returncode, d["status"], exited - decided, count("CodeDeploy.GetDeployment") / minutes, count("CodeDeploy.BatchGetDeploymentTargets") / minutes


def codedeploy(env, ecs, good, crash):
    cd = boto3.client("codedeploy", **kw(env))
    for want, image in (("Succeeded", good), ("Failed", crash)):
        rows = []
        for i in range(RUNS):
            code, status, latency, gd_rate, bt_rate = codedeploy_scenario(env, ecs, cd, f"cd-{want.lower()}-{i}", image)
            if status != want:
                sys.exit(f"bench: expected a {want} CodeDeploy deployment, the sandbox says {status} (stevedore exit {code})")
            rows.append((latency, gd_rate, bt_rate, code))
        lat = statistics.median(r[0] for r in rows)
        print(f"deploy CODE_DEPLOY {want}: sandbox decided -> stevedore exited in {lat:.2f} s (median of {len(rows)}; exit codes {sorted({r[3] for r in rows})}); "
              f"deployment-successful waiter cadence {WAITER_CADENCE:.0f} s; ratio {lat / WAITER_CADENCE:.2f}; GetDeployment {max(r[1] for r in rows):.1f}/min, "
              f"BatchGetDeploymentTargets {max(r[2] for r in rows):.1f}/min at most")


def main():
    proc, env = start_sandbox()
    try:
        ecs = boto3.client("ecs", **kw(env))
        good = push(env, "app", "v1", {})
        good2 = push(env, "app", "v2", {})
        crash = push(env, "app", "crash", {"stevedore.sandbox.exit-code": "3", "stevedore.sandbox.exit-after": "1"})
        ecs.create_cluster(clusterName="bench")
        ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": good}])
        results = {"COMPLETED": [], "FAILED": []}
        for i in range(RUNS):
            for state, image, breaker in (("COMPLETED", good2, {"enable": False, "rollback": False}),
                                           ("FAILED", crash, {"enable": True, "rollback": False})):
                code, seen, latency, per_min, total = scenario(env, ecs, f"s-{state.lower()}-{i}", image, breaker)
                if seen != state:
                    sys.exit(f"bench: expected a {state} rollout, the sandbox says {seen} (stevedore exit {code})")
                results[state].append((latency, per_min, total, code))
        code, n, per_min, secs = many_services(env, ecs, good)
        # Unbatched, each service polls on its own: one call per service per 4 s poll (the default).
        unbatched = 20 * 60.0 / 4.0
        print(f"deploy 20 services (exit {code}, {secs:.1f} s): {n} DescribeServices calls, {per_min:.0f}/min; "
              f"one call per service per poll would be {unbatched:.0f}/min; ratio {per_min / unbatched:.2f}")
        for state, rows in results.items():
            lat = statistics.median(r[0] for r in rows)
            rate = max(r[1] for r in rows)
            codes = sorted({r[3] for r in rows})
            print(f"deploy {state}: sandbox marked it -> stevedore exited in {lat:.2f} s (median of {len(rows)}; exit codes {codes}); "
                  f"waiter cadence {WAITER_CADENCE:.0f} s; ratio {lat / WAITER_CADENCE:.2f}; DescribeServices {rate:.1f}/min at most (limit 30)")
        native(env, ecs, good2, crash)
        codedeploy(env, ecs, good2, crash)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

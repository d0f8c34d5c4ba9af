//! `stevedore deploy` and `stevedore run-task` against the sandbox's simulated ECS.

use crate::harness::*;
use serde_json::{json, Value};

pub(crate) const CRASH: &[(&str, &str)] = &[
    ("stevedore.sandbox.exit-code", "3"),
    ("stevedore.sandbox.exit-after", "1"),
];

/// A cluster `c1` with service `web` running revision 1 (two containers: `app` from `app_image`
/// and a `log` sidecar), settled.
pub(crate) fn setup(sb: &SandboxProc, app_image: &str, breaker: &str) {
    let side = sb.push_image("sidecar", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512',\n\
           executionRoleArn='arn:aws:iam::123456789012:role/exec', tags=[{{'key': 'team', 'value': 'a'}}],\n\
           containerDefinitions=[{{'name': 'app', 'image': {app_image:?}, 'portMappings': [{{'containerPort': 8080, 'protocol': 'tcp'}}],\n\
              'environment': [{{'name': 'MODE', 'value': 'prod'}}], 'logConfiguration': {{'logDriver': 'awslogs', 'options': {{'awslogs-group': '/ecs/web'}}}},\n\
              'healthCheck': {{'command': ['CMD-SHELL', 'true'], 'interval': 30}}, 'ulimits': [{{'name': 'nofile', 'softLimit': 1024, 'hardLimit': 4096}}]}},\n\
             {{'name': 'log', 'image': {side:?}, 'essential': False, 'memoryReservation': 64}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=2, launchType='FARGATE',\n\
           networkConfiguration={{'awsvpcConfiguration': {{'subnets': ['subnet-1']}}}},\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {breaker}}})\n\
         import time\n\
         def settled():\n  s = ecs.describe_services(cluster='c1', services=['web'])['services'][0]\n  return s['deployments'][0].get('rolloutState') == 'COMPLETED'\n\
         ok = any(settled() or time.sleep(0.05) for _ in range(200))\n\
         print(json.dumps(ok))"
    ));
}

pub(crate) fn deploy(sb: &SandboxProc, args: &[&str]) -> Run {
    let mut all = vec!["deploy", "--cluster", "c1", "--poll-interval", "200ms"];
    all.extend_from_slice(args);
    stevedore(&all).sandbox(sb, true)
}

pub(crate) fn service(sb: &SandboxProc) -> Value {
    sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['web'])['services'][0], default=str))")
}

fn task_definitions(sb: &SandboxProc) -> Value {
    task_definitions_of(sb, "web")
}

#[test]
fn a_rollout_completes_and_only_the_image_changes() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    let run = deploy(
        &sb,
        &["--service", "web", "--container", &format!("app={v2}")],
    );
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out_file = home.path().join("out.json");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .env("STEVEDORE_OUTPUT_FILE", out_file.display().to_string())
        .run()
        .success();
    let text = &out.stdout;
    assert!(text.contains("registered web:2"), "{text}");
    // The tag is pinned to its digest (the registry's, as ECR reports it).
    let digest = sb.boto3("print(json.dumps(ecr.describe_images(repositoryName='app', imageIds=[{'imageTag': 'v2'}])['imageDetails'][0]['imageDigest']))");
    let digest = digest.as_str().unwrap();
    let pinned = format!("{}/app@{digest}", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    assert!(text.contains(&format!("pinned {v2} to {digest}")), "{text}");
    assert!(
        text.contains(&format!(
            "~ containerDefinitions[app].image: \"{v1}\" -> \"{pinned}\""
        )),
        "{text}"
    );
    assert!(text.contains("(service web) has started 2 tasks"), "{text}");
    assert!(text.contains("deployment completed."), "{text}");
    assert!(text.contains("running 2/2, pending 0, failed 0"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("web: deployed web:2 (ecs-svc/"),
        "{text}"
    );
    // Every other field comes back identical: compare the two revisions as boto3 reads them.
    let both = sb.boto3("a = ecs.describe_task_definition(taskDefinition='web:1')['taskDefinition']\nb = ecs.describe_task_definition(taskDefinition='web:2')['taskDefinition']\nprint(json.dumps([a, b], default=str))");
    let (mut a, mut b) = (both[0].clone(), both[1].clone());
    for k in [
        "taskDefinitionArn",
        "revision",
        "registeredAt",
        "registeredBy",
    ] {
        a.as_object_mut().unwrap().remove(k);
        b.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(b["containerDefinitions"][0]["image"], json!(pinned));
    b["containerDefinitions"][0]["image"] = json!(v1);
    assert_eq!(a, b, "a field changed or vanished besides the image");
    // Outputs for later steps.
    let exported = read_exports(&bash_env);
    assert!(exported["STEVEDORE_TASK_DEFINITION_ARN"].ends_with("task-definition/web:2"));
    assert!(exported["STEVEDORE_DEPLOYMENT_ID"].starts_with("ecs-svc/"));
    assert_eq!(exported["STEVEDORE_DEPLOY_RESULT"], "deployed");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(out_file).unwrap()).unwrap();
    assert_eq!(doc["deployments"][0]["result"], "deployed");
    assert_eq!(
        service(&sb)["taskDefinition"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some("web:2")
    );
    // Deploying the same image again registers nothing and starts nothing.
    let again = deploy(
        &sb,
        &["--service", "web", "--container", &format!("app={v2}")],
    )
    .run()
    .success();
    assert!(
        again
            .stdout
            .contains("nothing to deploy: the service already runs web:2"),
        "{}",
        again.stdout
    );
    assert_eq!(task_definitions(&sb).as_array().unwrap().len(), 2);
}

#[test]
fn a_crash_looping_image_fails_with_the_reason_and_the_breaker_rolls_back() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let bad = sb.push_image("app", "crash", CRASH);
    setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    let out = deploy(&sb, &["--service", "web", "--image", &bad]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout
            .contains("deployment failed: tasks failed to start."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "[EssentialContainerExited]: Essential container in task exited (app exited 3"
        ),
        "{}",
        out.stdout
    );
    // The verdict, once: on stdout with the rollout's story, not again on stderr.
    assert!(out.stdout.contains("ROLLED BACK"), "{}", out.stdout);
    assert_eq!(out.all().matches("ROLLED BACK").count(), 1, "{}", out.all());
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert!(service(&sb)["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("web:1"));
}

#[test]
fn without_ecs_rollback_a_failed_deployment_is_rolled_back_by_stevedore_when_asked() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let bad = sb.push_image("app", "crash", CRASH);
    setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let out = deploy(&sb, &["--service", "web", "--image", &bad, "--rollback"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains(
            "rolling back to web:1 (ECS deployment circuit breaker: tasks failed to start.)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "ROLLED BACK: ECS deployment circuit breaker: tasks failed to start.; restored web:1"
        ),
        "{}",
        out.stdout
    );
    let svc = service(&sb);
    assert!(svc["taskDefinition"].as_str().unwrap().ends_with("web:1"));
    assert_eq!(svc["deployments"][0]["rolloutState"], "COMPLETED");
}

#[test]
fn a_quiet_wait_prints_a_heartbeat_each_minute() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    // The sandbox's clock all but stopped: the rollout holds in one state for the whole wait.
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 0.001}"#);
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--timeout", "200s"],
    )
    .run();
    assert_eq!(out.code, 4, "{}", out.all());
    let beats: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("still following deployment "))
        .collect();
    // Held 200 s after its last change: a line at 1, 2 and 3 minutes, and no more.
    assert_eq!(beats.len(), 3, "{}", out.stdout);
    for (beat, minute) in beats.iter().zip(1u64..) {
        let so_far = beat
            .rsplit_once('(')
            .and_then(|(_, t)| t.strip_suffix(" so far)"))
            .expect(beat);
        let secs = match so_far.strip_suffix('m') {
            Some(m) => m.parse::<u64>().unwrap() * 60,
            None => so_far.trim_end_matches('s').parse::<f64>().unwrap() as u64,
        };
        assert!(
            (minute * 60..minute * 60 + 5).contains(&secs),
            "heartbeat {minute} came at {secs} s: {}",
            out.stdout
        );
    }
}

#[test]
fn a_missing_image_times_out_with_the_pull_error_printed() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    let missing = format!("{}/app:never-pushed", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    // Pinning finds out before anything is registered...
    let out = deploy(&sb, &["--service", "web", "--image", &missing]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("is not in ECR (ImageNotFoundException"),
        "{}",
        out.stderr
    );
    assert_eq!(task_definitions(&sb).as_array().unwrap().len(), 1);
    // ...and without it, ECS does: the pull fails until the timeout.
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &missing,
            "--timeout",
            "4s",
            "--pin-digests=false",
        ],
    )
    .run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout
            .contains("[TaskFailedToStart]: CannotPullContainerError"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TIMED OUT"), "{}", out.stdout);
}

#[test]
fn throttling_is_survived() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    sb.control(
        "PUT",
        "/_sandbox/faults",
        r#"{"throttle_next": 3, "operations": ["DescribeServices"]}"#,
    );
    assert_eq!(sb.control_get("/_sandbox/faults")["throttle_next"], 3);
    // The first DescribeServices (before the update) is throttled too: it is retried.
    let out = deploy(&sb, &["--service", "web", "--image", &v2])
        .env("AWS_MAX_ATTEMPTS", "5")
        .run()
        .success();
    assert!(out.stdout.contains("web: deployed web:2"), "{}", out.stdout);
    // The fault happened: three were armed above, and the deploy's calls drew all three.
    let faults = sb.control_get("/_sandbox/faults");
    assert_eq!(faults["throttle_next"], 0, "{faults}");
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    let before = (task_definitions(&sb), service(&sb)["deployments"].clone());
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--env",
            "app:MODE=staging",
            "--desired-count",
            "3",
            "--dry-run",
        ],
    )
    .run()
    .success();
    // Said once: the plan's heading names the dry run, the verdict says nothing changed.
    assert_eq!(
        out.stdout.matches("nothing changed").count(),
        1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "~ containerDefinitions[app].environment[MODE].value: \"prod\" -> \"staging\""
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("~ desiredCount: 2 -> 3"),
        "{}",
        out.stdout
    );
    let after = (task_definitions(&sb), service(&sb)["deployments"].clone());
    assert_eq!(before.0, after.0);
    assert_eq!(before.1[0]["id"], after.1[0]["id"]);
    assert_eq!(after.1.as_array().unwrap().len(), 1);
}

#[test]
fn a_dry_run_pins_and_decides_as_the_run_does() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    // A tag that is not in ECR: the dry run refuses it as the run does, with the same line.
    let missing = v2.replace(":v2", ":v3");
    let dry = deploy(&sb, &["--service", "web", "--image", &missing, "--dry-run"]).run();
    let real = deploy(&sb, &["--service", "web", "--image", &missing]).run();
    assert_eq!(
        (dry.code, real.code),
        (2, 2),
        "{}\n{}",
        dry.all(),
        real.all()
    );
    assert!(dry.stderr.contains("is not in ECR"), "{}", dry.stderr);
    assert_eq!(dry.stderr, real.stderr);
    // What runs pins to the same digest: nothing to deploy, in the dry run as in the run.
    deploy(&sb, &["--service", "web", "--image", &v2])
        .run()
        .success();
    let before = task_definitions(&sb);
    let dry = deploy(&sb, &["--service", "web", "--image", &v2, "--dry-run"])
        .run()
        .success();
    assert!(
        dry.stdout
            .contains("dry run: nothing to deploy: the service already runs web:2"),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("(new revision)"), "{}", dry.stdout);
    let real = deploy(&sb, &["--service", "web", "--image", &v2])
        .run()
        .success();
    assert!(
        real.stdout
            .contains("nothing to deploy: the service already runs web:2"),
        "{}",
        real.stdout
    );
    assert_eq!(before, task_definitions(&sb));
}

#[test]
fn bad_input_registers_nothing() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let broken = write(
        "broken.hbs",
        r#"{"family": "web", "containerDefinitions": [{{#each}}]}"#,
    );
    let needs_var = write(
        "needs.hbs",
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "{{image}}"}]}"#,
    );
    let not_json = write("td.json", "{\"family\": ");
    let memroy = write(
        "memroy.json",
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "x/app:1", "memroy": 512}]}"#,
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("unknown container", vec!["--container", "api=x/app:2"], "no container named 'api'"),
        ("malformed image", vec!["--container", "app=x/app:"], "--container app"),
        ("malformed template", vec!["--template", &broken], "--template"),
        ("template variable missing", vec!["--template", &needs_var], ": image is not set (strict mode); pass it with --var image=VALUE"),
        ("invalid ARN", vec!["--task-definition", "arn:aws:ecs:us-east-1:123456789012:service/c1/web"], "--task-definition"),
        ("malformed JSON", vec!["--task-definition-file", &not_json], "--task-definition-file"),
        ("bad timeout", vec!["--timeout", "soon"], "--timeout"),
        ("timeout without a unit", vec!["--timeout", "5"], "'5' needs a unit: say 5s or 5m"),
        ("mistyped field", vec!["--task-definition-file", &memroy], "containerDefinitions[app].memroy is not a field of a container definition (did you mean memory?)"),
        ("mistyped field, dry run", vec!["--task-definition-file", &memroy, "--dry-run"], "(did you mean memory?)"),
        ("env without container", vec!["--env", "MODE=x"], "--env"),
        ("verify without waiting", vec!["--image", &v1, "--verify", "true", "--wait-until", "none"], "--verify runs once the rollout completes"),
    ];
    for (what, args, needle) in cases {
        let mut all = vec!["--service", "web"];
        all.extend(args);
        let out = deploy(&sb, &all).run();
        assert_eq!(out.code, 2, "{what}: {}", out.all());
        let line = out.stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "{what}: {line}");
        assert!(line.contains(needle), "{what}: {line}");
    }
    assert_eq!(
        task_definitions(&sb).as_array().unwrap().len(),
        1,
        "nothing may be registered"
    );
    // A template that renders works, with --var.
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--template",
            &needs_var,
            "--var",
            &format!("image={v1}"),
            "--dry-run",
        ],
    )
    .run()
    .success();
    assert!(
        out.stdout.contains("- containerDefinitions[log]"),
        "{}",
        out.stdout
    );
    // Missing service and cluster are clear, and quick.
    let t = std::time::Instant::now();
    let out = deploy(&sb, &["--service", "nope"]).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("service nope not found in cluster c1"),
        "{}",
        out.stderr
    );
    let out = stevedore(&["deploy", "--cluster", "nope", "--service", "web"])
        .sandbox(&sb, true)
        .run();
    assert!(
        out.stderr.contains("cluster nope not found"),
        "{}",
        out.stderr
    );
    assert!(t.elapsed().as_secs_f64() < 2.0);
}

#[test]
fn several_services_deploy_concurrently_with_one_summary() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    sb.boto3("ecs.create_service(cluster='c1', serviceName='worker', taskDefinition='web:1', desiredCount=1, launchType='FARGATE', networkConfiguration={'awsvpcConfiguration': {'subnets': ['s']}})\nprint(1)");
    let out = deploy(&sb, &["--service", "web,worker", "--image", &v2])
        .run()
        .success();
    assert!(
        out.stdout.contains("[web] ") && out.stdout.contains("[worker] "),
        "{}",
        out.stdout
    );
    let summary = out.stdout.split("summary:").nth(1).unwrap();
    assert!(
        summary.contains("web: deployed web:2") && summary.contains("worker: deployed web:"),
        "{summary}"
    );
}

/// An image in `migrate` whose container exits with `code` a second after it starts.
pub(crate) fn exiting_image(sb: &SandboxProc, tag: &str, code: &str) -> String {
    sb.push_image(
        "migrate",
        tag,
        &[
            ("stevedore.sandbox.exit-code", code),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    )
}

#[test]
fn run_task_exits_with_the_containers_code() {
    let sb = SandboxProc::start();
    let migrate = exiting_image(&sb, "v1", "7");
    let ok = exiting_image(&sb, "ok", "0");
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\necs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {migrate:?}}}])\necs.register_task_definition(family='ok', containerDefinitions=[{{'name': 'm', 'image': {ok:?}}}])\nprint(1)"));
    let out = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--command",
        r#"["rake","db:migrate"]"#,
        "--env",
        "A=1",
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 7, "{}", out.all());
    assert!(
        out.stdout
            .contains("Essential container in task exited (m exited 7)"),
        "{}",
        out.stdout
    );
    let out = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "ok",
        "--poll-interval",
        "200ms",
        "--started-by",
        "circleci/job-42",
        "--group",
        "migrations",
        "--platform-version",
        "1.4.0",
        "--enable-execute-command",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    // ECS's own view (boto3): the task found by its startedBy, in its group; the first task
    // has the defaults (startedBy stevedore, group family:<family>).
    let who = sb.boto3(
        "t = ecs.list_tasks(cluster='c1', desiredStatus='STOPPED', startedBy='circleci/job-42')['taskArns']\n\
         d = ecs.describe_tasks(cluster='c1', tasks=t)['tasks']\n\
         m = ecs.describe_tasks(cluster='c1', tasks=ecs.list_tasks(cluster='c1', desiredStatus='STOPPED', family='migrate')['taskArns'])['tasks']\n\
         print(json.dumps([[x['startedBy'], x['group'], x['enableExecuteCommand'], x.get('platformVersion')] for x in d + m]))",
    );
    assert_eq!(
        who,
        json!([
            ["circleci/job-42", "migrations", true, "1.4.0"],
            ["stevedore", "family:migrate", false, null]
        ])
    );
    let bad = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "ok",
        "--started-by",
        "ci job",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr
            .contains("--started-by (STEVEDORE_STARTED_BY): 'ci job' is not"),
        "{}",
        bad.stderr
    );
    let overrides = sb.boto3("t = ecs.list_tasks(cluster='c1', desiredStatus='STOPPED')['taskArns']\nd = ecs.describe_tasks(cluster='c1', tasks=t)['tasks']\nprint(json.dumps([x['overrides'] for x in d]))");
    assert!(
        overrides
            .to_string()
            .contains(r#""command":["rake","db:migrate"]"#),
        "{overrides}"
    );
}

/// run-task's exit code is the container's when it ran, even when that code is one stevedore
/// uses itself: a migration's 2 stays 2, and the last line says it is the container's, not a
/// usage error (which names a flag and happens before any task starts).
#[test]
fn a_migration_exiting_2_is_the_containers_2_not_a_usage_error() {
    let sb = SandboxProc::start();
    let image = exiting_image(&sb, "two", "2");
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\necs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {image:?}}}])\nprint(1)"));
    let out = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stdout.contains("started task "), "{}", out.stdout);
    let last = out.stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("container m exited with 2") && !last.contains("see --help"),
        "{}",
        out.all()
    );
    // A usage error: exit 2 too, but before anything starts, naming the flag.
    let bad = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--timeout",
        "0s",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(bad.stderr.contains("--timeout"), "{}", bad.stderr);
    assert!(!bad.stdout.contains("started task"), "{}", bad.stdout);
    let tasks = sb.boto3("print(len(ecs.list_tasks(cluster='c1', desiredStatus='STOPPED')['taskArns']) + len(ecs.list_tasks(cluster='c1')['taskArns']))");
    assert_eq!(tasks, serde_json::json!(1), "only the migration's task ran");
}

#[test]
fn a_wait_that_outlives_the_oidc_credentials_re_assumes_the_role() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    // Credentials from `stevedore auth`, as a job has them.
    let token = sb.token(&["--project", "proj-1"]);
    let role = format!(
        "arn:aws:iam::{}:role/circleci-deployer",
        sb.env["AWS_ACCOUNT_ID"]
    );
    let auth = stevedore(&["auth", "--role-arn", &role])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &token);
    let home = auth.home();
    let bash_env = home.path().join("bash_env");
    auth.env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    let creds = read_exports(&bash_env);
    // A slow rollout (real time), and the sandbox clock jumps past the credentials' expiry mid-wait.
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 1}"#);
    let jump = sb.control_later(vec![(
        1500,
        "POST",
        "/_sandbox/clock",
        r#"{"advance": 3700}"#.into(),
    )]);
    let out = deploy(&sb, &["--service", "web", "--image", &v2])
        .sandbox(&sb, false)
        .env("AWS_ACCESS_KEY_ID", &creds["AWS_ACCESS_KEY_ID"])
        .env("AWS_SECRET_ACCESS_KEY", &creds["AWS_SECRET_ACCESS_KEY"])
        .env("AWS_SESSION_TOKEN", &creds["AWS_SESSION_TOKEN"])
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .env("AWS_ROLE_ARN", &role)
        .run();
    jump.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(&format!("re-assumed {role}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("web: deployed web:2"), "{}", out.stdout);
}

#[test]
fn a_missing_service_is_created_from_a_task_definition_file_when_asked() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    sb.boto3("ecs.create_cluster(clusterName='c1')\nprint(1)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("td.json");
    std::fs::write(&file, json!({"family": "api", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "512", "memory": "1024",
        "containerDefinitions": [{"name": "api", "image": v1}]}).to_string()).unwrap();
    let f = file.display().to_string();
    let out = deploy(
        &sb,
        &[
            "--service",
            "api",
            "--task-definition-file",
            &f,
            "--create-service",
        ],
    )
    .run();
    assert_eq!(
        out.code,
        2,
        "FARGATE without subnets is refused before any call: {}",
        out.all()
    );
    assert!(out.stderr.contains("--subnets"), "{}", out.stderr);
    let out = deploy(
        &sb,
        &[
            "--service",
            "api",
            "--task-definition-file",
            &f,
            "--create-service",
            "--subnets",
            "subnet-1",
            "--desired-count",
            "2",
        ],
    )
    .run()
    .success();
    assert!(
        out.stdout.contains("created service api in c1"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("api: deployed api:1"), "{}", out.stdout);
    let svc = sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['api'])['services'][0], default=str))");
    assert_eq!(svc["runningCount"], 2);
    assert_eq!(
        svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"][0],
        "subnet-1"
    );
    // Without --create-service, a missing service is an error that says how to fix it.
    let out = deploy(&sb, &["--service", "other", "--task-definition-file", &f]).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("pass --create-service"),
        "{}",
        out.stderr
    );
}

#[test]
fn wait_until_stable_returns_with_the_old_tasks_drained() {
    // The sandbox has no load-balancer draining, so there COMPLETED and drained coincide; the
    // case where they differ (COMPLETED while the old deployment drains) is unit-tested in
    // `ecs::wait`. This checks the flag end to end.
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': False, 'rollback': False}");
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--wait-until", "stable"],
    )
    .run()
    .success();
    assert!(out.stdout.contains("web: deployed web:2"), "{}", out.stdout);
    let svc = service(&sb);
    assert_eq!(
        svc["deployments"].as_array().unwrap().len(),
        1,
        "only the new deployment is left: {svc}"
    );
    assert_eq!(svc["runningCount"], 2);
    let old = sb.boto3("t = ecs.list_tasks(cluster='c1', serviceName='web', desiredStatus='RUNNING')['taskArns']\nd = ecs.describe_tasks(cluster='c1', tasks=t)['tasks']\nprint(json.dumps(sorted(x['taskDefinitionArn'].rsplit('/', 1)[1] for x in d)))");
    assert_eq!(old, json!(["web:2", "web:2"]));
}

#[test]
fn run_task_with_a_new_image_registers_a_pinned_revision_first() {
    let sb = SandboxProc::start();
    let old = sb.push_image(
        "migrate",
        "v1",
        &[
            ("stevedore.sandbox.exit-code", "7"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    let new = sb.push_image(
        "migrate",
        "v2",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\necs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {old:?}}}])\nprint(1)"));
    let run = |image: &str| {
        stevedore(&[
            "run-task",
            "--cluster",
            "c1",
            "--task-definition",
            "migrate",
            "--image",
            image,
            "--poll-interval",
            "200ms",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let out = run(&new);
    assert_eq!(out.code, 0, "the new image exits 0: {}", out.all());
    assert!(
        out.stdout.contains("registered migrate:2 with "),
        "{}",
        out.stdout
    );
    let image = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='migrate:2')['taskDefinition']['containerDefinitions'][0]['image']))");
    assert!(
        image.as_str().unwrap().contains("/migrate@sha256:"),
        "pinned to the digest: {image}"
    );
    // An image of another repository names the problem and registers nothing.
    let other = sb.push_image("other", "v1", &[]);
    let out = run(&other);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("no container uses repository"),
        "{}",
        out.stderr
    );
    assert_eq!(
        task_definitions_of(&sb, "migrate"),
        json!([
            "arn:aws:ecs:us-east-1:123456789012:task-definition/migrate:1",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/migrate:2"
        ])
    );
}

fn task_definitions_of(sb: &SandboxProc, family: &str) -> Value {
    sb.boto3(&format!(
        "print(json.dumps(ecs.list_task_definitions(familyPrefix={family:?})['taskDefinitionArns']))"
    ))
}

/// Tags of a task definition revision, read back with boto3 (`include=['TAGS']`).
fn td_tags(sb: &SandboxProc, td: &str) -> Value {
    sb.boto3(&format!(
        "print(json.dumps(ecs.describe_task_definition(taskDefinition={td:?}, include=['TAGS'])['tags']))"
    ))
}

#[test]
fn every_path_that_registers_keeps_the_previous_revisions_tags() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    let v3 = sb.push_image("app", "v3", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    // web:1 was registered with team=a; one more tag through TagResource.
    sb.boto3("ecs.tag_resource(resourceArn='arn:aws:ecs:us-east-1:123456789012:task-definition/web:1', tags=[{'key': 'cost-center', 'value': '42'}])\nprint(1)");
    let want = json!([{"key": "team", "value": "a"}, {"key": "cost-center", "value": "42"}]);
    assert_eq!(td_tags(&sb, "web:1"), want);

    // 1. A deploy that changes the image.
    deploy(
        &sb,
        &["--service", "web", "--container", &format!("app={v2}")],
    )
    .run()
    .success();
    assert_eq!(td_tags(&sb, "web:2"), want, "deploy --container");

    // 2. A template that says nothing of tags.
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("web.json.hbs");
    std::fs::write(
        &template,
        r#"{"family": "web", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": "app", "image": "{{image}}"}]}"#,
    )
    .unwrap();
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--template",
            template.to_str().unwrap(),
            "--var",
            &format!("image={v3}"),
        ],
    )
    .run()
    .success();
    assert!(out.stdout.contains("registered web:3"), "{}", out.stdout);
    assert_eq!(td_tags(&sb, "web:3"), want, "deploy --template");
    let listed = sb.boto3("print(json.dumps(ecs.list_tags_for_resource(resourceArn='arn:aws:ecs:us-east-1:123456789012:task-definition/web:3')['tags']))");
    assert_eq!(listed, want, "ListTagsForResource agrees");

    // 3. run-task --image registers a revision of the migration's family.
    let m1 = sb.push_image(
        "migrate",
        "v1",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    let m2 = sb.push_image(
        "migrate",
        "v2",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    sb.boto3(&format!("ecs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {m1:?}}}], tags=[{{'key': 'job', 'value': 'db'}}])\nprint(1)"));
    stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--image",
        &m2,
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert_eq!(
        td_tags(&sb, "migrate:2"),
        json!([{"key": "job", "value": "db"}]),
        "run-task --image"
    );
}

#[test]
fn tags_on_demand_are_added_or_changed_on_the_new_revision_and_the_rest_kept() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    // Only tags change: that alone is a new revision (web:1 has team=a).
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--tag-task-definition",
            "team=api,release=42",
        ],
    )
    .run()
    .success();
    assert!(out.stdout.contains("registered web:2"), "{}", out.stdout);
    assert_eq!(
        td_tags(&sb, "web:2"),
        json!([{"key": "team", "value": "api"}, {"key": "release", "value": "42"}])
    );
    assert!(service(&sb)["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("web:2"));
    // The same tags again: nothing to deploy, nothing registered.
    let out = deploy(
        &sb,
        &["--service", "web", "--tag-task-definition", "release=42"],
    )
    .run()
    .success();
    assert!(out.stdout.contains("nothing to deploy"), "{}", out.stdout);
    // A tag ECS would refuse is refused before anything is registered, naming the item.
    let out = deploy(
        &sb,
        &["--service", "web", "--tag-task-definition", "aws:owner=me"],
    )
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(
        out.stderr.trim(),
        "stevedore: --tag-task-definition: 'aws:owner=me': keys starting with aws: are reserved for AWS"
    );
    assert_eq!(task_definitions(&sb).as_array().unwrap().len(), 2);
}

/// Services deployed together keep their own deadlines: `web`'s rollback starts a fresh
/// `--timeout` for `web` alone, and `api`, whose DescribeServices call hangs from then on, gives
/// up at its own `--timeout` (it used to inherit `web`'s, set on the client they share).
#[test]
fn a_hung_call_ends_at_its_own_services_timeout_while_another_service_rolls_back() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let bad = sb.push_image("app", "crash", CRASH);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v1:?}, 'memory': 128}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=2,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': True, 'rollback': False}}}})\n\
         ecs.create_service(cluster='c1', serviceName='api', taskDefinition='web:1', desiredCount=2,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': False, 'rollback': False}}}})\n\
         import time\n\
         def settled():\n  return all(s['deployments'][0].get('rolloutState') == 'COMPLETED' for s in ecs.describe_services(cluster='c1', services=['web', 'api'])['services'])\n\
         print(json.dumps(any(settled() or time.sleep(0.05) for _ in range(200))))"
    ));
    // In real time, `web`'s breaker trips seconds into the run: long enough for a fresh
    // deadline of its own to differ from `api`'s by more than the tolerance.
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 1}"#);
    let timeout = 20.0;
    let mut hung_at = None;
    let (out, lines) = deploy(
        &sb,
        &[
            "--service",
            "web,api",
            "--image",
            &bad,
            "--rollback",
            "--timeout",
            "20s",
        ],
    )
    .run_watching(|line, at| {
        if hung_at.is_none() && line.starts_with("[web] rolling back to web:1") {
            hung_at = Some(at);
            sb.control(
                "PUT",
                "/_sandbox/faults",
                r#"{"latency_ms": 600000, "operations": ["DescribeServices"]}"#,
            );
        }
    });
    let hung_at = hung_at.unwrap_or_else(|| panic!("web never rolled back:\n{}", out.all()));
    assert!(
        (2.0..timeout - 2.0).contains(&hung_at.as_secs_f64()),
        "web's rollback began at {hung_at:?}: {}",
        out.all()
    );
    let (gave_up, _) = lines
        .iter()
        .find(|(_, l)| l.starts_with("[api] rolling back to web:1 (no success within 20s)"))
        .unwrap_or_else(|| panic!("api did not time out:\n{}", out.all()));
    eprintln!("web's rollback began at {hung_at:?}; api gave up at {gave_up:?}");
    assert!(
        (gave_up.as_secs_f64() - timeout).abs() <= 1.0,
        "api gave up {gave_up:?} after the start, its --timeout is {timeout} s (web's rollback began at {hung_at:?}):\n{}",
        out.all()
    );
    // Both rollbacks hang in turn and fail; a failure outranks a timeout in the exit code.
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains("web: deployment of web:2 FAILED")
            && out.stdout.contains("api: deployment of web:2 FAILED"),
        "{}",
        out.stdout
    );
}

/// After ECS's circuit breaker rolls a deployment back, the deploy follows the rollback to its
/// end: the last line says the previous revision runs again (exit 3), and the report keeps it;
/// with `--rollback-wait none` it exits at the verdict and says the rollback goes on.
#[test]
fn a_breaker_rollback_is_followed_until_the_previous_revision_runs_again() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let bad = sb.push_image("app", "crash", CRASH);
    setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("report");
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &bad,
            "--report",
            report_dir.to_str().unwrap(),
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "web: deployment of web:2 ROLLED BACK: deployment failed: tasks failed to start."
        ) && last.contains("; rolled back: web:1 running 2/2 again after "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("following ECS's rollback to web:1 (deployment "),
        "{}",
        out.stdout
    );
    // Read back by boto3: the previous revision is the service's, its rollout done, 2 running.
    let svc = service(&sb);
    let primary = svc["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .unwrap();
    assert!(
        primary["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("web:1"),
        "{svc}"
    );
    assert_eq!(primary["rolloutState"], "COMPLETED", "{svc}");
    assert_eq!(
        (
            primary["runningCount"].as_i64(),
            primary["desiredCount"].as_i64()
        ),
        (Some(2), Some(2)),
        "{svc}"
    );
    let report = crate::report::valid_report(&report_dir);
    assert_eq!(
        report["services"][0]["rollback"]["state"], "restored",
        "{report}"
    );

    // --rollback-wait none: the verdict at ECS's decision, the rollback left to ECS.
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &bad,
            "--rollback-wait",
            "none",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout
            .lines()
            .last()
            .unwrap_or_default()
            .ends_with("ECS is rolling back to web:1 (not followed: --rollback-wait none)"),
        "{}",
        out.stdout
    );
}

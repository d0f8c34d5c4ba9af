//! What tasks printed, from CloudWatch Logs: `run-task` streams a one-off task's output into the
//! job's, and a failed deploy shows the failing container's last lines once per distinct
//! failure. Simulated tasks print what their image's labels say; in Docker mode the real
//! container's output is read back. Shapes are read back with boto3 too.

use crate::deploy::CRASH;
use crate::harness::*;
use serde_json::json;
use std::process::Command;

/// `containerDefinitions` for one container `m` with `image`, logging to `/ecs/migrate` with
/// the stream prefix `ecs` (when `logged`).
fn container(image: &str, logged: bool) -> String {
    let logging = if logged {
        ", 'logConfiguration': {'logDriver': 'awslogs', 'options': {'awslogs-group': '/ecs/migrate', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs'}}"
    } else {
        ""
    };
    format!("[{{'name': 'm', 'image': {image:?}{logging}}}]")
}

/// The `m| …` lines of an output, without the prefix.
fn printed(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("m| "))
        .collect()
}

#[test]
fn run_task_streams_the_tasks_output_then_exits_with_its_code() {
    let sb = SandboxProc::start();
    let image = sb.push_image(
        "migrate",
        "v1",
        &[
            ("stevedore.sandbox.exit-code", "4"),
            ("stevedore.sandbox.exit-after", "3"),
            ("stevedore.sandbox.log-count", "500"),
        ],
    );
    let quiet = sb.push_image(
        "migrate",
        "quiet",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='migrate', containerDefinitions={})\n\
         ecs.register_task_definition(family='unlogged', containerDefinitions={})\nprint(1)",
        container(&image, true),
        container(&quiet, false)
    ));
    let run = |family: &str, extra: &[&str]| {
        let mut args = vec![
            "run-task",
            "--cluster",
            "c1",
            "--task-definition",
            family,
            "--poll-interval",
            "200ms",
        ];
        args.extend_from_slice(extra);
        stevedore(&args).sandbox(&sb, true).run()
    };
    let out = run("migrate", &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    let want: Vec<String> = (1..=500).map(|i| format!("line {i}")).collect();
    assert_eq!(printed(&out.stdout), want, "every line once, in order");
    // The output comes before the stop, and the exit code after it.
    let last_line = out.stdout.find("m| line 500").unwrap();
    assert!(
        last_line < out.stdout.find("STOPPED").unwrap(),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("container m exited with 4"),
        "{}",
        out.stderr
    );

    // The same stream through boto3: 500 events, a filter, the stream listed.
    let seen = sb.boto3(
        "s = logs.describe_log_streams(logGroupName='/ecs/migrate')['logStreams']\n\
         name = s[0]['logStreamName']\n\
         ev = logs.get_log_events(logGroupName='/ecs/migrate', logStreamName=name, startFromHead=True)\n\
         f = logs.filter_log_events(logGroupName='/ecs/migrate', filterPattern='\"line 42\"')['events']\n\
         print(json.dumps([len(s), name.startswith('ecs/m/'), len(ev['events']), ev['events'][0]['message'], [e['message'] for e in f]]))",
    );
    assert_eq!(
        seen,
        json!([
            1,
            true,
            500,
            "line 1",
            [
                "line 42", "line 420", "line 421", "line 422", "line 423", "line 424", "line 425",
                "line 426", "line 427", "line 428", "line 429"
            ]
        ])
    );

    // Lines are printed as they arrive: a run given up while the task still runs (a 200 s task,
    // 10 real seconds at the sandbox's 20x, left after 3) has printed the first ones, in order.
    let slow = sb.push_image(
        "migrate",
        "slow",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "200"),
            ("stevedore.sandbox.log-count", "500"),
        ],
    );
    sb.boto3(&format!(
        "ecs.register_task_definition(family='slow', containerDefinitions={})\nprint(1)",
        container(&slow, true)
    ));
    let early = run("slow", &["--timeout", "3s"]);
    assert_eq!(early.code, 4, "timed out: {}", early.all());
    let got = printed(&early.stdout);
    assert!(
        !got.is_empty() && got.len() < 500,
        "{} lines: {}",
        got.len(),
        early.stdout
    );
    assert_eq!(got, want[..got.len()].to_vec());

    // --logs off prints none of it.
    let off = run("migrate", &["--logs", "off"]);
    assert_eq!(off.code, 4);
    assert!(printed(&off.stdout).is_empty(), "{}", off.stdout);

    // No awslogs configuration: said once, and the task still runs to its code.
    let out = run("unlogged", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stdout
            .matches("no logs to show for m: give the container a logConfiguration")
            .count(),
        1,
        "{}",
        out.stdout
    );
}

#[test]
fn a_crash_looping_deploy_shows_the_failing_containers_last_lines_once() {
    let sb = SandboxProc::start();
    let good = sb.push_image("app", "v1", &[]);
    let mut labels = CRASH.to_vec();
    labels.push(("stevedore.sandbox.log-lines", "booting\nTraceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nValueError: DATABASE_URL is not set"));
    let bad = sb.push_image("app", "crash", &labels);
    let logged = "'logConfiguration': {'logDriver': 'awslogs', 'options': {'awslogs-group': '/ecs/web', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'web'}}";
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {good:?}, {logged}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=2,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': True, 'rollback': True}}}})\nprint(1)"
    ));
    let out = crate::deploy::deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &bad,
            "--log-lines",
            "3",
            "--timeout",
            "2m",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    // Several tasks crashed the same way: their stop reasons each, the trace once, beside the first.
    assert!(
        out.stdout
            .matches("stopped [EssentialContainerExited]")
            .count()
            >= 2,
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout
            .matches("app| ValueError: DATABASE_URL is not set")
            .count(),
        1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("the last 3 lines of app (web/app/"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("app| booting"),
        "only the last 3 lines: {}",
        out.stdout
    );
    let first_stop = out
        .stdout
        .find("stopped [EssentialContainerExited]")
        .unwrap();
    assert!(
        out.stdout.find("app| ValueError").unwrap() > first_stop,
        "{}",
        out.stdout
    );
}

/// Docker mode: a real container prints 500 numbered lines and exits 4; run-task's output
/// holds each line once, in order, then the exit code.
#[test]
fn in_docker_mode_run_task_prints_what_the_real_container_printed() {
    let sb = SandboxProc::start_docker();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).expect("busybox-static (make deps)");
    scratch_dockerfile(dir.path(), "COPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"sh\", \"-c\", \"for i in $(/bin/busybox seq 1 500); do echo line $i; done; exit 4\"]\n");
    let local = format!("stevedore-logs-test:{}", std::process::id());
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &local])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    sb.boto3("ecr.create_repository(repositoryName='migrate')\nprint(1)");
    let pushed = stevedore(&[
        "push",
        "--docker-image",
        &local,
        "--repo",
        "migrate",
        "--tag",
        "v1",
    ])
    .sandbox(&sb, true)
    .run();
    let _ = Command::new("docker")
        .args(["image", "rm", "--force", &local])
        .output();
    assert_eq!(pushed.code, 0, "{}", pushed.all());
    let image = format!("{}/migrate:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='migrate', containerDefinitions={})\nprint(1)",
        container(&image, true)
    ));
    let out = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--poll-interval",
        "500ms",
        "--timeout",
        "2m",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 4, "{}", out.all());
    let want: Vec<String> = (1..=500).map(|i| format!("line {i}")).collect();
    assert_eq!(printed(&out.stdout), want, "every line once, in order");

    // While a real container runs, its lines arrive: a 10 s task left after 6 s has printed
    // its first lines, in order.
    let slow = r#"["/bin/busybox", "sh", "-c", "for i in $(/bin/busybox seq 1 10); do echo line $i; /bin/busybox sleep 1; done"]"#;
    let early = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--command",
        slow,
        "--poll-interval",
        "500ms",
        "--timeout",
        "6s",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(early.code, 4, "timed out: {}", early.all());
    let got = printed(&early.stdout);
    assert!(
        !got.is_empty() && got.len() < 10,
        "{} lines: {}",
        got.len(),
        early.stdout
    );
    assert_eq!(got, want[..got.len()].to_vec());
}

/// As a role holding what `iam policy --log-group` renders, run-task prints the task's output;
/// without the ReadTaskLogs statement it says once why it cannot, and still exits with the
/// task's code.
#[test]
fn reading_logs_needs_the_read_task_logs_statement_and_its_absence_is_said_once() {
    let sb = SandboxProc::start();
    let image = sb.push_image(
        "migrate",
        "v1",
        &[
            ("stevedore.sandbox.exit-code", "4"),
            ("stevedore.sandbox.exit-after", "2"),
            ("stevedore.sandbox.log-count", "20"),
        ],
    );
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='migrate', containerDefinitions={})\nprint(1)",
        container(&image, true)
    ));
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--cluster",
            "c1",
            "--run-task-family",
            "migrate",
            "--log-group",
            "/ecs/migrate",
        ],
    );
    let statements = policy["Statement"].as_array().unwrap().clone();
    let sid = |s: &serde_json::Value| s["Sid"].as_str().unwrap_or_default().to_string();
    assert!(
        statements.iter().any(|s| sid(s) == "ReadTaskLogs"),
        "{policy:#}"
    );
    let mut without = policy.clone();
    without["Statement"] = json!(statements
        .iter()
        .filter(|s| sid(s) != "ReadTaskLogs")
        .collect::<Vec<_>>());
    for (policy, logs_readable) in [(policy, true), (without, false)] {
        sb.put_role("ci", None, Some(&policy));
        let home = tempfile::tempdir().unwrap();
        let bash_env = home.path().join("bash_env");
        assert_eq!(crate::iam::assume_ci(&sb, &bash_env).code, 0);
        let mut cmd = stevedore(&[
            "run-task",
            "--cluster",
            "c1",
            "--task-definition",
            "migrate",
            "--poll-interval",
            "200ms",
        ])
        .sandbox(&sb, false);
        for (k, v) in read_exports(&bash_env) {
            cmd = cmd.env(&k, &v);
        }
        let out = cmd.run();
        assert_eq!(out.code, 4, "{}", out.all());
        if logs_readable {
            assert_eq!(printed(&out.stdout).len(), 20, "{}", out.stdout);
        } else {
            assert!(printed(&out.stdout).is_empty(), "{}", out.stdout);
            assert_eq!(
                out.stderr
                    .matches("not authorized to perform: logs:GetLogEvents")
                    .count(),
                1,
                "{}",
                out.stderr
            );
            assert!(
                out.stderr
                    .contains("stevedore iam policy --log-group /ecs/migrate"),
                "{}",
                out.stderr
            );
        }
    }
}

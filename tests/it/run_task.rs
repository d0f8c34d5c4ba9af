//! `stevedore run-task`'s RunTask options (count, placement, capacity providers, tags, the
//! overrides file, the output file), read back from the sandbox with boto3.

use crate::deploy::exiting_image;
use crate::harness::*;
use serde_json::json;

#[test]
fn run_task_passes_count_placement_providers_tags_and_overrides_to_ecs() {
    let sb = SandboxProc::start();
    let image = exiting_image(&sb, "five", "5");
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {image:?}}}], tags=[{{'key': 'owner', 'value': 'db-team'}}])\nprint(1)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("overrides.json");
    std::fs::write(
        &overrides,
        r#"{"memory": "2048", "containerOverrides": [{"name": "m", "environment": [{"name": "MODE", "value": "file"}, {"name": "KEPT", "value": "1"}]}]}"#,
    )
    .unwrap();
    let output = dir.path().join("run-task.json");
    let out = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "migrate",
        "--count",
        "2",
        "--capacity-provider",
        "FARGATE_SPOT:1",
        "--placement-constraint",
        "distinctInstance",
        "--placement-strategy",
        "spread:attribute:ecs.availability-zone",
        "--tag",
        "job=42",
        "--propagate-tags",
        "--enable-ecs-managed-tags",
        "--overrides-file",
        overrides.to_str().unwrap(),
        "--env",
        "MODE=flag",
        "--output-file",
        output.to_str().unwrap(),
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, true)
    .run();
    // Both tasks ran and exited 5: the command's code is theirs; each start is printed.
    assert_eq!(out.code, 5, "{}", out.all());
    assert_eq!(
        out.stdout.matches("started task ").count(),
        2,
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout
            .matches("Essential container in task exited (m exited 5)")
            .count(),
        2,
        "{}",
        out.stdout
    );
    // ECS's view of the two tasks (boto3).
    let seen = sb.boto3(
        "t = ecs.list_tasks(cluster='c1', desiredStatus='STOPPED')['taskArns']\n\
         d = ecs.describe_tasks(cluster='c1', tasks=t, include=['TAGS'])['tasks']\n\
         print(json.dumps([[x['capacityProviderName'], x['launchType'], sorted([tg['key'] + '=' + tg['value'] for tg in x['tags']]), x['overrides']] for x in d]))",
    );
    let one = json!([
        "FARGATE_SPOT",
        "FARGATE",
        ["aws:ecs:clusterName=c1", "job=42", "owner=db-team"],
        {"memory": "2048", "containerOverrides": [{"name": "m", "environment": [{"name": "KEPT", "value": "1"}, {"name": "MODE", "value": "flag"}]}]}
    ]);
    assert_eq!(seen, json!([one.clone(), one]));
    // The output file: RunTask's answer, owner-only.
    let text = std::fs::read_to_string(&output).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["tasks"].as_array().map(Vec::len), Some(2), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn run_task_options_are_checked_before_any_task_starts() {
    let sb = SandboxProc::start();
    let image = exiting_image(&sb, "ok", "0");
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {image:?}}}])\nprint(1)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let bad_overrides = dir.path().join("o.json");
    std::fs::write(&bad_overrides, r#"{"cpuUnits": "1"}"#).unwrap();
    let bad_overrides = bad_overrides.to_str().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--count", "11"], "--count"),
        (&["--launch-type", "FARGATE", "--capacity-provider", "FARGATE"], "--launch-type and --capacity-provider"),
        (&["--placement-constraint", "sameHost"], "--placement-constraint: type 'sameHost'"),
        (&["--placement-strategy", "pack"], "--placement-strategy: type 'pack'"),
        (&["--capacity-provider", "FARGATE:x"], "--capacity-provider: 'FARGATE:x'"),
        (&["--tag", "aws:x=1"], "--tag: 'aws:x'"),
        (&["--overrides-file", &bad_overrides], "'cpuUnits' is not a member of ECS's TaskOverride"),
        (&["--output-file", "/nonexistent/dir/out.json"], "--output-file (STEVEDORE_RUN_TASK_OUTPUT) /nonexistent/dir/out.json: cannot write there"),
    ];
    for (extra, says) in cases {
        let mut args = vec![
            "run-task",
            "--cluster",
            "c1",
            "--task-definition",
            "migrate",
        ];
        args.extend_from_slice(extra);
        let out = stevedore(&args).sandbox(&sb, true).run();
        assert_eq!(out.code, 2, "{extra:?}: {}", out.all());
        assert!(out.stderr.contains(says), "{extra:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{extra:?}: {}",
            out.stderr
        );
    }
    let tasks = sb.boto3("print(len(ecs.list_tasks(cluster='c1', desiredStatus='STOPPED')['taskArns']) + len(ecs.list_tasks(cluster='c1')['taskArns']))");
    assert_eq!(tasks, json!(0), "no task started");
}

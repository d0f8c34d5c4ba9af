//! `stevedore schedule` against the sandbox's EventBridge Scheduler and EventBridge: the
//! schedules and rule targets are set up and read back with boto3 (a client that is not
//! stevedore), and the sandbox runs them to show the new revision is what runs.

use crate::harness::*;
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/scheduled-tasks";

/// A cluster, the `report` family at revision 1 (image v1), a schedule `nightly` and a rule
/// `nightly-report` whose ECS targets run it with every field AWS allows set, a rule `hook`
/// whose one target is a Lambda function, and the v2 image pushed. Returns v2's reference.
fn scheduled(sb: &SandboxProc) -> String {
    let v1 = sb.push_image("report", "v1", &[]);
    let v2 = sb.push_image("report", "v2", &[]);
    let ecs = r#"{'TaskDefinitionArn': td, 'TaskCount': 2, 'LaunchType': 'FARGATE', 'PlatformVersion': '1.4.0', 'Group': 'reports',
        'NetworkConfiguration': {'awsvpcConfiguration': {'Subnets': ['subnet-1', 'subnet-2'], 'SecurityGroups': ['sg-1'], 'AssignPublicIp': 'DISABLED'}},
        'EnableECSManagedTags': True, 'EnableExecuteCommand': False, 'PropagateTags': 'TASK_DEFINITION', 'ReferenceId': 'ref-1'}"#;
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         td = ecs.register_task_definition(family='report', containerDefinitions=[{{'name': 'app', 'image': {v1:?}}}], tags=[{{'key': 'team', 'value': 'data'}}])['taskDefinition']['taskDefinitionArn']\n\
         cluster = 'arn:aws:ecs:us-east-1:123456789012:cluster/c1'\n\
         p = {ecs}\n\
         s = dict(p); s['Tags'] = [{{'team': 'data'}}]\n\
         scheduler.create_schedule(Name='nightly', ScheduleExpression='cron(0 3 * * ? *)', ScheduleExpressionTimezone='Europe/Paris',\n\
             Description='the nightly report', FlexibleTimeWindow={{'Mode': 'FLEXIBLE', 'MaximumWindowInMinutes': 15}}, State='ENABLED',\n\
             Target={{'Arn': cluster, 'RoleArn': {ROLE:?}, 'EcsParameters': s, 'RetryPolicy': {{'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 3600}},\n\
                     'DeadLetterConfig': {{'Arn': 'arn:aws:sqs:us-east-1:123456789012:dlq'}}, 'Input': '{{}}'}})\n\
         events.put_rule(Name='nightly-report', ScheduleExpression='cron(0 4 * * ? *)')\n\
         r = dict(p); r['Tags'] = [{{'Key': 'team', 'Value': 'data'}}]\n\
         events.put_targets(Rule='nightly-report', Targets=[{{'Id': 'report', 'Arn': cluster, 'RoleArn': {ROLE:?}, 'EcsParameters': r, 'Input': '{{\"containerOverrides\": []}}',\n\
             'RetryPolicy': {{'MaximumRetryAttempts': 1}}}}])\n\
         events.put_rule(Name='hook', ScheduleExpression='rate(1 hour)')\n\
         events.put_targets(Rule='hook', Targets=[{{'Id': 'fn', 'Arn': 'arn:aws:lambda:us-east-1:123456789012:function:hook'}}])\n\
         print(1)"
    ));
    v2
}

/// The schedule and the rules' targets as boto3 reads them.
fn read_back(sb: &SandboxProc) -> Value {
    sb.boto3(
        "s = scheduler.get_schedule(Name='nightly')\n\
         s.pop('ResponseMetadata')\n\
         t = events.list_targets_by_rule(Rule='nightly-report')['Targets']\n\
         h = events.list_targets_by_rule(Rule='hook')['Targets']\n\
         print(json.dumps({'schedule': s, 'rule': t, 'hook': h}, default=str))",
    )
}

fn task_definitions(sb: &SandboxProc) -> Value {
    sb.boto3(
        "print(json.dumps(ecs.list_task_definitions(familyPrefix='report')['taskDefinitionArns']))",
    )
}

#[test]
fn a_schedule_and_a_rule_move_to_the_new_revision_with_every_other_field_kept() {
    let sb = SandboxProc::start();
    let v2 = scheduled(&sb);
    let before = read_back(&sb);
    // Dry run: says what would change, changes nothing.
    let dry = stevedore(&[
        "schedule",
        "--schedule",
        "nightly",
        "--rule",
        "nightly-report",
        "--task-definition",
        "report",
        "--image",
        &v2,
        "--dry-run",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("would register a revision of report with"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("would change schedule default/nightly: report:1 → report:<new revision>"),
        "{}",
        dry.stdout
    );
    assert_eq!(read_back(&sb), before);
    assert_eq!(task_definitions(&sb).as_array().map(Vec::len), Some(1));

    let out = stevedore(&[
        "schedule",
        "--schedule",
        "nightly",
        "--rule",
        "nightly-report",
        "--task-definition",
        "report",
        "--image",
        &v2,
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("changed schedule default/nightly: report:1 → report:2"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "changed rule nightly-report (bus default), target report: report:1 → report:2"
        ),
        "{}",
        out.stdout
    );
    let after = read_back(&sb);
    let new = "arn:aws:ecs:us-east-1:123456789012:task-definition/report:2";
    // Every field as it was, but the task definition (and the schedule's modification date).
    let mut want = before.clone();
    want["schedule"]["Target"]["EcsParameters"]["TaskDefinitionArn"] = json!(new);
    want["schedule"]["LastModificationDate"] = after["schedule"]["LastModificationDate"].clone();
    want["rule"][0]["EcsParameters"]["TaskDefinitionArn"] = json!(new);
    assert_eq!(after, want);
    assert_ne!(
        after["schedule"]["LastModificationDate"],
        before["schedule"]["LastModificationDate"]
    );

    // The sandbox runs the schedule and the rule: their tasks use the new revision and image.
    for path in [
        "/_sandbox/schedules/default/nightly/run?region=us-east-1",
        "/_sandbox/rules/default/nightly-report/run?region=us-east-1",
    ] {
        let ran = sb.control_json("POST", path, "");
        let arns = ran["taskArns"].as_array().cloned().unwrap_or_default();
        assert_eq!(arns.len(), 2, "{path}: {ran}");
        let tasks = sb.boto3(&format!(
            "d = ecs.describe_tasks(cluster='c1', tasks={arns:?}, include=['TAGS'])['tasks']\n\
             img = ecs.describe_task_definition(taskDefinition='report:2')['taskDefinition']['containerDefinitions'][0]['image']\n\
             print(json.dumps([[t['taskDefinitionArn'], t['containers'][0]['image'] == img, '@sha256:' in img, t['group'], t['launchType']] for t in d]))",
            arns = arns.iter().filter_map(Value::as_str).collect::<Vec<_>>()
        ));
        assert_eq!(
            tasks,
            json!([
                [new, true, true, "reports", "FARGATE"],
                [new, true, true, "reports", "FARGATE"]
            ]),
            "{path}"
        );
    }
}

#[test]
fn a_rule_without_an_ecs_target_or_a_missing_schedule_changes_nothing() {
    let sb = SandboxProc::start();
    let v2 = scheduled(&sb);
    let before = read_back(&sb);
    let cases: &[(&[&str], &str)] = &[
        (&["--rule", "nightly-report,hook"], "--rule hook: its target is not an ECS task (arn:aws:lambda:us-east-1:123456789012:function:hook); stevedore schedule changes ECS targets only"),
        (&["--schedule", "weekly"], "--schedule weekly: no such schedule in group default"),
        (&["--rule", "gone"], "--rule gone: no such rule on event bus default"),
        (&["--rule", "nightly-report", "--target-id", "x"], "--rule nightly-report: it has no target with id 'x' (its targets: report)"),
        (&["--schedule", "bad name"], "--schedule: 'bad name' is not a name AWS accepts"),
        (&[], "name at least one --schedule"),
    ];
    for (extra, says) in cases {
        let mut args = vec!["schedule", "--task-definition", "report", "--image", &v2];
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
        assert!(out.stdout.is_empty(), "{extra:?}: {}", out.stdout);
    }
    assert_eq!(read_back(&sb), before, "nothing changed");
    assert_eq!(
        task_definitions(&sb).as_array().map(Vec::len),
        Some(1),
        "nothing registered"
    );
}

#[test]
fn count_and_network_change_when_asked_and_a_revision_is_promoted_as_it_is() {
    let sb = SandboxProc::start();
    scheduled(&sb);
    sb.boto3("ecs.register_task_definition(family='report', containerDefinitions=[{'name': 'app', 'image': 'busybox'}])\nprint(1)");
    let out = stevedore(&[
        "schedule",
        "--rule",
        "nightly-report",
        "--task-definition",
        "report:2",
        "--count",
        "1",
        "--security-groups",
        "sg-9",
        "--assign-public-ip",
        "true",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("target report: report:1 → report:2, count 2 → 1, network: subnets subnet-1,subnet-2, security groups sg-9, public IP ENABLED"),
        "{}",
        out.stdout
    );
    let p = sb.boto3("print(json.dumps(events.list_targets_by_rule(Rule='nightly-report')['Targets'][0]['EcsParameters']))");
    assert_eq!(p["TaskCount"], 1);
    assert_eq!(
        p["NetworkConfiguration"],
        json!({"awsvpcConfiguration": {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroups": ["sg-9"], "AssignPublicIp": "ENABLED"}})
    );
    assert_eq!(
        task_definitions(&sb).as_array().map(Vec::len),
        Some(2),
        "nothing registered by the promotion"
    );
}

/// `stevedore schedule --image` as a role holding only what `iam policy` renders for it: it
/// succeeds, and fails naming the missing action when one of the statements is removed.
#[test]
fn schedule_works_under_the_rendered_policy_and_needs_each_of_its_statements() {
    let sb = SandboxProc::start();
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--repo",
            "report",
            "--schedule",
            "nightly",
            "--rule",
            "nightly-report",
            "--schedule-role",
            "scheduled-tasks",
        ],
    );
    let run = |policy: &Value| {
        sb.control("POST", "/_sandbox/reset", "");
        let v2 = scheduled(&sb);
        sb.put_role("ci", None, Some(policy));
        let home = tempfile::tempdir().unwrap();
        let bash_env = home.path().join("bash_env");
        let auth = crate::iam::assume_ci(&sb, &bash_env);
        assert_eq!(auth.code, 0, "{}", auth.all());
        let mut cmd = stevedore(&[
            "schedule",
            "--schedule",
            "nightly",
            "--rule",
            "nightly-report",
            "--task-definition",
            "report",
            "--image",
            &v2,
        ])
        .sandbox(&sb, false);
        for (k, v) in read_exports(&bash_env) {
            cmd = cmd.env(&k, &v);
        }
        cmd.run()
    };
    let out = run(&policy);
    assert_eq!(out.code, 0, "under the rendered policy: {}", out.all());
    assert!(out.stdout.contains("report:1 → report:2"), "{}", out.stdout);
    let statements = policy["Statement"].as_array().unwrap().clone();
    let mut needed = vec![];
    for (i, removed) in statements.iter().enumerate() {
        let sid = removed["Sid"].as_str().unwrap().to_string();
        let mut cut = policy.clone();
        cut["Statement"].as_array_mut().unwrap().remove(i);
        let out = run(&cut);
        if out.code == 0 {
            continue;
        }
        let actions: Vec<String> = match &removed["Action"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            _ => unreachable!(),
        };
        assert!(
            actions.iter().any(|a| out
                .stderr
                .contains(&format!("not authorized to perform: {a} "))),
            "without {sid}, the failure should name one of {actions:?}: {}",
            out.all()
        );
        needed.push(sid);
    }
    // Every statement is needed but EcrRepository, which serves `ecr ensure-repo` in the push
    // job that --repo is there for; pinning the image needs login and DescribeImages (EcrPush),
    // and the new revision keeps report:1's tags (EcsTagOnCreate).
    let all: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    let want: Vec<&str> = all.into_iter().filter(|s| *s != "EcrRepository").collect();
    assert_eq!(needed, want);
}

#[test]
fn a_schedule_of_another_family_moves_only_with_family_change() {
    let sb = SandboxProc::start();
    let v2 = scheduled(&sb);
    sb.boto3(&format!(
        "ecs.register_task_definition(family='billing', containerDefinitions=[{{'name': 'app', 'image': {v2:?}}}])\nprint(1)"
    ));
    let before = read_back(&sb);
    let point = |extra: &[&str]| {
        let mut args = vec![
            "schedule",
            "--schedule",
            "nightly",
            "--task-definition",
            "billing",
        ];
        args.extend_from_slice(extra);
        stevedore(&args).sandbox(&sb, true).run()
    };
    let out = point(&[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains(
            "--schedule nightly: it runs report:1, not family billing; give --family-change"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert_eq!(read_back(&sb), before, "the schedule changed");
    point(&["--family-change"]).success();
    let after = read_back(&sb);
    let td = after["schedule"]["Target"]["EcsParameters"]["TaskDefinitionArn"]
        .as_str()
        .unwrap();
    assert!(td.ends_with("task-definition/billing:1"), "{td}");
}

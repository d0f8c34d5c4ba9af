//! The migration guide's "after" configs (docs/migrating/after-*.yml), run whole through the orb
//! harness on the sandbox: every job of the workflow, as the guide prints it, with the orb packed
//! from this tree and a role that holds what `stevedore iam policy` renders for it.

use crate::harness::*;
use crate::orb::{packed_orb, project, root, Files, Job};
use serde_json::json;

const ROLE: &str = "circleci-deployer";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn the_ecr_and_ecs_pair_after_migration_runs_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    let base = sb.push_image("base", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='production')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {base:?}}}])\n\
         ecs.create_service(cluster='production', serviceName='web', taskDefinition='web:1', desiredCount=2)\n\
         print(1)"
    ));
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--repo",
            "app",
            "--cluster",
            "production",
            "--service",
            "web",
        ],
    );
    sb.put_role(ROLE, None, Some(&policy));
    let files = Files::serve(&crate::orb::dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    let checkout = tmp.path().join("project");
    project(&checkout, false);
    let out = job.run_config(
        &root().join("docs/migrating/after-ecr-ecs.yml"),
        "release",
        &checkout,
    );
    job.forget_built(&["app"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("#### workflow release: all 2 jobs succeeded"),
        "{}",
        out.stdout
    );
    // The service runs the pushed image, pinned to the digest its tag named.
    let seen = sb.boto3(&format!(
        "s = ecs.describe_services(cluster='production', services=['web'])['services'][0]\n\
         img = ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']['containerDefinitions'][0]['image']\n\
         d = ecr.describe_images(repositoryName='app', imageIds=[{{'imageTag': {SHA:?}}}])['imageDetails'][0]['imageDigest']\n\
         print(json.dumps([s['taskDefinition'].rsplit('/', 1)[1], img.endswith('/app@' + d), s['runningCount']]))"
    ));
    assert_eq!(seen, json!(["web:2", true, 2]));
}

#[test]
fn the_scheduled_task_after_migration_runs_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    let base = sb.push_image("nightly-report", "v0", &[]);
    let target = "'Arn': 'arn:aws:ecs:us-east-1:123456789012:cluster/production', 'RoleArn': 'arn:aws:iam::123456789012:role/scheduled-tasks'";
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='production')\n\
         td = ecs.register_task_definition(family='nightly-report', containerDefinitions=[{{'name': 'report', 'image': {base:?}}}])['taskDefinition']['taskDefinitionArn']\n\
         p = {{'TaskDefinitionArn': td, 'LaunchType': 'FARGATE', 'NetworkConfiguration': {{'awsvpcConfiguration': {{'Subnets': ['subnet-1']}}}}}}\n\
         events.put_rule(Name='nightly-report', ScheduleExpression='cron(0 3 * * ? *)')\n\
         events.put_targets(Rule='nightly-report', Targets=[{{'Id': 'report', {target}, 'EcsParameters': p}}])\n\
         scheduler.create_schedule(Name='nightly-report', ScheduleExpression='cron(0 3 * * ? *)', FlexibleTimeWindow={{'Mode': 'OFF'}}, Target={{{target}, 'EcsParameters': p}})\n\
         print(1)"
    ));
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--repo",
            "nightly-report",
            "--schedule",
            "nightly-report",
            "--rule",
            "nightly-report",
            "--schedule-role",
            "scheduled-tasks",
        ],
    );
    sb.put_role(ROLE, None, Some(&policy));
    let files = Files::serve(&crate::orb::dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    let checkout = tmp.path().join("project");
    project(&checkout, false);
    let out = job.run_config(
        &root().join("docs/migrating/after-scheduled.yml"),
        "release",
        &checkout,
    );
    job.forget_built(&["nightly-report"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("#### workflow release: all 1 jobs succeeded"),
        "{}",
        out.stdout
    );
    let new = "arn:aws:ecs:us-east-1:123456789012:task-definition/nightly-report:2";
    let moved = sb.boto3(
        "print(json.dumps([events.list_targets_by_rule(Rule='nightly-report')['Targets'][0]['EcsParameters']['TaskDefinitionArn'],\n\
         scheduler.get_schedule(Name='nightly-report')['Target']['EcsParameters']['TaskDefinitionArn']]))",
    );
    assert_eq!(moved, json!([new, new]));
    // The sandbox runs the schedule: its task runs the pushed image, by digest.
    let ran = sb.control_json("POST", "/_sandbox/schedules/default/nightly-report/run", "");
    let arn = ran["taskArns"][0].as_str().unwrap().to_string();
    let image = sb.boto3(&format!(
        "t = ecs.describe_tasks(cluster='production', tasks=[{arn:?}])['tasks'][0]\n\
         d = ecr.describe_images(repositoryName='nightly-report', imageIds=[{{'imageTag': {SHA:?}}}])['imageDetails'][0]['imageDigest']\n\
         print(json.dumps([t['taskDefinitionArn'], t['containers'][0]['image'].endswith('/nightly-report@' + d)]))"
    ));
    assert_eq!(image, json!([new, true]));
}

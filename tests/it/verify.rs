//! `stevedore deploy --verify CMD` on a rolling deployment: the pipeline's check of the new
//! revision, after its rollout completes, decides the deploy.

use crate::deploy::{deploy, service, setup};
use crate::harness::*;

/// CMD prints what it was told, then exits with `code`.
fn check(code: i32) -> String {
    format!("echo \"checking $STEVEDORE_VERIFY_SERVICE in $STEVEDORE_VERIFY_CLUSTER: $STEVEDORE_VERIFY_TASK_DEFINITION after $STEVEDORE_VERIFY_PREVIOUS_TASK_DEFINITION ($STEVEDORE_VERIFY_DEPLOYMENT_ID)\"; exit {code}")
}

fn revision(sb: &SandboxProc) -> String {
    let td = service(sb)["taskDefinition"].as_str().unwrap().to_string();
    td.rsplit('/').next().unwrap().to_string()
}

#[test]
fn a_failing_check_with_rollback_puts_the_previous_revision_back() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let cmd = check(7);
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--verify",
            &cmd,
            "--rollback",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    let text = &out.stdout;
    // The check ran after the rollout of web:2 completed, and was told which deployment it was.
    let completed = text.find("deployment completed.").expect(text);
    let verifying = text.find(&format!("verifying: {cmd}")).expect(text);
    assert!(completed < verifying, "{text}");
    let told = text
        .lines()
        .find(|l| l.starts_with("checking web in c1: "))
        .expect(text);
    assert!(
        told.contains("task-definition/web:2 after arn:aws:ecs:us-east-1:123456789012:task-definition/web:1 (ecs-svc/"),
        "{told}"
    );
    assert!(
        text.contains(&format!(
            "the verification `{cmd}` exited with code 7 after"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "rolling back to web:1 (the verification `{cmd}` exited with code 7)"
        )),
        "{text}"
    );
    assert!(text.contains("ROLLED BACK"), "{text}");
    // The sandbox's state: the service runs web:1 again, its rollout completed.
    let svc = service(&sb);
    assert_eq!(revision(&sb), "web:1", "{svc}");
    assert_eq!(svc["deployments"][0]["rolloutState"], "COMPLETED", "{svc}");
    assert_eq!(svc["deployments"].as_array().unwrap().len(), 1, "{svc}");
}

#[test]
fn a_failing_check_without_rollback_fails_and_leaves_the_new_revision() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--verify", "exit 4"],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout
            .contains("deployment of web:2 FAILED: the verification `exit 4` exited with code 4"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("rolling back"), "{}", out.stdout);
    assert_eq!(revision(&sb), "web:2");
}

#[test]
fn a_passing_check_deploys_and_a_hung_one_times_out() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    let v3 = sb.push_image("app", "v3", &[]);
    setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--verify", &check(0)],
    )
    .run()
    .success();
    assert!(
        out.stdout.contains("checking web in c1: "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("verified in "), "{}", out.stdout);
    assert_eq!(revision(&sb), "web:2");
    // A check that outlives --timeout is ended, and the deploy has timed out; --rollback then
    // has a --timeout of its own to put the previous revision back (exit 3, rolled back).
    let t = std::time::Instant::now();
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v3,
            "--verify",
            "sleep 60",
            "--timeout",
            "10s",
            "--rollback",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout
            .contains("the verification did not finish within the deploy's --timeout (10s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("deployment of web:3 ROLLED BACK: no success within 10s; restored web:2"),
        "{}",
        out.stdout
    );
    assert!(t.elapsed().as_secs() < 40, "the hung check was not ended");
    assert_eq!(revision(&sb), "web:2");
}

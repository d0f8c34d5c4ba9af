//! Scenario tests: the sandbox driven by the official AWS SDK for Rust, with images pushed by
//! skopeo into its real registry.

use crate::harness::*;
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus,
};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const SPEED: f64 = 20.0;

async fn ecs_setup(sb: &Sandbox, ecs: &aws_sdk_ecs::Client, images: &[&str]) {
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .unwrap();
    for image in images {
        ecs.register_task_definition()
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!("{}/{image}", sb.registry()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

async fn push(
    sb: &Sandbox,
    tmp: &std::path::Path,
    repo: &str,
    tag: &str,
    labels: &[(&str, &str)],
) -> String {
    let layout = oci_image(tmp, &format!("{repo}-{tag}"), labels);
    sb.skopeo_push(&layout, repo, tag).await
}

/// Service `s1` of `web:1` (two tasks) with the circuit breaker and rollback on, settled
/// (within `limit` real seconds).
async fn breaker_service(ecs: &aws_sdk_ecs::Client, limit: u64) {
    let breaker = DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build();
    ecs.create_service()
        .cluster("c1")
        .service_name("s1")
        .task_definition("web:1")
        .desired_count(2)
        .deployment_configuration(breaker)
        .send()
        .await
        .unwrap();
    until(ecs, limit, |s| {
        s.deployments().len() == 1
            && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
    })
    .await;
}

/// Update `s1` to `web:2` and wait (at most `limit` real seconds) until that deployment is gone
/// and the rollback's has COMPLETED; the failed deployment's id and the service then.
async fn update_until_rolled_back(
    ecs: &aws_sdk_ecs::Client,
    limit: u64,
) -> (String, aws_sdk_ecs::types::Service) {
    let out = ecs
        .update_service()
        .cluster("c1")
        .service("s1")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    let failing = out.service().unwrap().deployments()[0]
        .id()
        .unwrap()
        .to_string();
    let svc = until(ecs, limit, |s| {
        s.deployments()
            .iter()
            .all(|d| d.id() != Some(failing.as_str()))
            && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
    })
    .await;
    (failing, svc)
}

/// Poll DescribeServices until `done` says so (or fail after `limit` real seconds).
async fn until(
    ecs: &aws_sdk_ecs::Client,
    limit: u64,
    done: impl Fn(&aws_sdk_ecs::types::Service) -> bool,
) -> aws_sdk_ecs::types::Service {
    let deadline = Instant::now() + Duration::from_secs(limit);
    loop {
        let out = ecs
            .describe_services()
            .cluster("c1")
            .services("s1")
            .send()
            .await
            .unwrap();
        let svc = out.services()[0].clone();
        if done(&svc) {
            return svc;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached; last state: {svc:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events(svc: &aws_sdk_ecs::types::Service) -> Vec<String> {
    svc.events()
        .iter()
        .map(|e| e.message().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_rollout_completes_and_the_old_deployment_drains() {
    let sb = Sandbox::start(SPEED);
    let tmp = tempfile::tempdir().unwrap();
    push(&sb, tmp.path(), "app", "v1", &[]).await;
    push(&sb, tmp.path(), "app", "v2", &[]).await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs_setup(&sb, &ecs, &["app:v1", "app:v2"]).await;
    ecs.create_service()
        .cluster("c1")
        .service_name("s1")
        .task_definition("web:1")
        .desired_count(2)
        .send()
        .await
        .unwrap();
    until(&ecs, 20, |s| {
        s.deployments().len() == 1
            && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
    })
    .await;

    let out = ecs
        .update_service()
        .cluster("c1")
        .service("s1")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    let svc = out.service().unwrap();
    assert_eq!(
        svc.deployments().len(),
        2,
        "a new PRIMARY beside the old ACTIVE one"
    );
    let id = svc.deployments()[0].id().unwrap().to_string();
    assert_eq!(svc.deployments()[0].status(), Some("PRIMARY"));
    assert_eq!(svc.deployments()[1].status(), Some("ACTIVE"));
    let done = until(&ecs, 20, |s| {
        s.deployments().iter().any(|d| {
            d.id() == Some(id.as_str())
                && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        })
    })
    .await;
    assert_eq!(done.deployments().len(), 1);
    assert_eq!(done.running_count(), 2);
    assert!(done
        .task_definition()
        .unwrap()
        .ends_with("task-definition/web:2"));
    let ev = events(&done);
    assert!(
        ev.iter()
            .any(|m| m == &format!("(service s1) (deployment {id}) deployment completed.")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|m| m.starts_with("(service s1) has started 2 tasks: (task ")),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|m| m.starts_with("(service s1) has stopped")),
        "{ev:?}"
    );
    assert_eq!(ev[0], "(service s1) has reached a steady state.");
    // The old tasks were stopped by the scheduler, and say so.
    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("s1")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.task_arns().len(), 2);
    let tasks = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    for t in tasks.tasks() {
        assert_eq!(
            t.stop_code().map(|c| c.as_str()),
            Some("ServiceSchedulerInitiated")
        );
        assert!(t.task_definition_arn().unwrap().ends_with("web:1"));
    }
}

#[tokio::test]
async fn a_crash_looping_image_trips_the_circuit_breaker_and_rolls_back() {
    let sb = Sandbox::start(SPEED);
    let tmp = tempfile::tempdir().unwrap();
    push(&sb, tmp.path(), "app", "good", &[]).await;
    push(
        &sb,
        tmp.path(),
        "app",
        "crash",
        &[
            ("stevedore.sandbox.exit-code", "3"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs_setup(&sb, &ecs, &["app:good", "app:crash"]).await;
    breaker_service(&ecs, 20).await;
    let (failing, svc) = update_until_rolled_back(&ecs, 30).await;
    assert!(
        svc.task_definition().unwrap().ends_with("web:1"),
        "rolled back to the last completed revision"
    );
    let ev = events(&svc);
    assert!(
        ev.iter().any(|m| m
            == &format!(
                "(service s1) (deployment {failing}) deployment failed: tasks failed to start."
            )),
        "{ev:?}"
    );
    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("s1")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let crashed: Vec<_> = tasks
        .tasks()
        .iter()
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"))
        .collect();
    assert!(
        crashed.len() >= 3,
        "the breaker needs at least 3 failed tasks, saw {}",
        crashed.len()
    );
    assert_eq!(
        crashed[0].stopped_reason(),
        Some("Essential container in task exited")
    );
    assert_eq!(crashed[0].containers()[0].exit_code(), Some(3));
    // DescribeServiceDeployments tells the same story.
    let list = ecs
        .list_service_deployments()
        .cluster("c1")
        .service("s1")
        .send()
        .await
        .unwrap();
    let statuses: Vec<&str> = list
        .service_deployments()
        .iter()
        .filter_map(|d| d.status().map(|s| s.as_str()))
        .collect();
    assert!(statuses.contains(&"ROLLBACK_SUCCESSFUL"), "{statuses:?}");
}

#[tokio::test]
async fn an_image_missing_from_the_registry_cannot_be_pulled() {
    let sb = Sandbox::start(SPEED);
    let tmp = tempfile::tempdir().unwrap();
    push(&sb, tmp.path(), "app", "v1", &[]).await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs_setup(&sb, &ecs, &["app:v1", "app:does-not-exist"]).await;
    ecs.create_service()
        .cluster("c1")
        .service_name("s1")
        .task_definition("web:2")
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let svc = until(&ecs, 20, |s| s.deployments()[0].failed_tasks() >= 2).await;
    assert_eq!(
        svc.deployments()[0].rollout_state().map(|r| r.as_str()),
        Some("IN_PROGRESS"),
        "no breaker: ECS keeps trying"
    );
    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let t = &tasks.tasks()[0];
    assert_eq!(t.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = t.stopped_reason().unwrap();
    assert!(
        reason.starts_with("CannotPullContainerError") && reason.contains("app:does-not-exist"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_one_off_task_exits_with_its_image_code() {
    let sb = Sandbox::start(SPEED);
    let tmp = tempfile::tempdir().unwrap();
    push(
        &sb,
        tmp.path(),
        "migrate",
        "v1",
        &[
            ("stevedore.sandbox.exit-code", "7"),
            ("stevedore.sandbox.exit-after", "2"),
        ],
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs_setup(&sb, &ecs, &["migrate:v1"]).await;
    let run = ecs
        .run_task()
        .cluster("c1")
        .task_definition("web")
        .send()
        .await
        .unwrap();
    let arn = run.tasks()[0].task_arn().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let task = loop {
        let out = ecs
            .describe_tasks()
            .cluster("c1")
            .tasks(&arn)
            .send()
            .await
            .unwrap();
        let t = out.tasks()[0].clone();
        if t.last_status() == Some("STOPPED") {
            break t;
        }
        assert!(Instant::now() < deadline, "the task never stopped: {t:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(task.containers()[0].exit_code(), Some(7));
    assert_eq!(
        task.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
    assert!(task.group().unwrap().starts_with("family:web"));
}

#[tokio::test]
async fn throttling_is_answered_as_aws_does_and_the_sdk_retries_through_it() {
    let sb = Sandbox::start(1.0);
    let admin = sb.config(None, 1).await;
    aws_sdk_ecs::Client::new(&admin)
        .create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .unwrap();
    sb.control(
        Method::PUT,
        "/_sandbox/faults",
        json!({"throttle_next": 2, "operations": ["DescribeClusters"]}),
    )
    .await;
    let once = aws_sdk_ecs::Client::new(&admin)
        .describe_clusters()
        .clusters("c1")
        .send()
        .await;
    let err = once.unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ThrottlingException")
    );
    // One throttle left: a client with retries gets through.
    let retrying = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    let ok = retrying
        .describe_clusters()
        .clusters("c1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.clusters().len(), 1);
    let calls = sb
        .control(Method::GET, "/_sandbox/calls", json!(null))
        .await;
    let n = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == "ECS.DescribeClusters")
        .count();
    assert_eq!(n, 3, "one refused, one refused then retried, one answered");
}

#[tokio::test]
async fn oidc_tokens_are_verified_and_expired_credentials_refused() {
    let sb = Sandbox::start(1.0);
    let account = sb.env["AWS_ACCOUNT_ID"].clone();
    let provider = "oidc.circleci.com/org/org-1";
    let trust = json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{provider}")},
        "Condition": {"StringEquals": {format!("{provider}:aud"): "org-1"},
                      "StringLike": {format!("{provider}:sub"): "org/org-1/project/p1/user/*"}}}]});
    sb.control(
        Method::PUT,
        "/_sandbox/roles/ci",
        json!({"trust_policy": trust}),
    )
    .await;
    let sts = aws_sdk_sts::Client::new(&sb.config(None, 1).await);
    let role = format!("arn:aws:iam::{account}:role/ci");
    let assume = |token: String| {
        sts.assume_role_with_web_identity()
            .role_arn(&role)
            .role_session_name("t1")
            .web_identity_token(token)
            .send()
    };
    let code = |r: Result<_, aws_sdk_sts::error::SdkError<_, _>>| -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => aws_sdk_sts::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("?")
                .to_string(),
        }
    };
    let good = assume(sb.token(json!({"org": "org-1", "sub": "org/org-1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main"})).await).await.unwrap();
    assert_eq!(
        code(
            assume(
                sb.token(json!({"org": "org-1", "sub": "org/org-1/project/p2/user/u1"}))
                    .await
            )
            .await
        ),
        "AccessDenied"
    );
    assert_eq!(code(assume(sb.token(json!({"org": "org-1", "aud": "someone-else", "sub": "org/org-1/project/p1/user/u1"})).await).await), "AccessDenied");
    assert_eq!(
        code(
            assume(
                sb.token(
                    json!({"org": "org-1", "sub": "org/org-1/project/p1/user/u1", "ttl": -10})
                )
                .await
            )
            .await
        ),
        "ExpiredTokenException"
    );
    // A token signed with another key (a second sandbox's issuer).
    let other = tempfile::tempdir().unwrap();
    let forged = std::process::Command::new(env!("CARGO_BIN_EXE_stevedore-sandbox"))
        .args(["token", "--org", "org-1", "--project", "p1", "--dir"])
        .arg(other.path())
        .output()
        .unwrap();
    assert_eq!(
        code(assume(String::from_utf8(forged.stdout).unwrap().trim().to_string()).await),
        "InvalidIdentityToken"
    );

    // The issued credentials work, then expire on the sandbox clock.
    let c = good.credentials().unwrap();
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    let ecs = aws_sdk_ecs::Client::new(&sb.config(Some(creds.clone()), 1).await);
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .unwrap();
    let who = aws_sdk_sts::Client::new(&sb.config(Some(creds.clone()), 1).await)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        who.arn(),
        Some(format!("arn:aws:sts::{account}:assumed-role/ci/t1").as_str())
    );
    sb.control(Method::POST, "/_sandbox/clock", json!({"advance": 3700}))
        .await;
    let err = ecs
        .describe_clusters()
        .clusters("c1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ExpiredTokenException")
    );
    // Unknown keys and wrong secrets are refused too.
    let bogus =
        aws_credential_types::Credentials::new("AKIAUNKNOWN000000000", "x", None, None, "bogus");
    let err = aws_sdk_ecs::Client::new(&sb.config(Some(bogus), 1).await)
        .list_clusters()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("UnrecognizedClientException")
    );
    let wrong = aws_credential_types::Credentials::new(
        &sb.env["AWS_ACCESS_KEY_ID"],
        "wrong-secret",
        None,
        None,
        "wrong",
    );
    let err = aws_sdk_ecs::Client::new(&sb.config(Some(wrong), 1).await)
        .describe_clusters()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("InvalidSignatureException")
    );
}

#[tokio::test]
async fn an_image_pushed_with_skopeo_shows_up_through_ecr() {
    let sb = Sandbox::start(1.0);
    let tmp = tempfile::tempdir().unwrap();
    let ecr = aws_sdk_ecr::Client::new(&sb.config(None, 1).await);
    ecr.create_repository()
        .repository_name("team/app")
        .send()
        .await
        .unwrap();
    let digest = push(&sb, tmp.path(), "team/app", "v1.0", &[]).await;
    assert!(digest.starts_with("sha256:"));
    let out = ecr
        .describe_images()
        .repository_name("team/app")
        .send()
        .await
        .unwrap();
    let d = &out.image_details()[0];
    assert_eq!(d.image_digest(), Some(digest.as_str()));
    assert_eq!(d.image_tags(), ["v1.0"]);
    assert!(d.image_size_in_bytes().unwrap() > 0);
    let got = ecr
        .batch_get_image()
        .repository_name("team/app")
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag("v1.0")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.images()[0].image_id().unwrap().image_digest(),
        Some(digest.as_str())
    );
    // PutImage adds a tag to the same manifest; ListImages sees both.
    let manifest = got.images()[0].image_manifest().unwrap().to_string();
    ecr.put_image()
        .repository_name("team/app")
        .image_manifest(manifest)
        .image_tag("latest")
        .send()
        .await
        .unwrap();
    let ids = ecr
        .list_images()
        .repository_name("team/app")
        .send()
        .await
        .unwrap();
    let mut tags: Vec<&str> = ids
        .image_ids()
        .iter()
        .filter_map(|i| i.image_tag())
        .collect();
    tags.sort();
    assert_eq!(tags, ["latest", "v1.0"]);
    let err = ecr
        .describe_images()
        .repository_name("other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&err),
        Some("RepositoryNotFoundException")
    );
}

#[tokio::test]
async fn an_unimplemented_operation_is_a_400_that_names_it_and_is_not_retried() {
    let sb = Sandbox::start(1.0);
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    // ListClusters is implemented now; container instances (EC2 capacity) are not modelled.
    let err = ecs.list_container_instances().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("UnknownOperationException")
    );
    assert!(aws_sdk_ecs::error::ProvideErrorMetadata::message(&err)
        .unwrap()
        .contains("ListContainerInstances"));
    let calls = sb
        .control(Method::GET, "/_sandbox/calls", json!(null))
        .await;
    assert_eq!(calls.as_array().unwrap().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn stopping_the_sandbox_leaves_no_child_process_behind() {
    no_child_left(false);
    no_child_left(true);
}

/// Stop the sandbox (SIGTERM, or SIGKILL with `kill`) and check its registries went with it.
fn no_child_left(kill: bool) {
    let sb = Sandbox::start(1.0);
    let pid = sb.pid();
    let children = || {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let kids = children();
    assert_eq!(kids.len(), 2, "two registries run as children: {kids:?}");
    for k in &kids {
        let cmd = std::fs::read_to_string(format!("/proc/{k}/cmdline")).unwrap_or_default();
        assert!(cmd.contains("docker-registry\0serve"), "{cmd}");
    }
    let dir = sb.dir().to_path_buf();
    if kill {
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
    drop(sb);
    std::thread::sleep(Duration::from_millis(300));
    for k in kids {
        let alive = std::fs::read_to_string(format!("/proc/{k}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "registry {k} outlived the sandbox (killed: {kill})");
    }
    if kill {
        // A killed process cannot remove its temporary directory; the test does.
        std::fs::remove_dir_all(&dir).unwrap();
    } else {
        assert!(!dir.exists(), "a stopped sandbox removes {}", dir.display());
    }
}

#[tokio::test]
async fn in_docker_mode_a_task_runs_its_real_command() {
    // Docker mode runs the container: a command override decides the exit code. The simulation
    // reads only image labels, so there the same task keeps running.
    let sb = Sandbox::start(SPEED);
    let docker = sb.env["STEVEDORE_SANDBOX_TASKS"] == "docker";
    let tmp = tempfile::tempdir().unwrap();
    push(&sb, tmp.path(), "tool", "v1", &[]).await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs_setup(&sb, &ecs, &["tool:v1"]).await;
    let ov = aws_sdk_ecs::types::TaskOverride::builder()
        .container_overrides(
            aws_sdk_ecs::types::ContainerOverride::builder()
                .name("web")
                .command("/bin/busybox")
                .command("sh")
                .command("-c")
                .command("exit 42")
                .build(),
        )
        .build();
    let run = ecs
        .run_task()
        .cluster("c1")
        .task_definition("web")
        .overrides(ov)
        .send()
        .await
        .unwrap();
    let arn = run.tasks()[0].task_arn().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(if docker { 20 } else { 3 });
    let last = loop {
        let t = ecs
            .describe_tasks()
            .cluster("c1")
            .tasks(&arn)
            .send()
            .await
            .unwrap()
            .tasks()[0]
            .clone();
        if t.last_status() == Some("STOPPED") || Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if docker {
        assert_eq!(last.last_status(), Some("STOPPED"), "{last:#?}");
        assert_eq!(last.containers()[0].exit_code(), Some(42));
    } else {
        assert_eq!(last.last_status(), Some("RUNNING"), "{last:#?}");
    }
}

#[tokio::test]
async fn a_task_that_fails_its_health_check_is_replaced_and_trips_the_breaker() {
    let sb = Sandbox::start(SPEED);
    let tmp = tempfile::tempdir().unwrap();
    push(&sb, tmp.path(), "app", "good", &[]).await;
    // Simulated, the label fails the check; in Docker mode the command below fails for real.
    push(
        &sb,
        tmp.path(),
        "app",
        "sick",
        &[("stevedore.sandbox.unhealthy-after", "0")],
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .unwrap();
    for (image, check) in [
        ("app:good", "test -f /hello.txt"),
        ("app:sick", "test -f /missing"),
    ] {
        ecs.register_task_definition()
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!("{}/{image}", sb.registry()))
                    .health_check(
                        aws_sdk_ecs::types::HealthCheck::builder()
                            .command("CMD-SHELL")
                            .command(check)
                            .interval(5)
                            .retries(2)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    breaker_service(&ecs, 60).await;
    let running = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("s1")
        .send()
        .await
        .unwrap();
    let tasks = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(running.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert!(
        tasks
            .tasks()
            .iter()
            .all(|t| t.health_status().map(|h| h.as_str()) == Some("HEALTHY")),
        "the passing check made the first tasks HEALTHY: {:?}",
        tasks
            .tasks()
            .iter()
            .map(|t| t.health_status())
            .collect::<Vec<_>>()
    );
    let (_, svc) = update_until_rolled_back(&ecs, 90).await;
    assert!(svc.task_definition().unwrap().ends_with("web:1"));
    let ev = events(&svc);
    assert!(
        ev.iter()
            .any(|m| m.contains("failed container health checks.")),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|m| m.contains("deployment failed: tasks failed to start.")),
        "{ev:#?}"
    );
}

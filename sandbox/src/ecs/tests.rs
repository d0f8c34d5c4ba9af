//! The ECS model, clock and API together, without HTTP.

use super::api::*;
use super::controller::*;
use super::model::*;
use super::shapes::*;
use serde_json::{json, Value};

#[test]
fn fargate_pairs() {
    assert!(fargate_pair_ok(256, 512));
    assert!(!fargate_pair_ok(256, 4096));
    assert!(fargate_pair_ok(512, 3072));
    assert!(fargate_pair_ok(4096, 30720));
    assert!(fargate_pair_ok(8192, 20480));
    assert!(!fargate_pair_ok(8192, 18432));
    assert!(!fargate_pair_ok(300, 512));
}

#[test]
fn image_references() {
    assert_eq!(
        parse_image("127.0.0.1:5000/team/app:v1"),
        (
            Some("127.0.0.1:5000".into()),
            "team/app".into(),
            "v1".into()
        )
    );
    assert_eq!(
        parse_image("127.0.0.1:5000/app@sha256:ab"),
        (
            Some("127.0.0.1:5000".into()),
            "app".into(),
            "sha256:ab".into()
        )
    );
    assert_eq!(
        parse_image("nginx"),
        (None, "nginx".into(), "latest".into())
    );
    assert_eq!(
        parse_image("localhost/app"),
        (Some("localhost".into()), "app".into(), "latest".into())
    );
}

fn ctx(now: f64) -> Ctx<'static> {
    Ctx {
        region: "us-east-1",
        account: "123456789012",
        now,
    }
}

fn setup(st: &mut EcsState, image: &str, fate: Fate, breaker: bool) {
    handle(
        st,
        &ctx(0.0),
        "CreateCluster",
        &json!({"clusterName": "c"}),
        "me",
    )
    .unwrap();
    handle(
        st,
        &ctx(0.0),
        "RegisterTaskDefinition",
        &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "good"}]}),
        "me",
    )
    .unwrap();
    st.fates.insert(
        "good".into(),
        Fate::Runs {
            exit: None,
            unhealthy_after: None,
            log: Default::default(),
        },
    );
    st.fates.insert(image.into(), fate);
    handle(st, &ctx(0.0), "CreateService", &json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web", "desiredCount": 2,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}}}), "me").unwrap();
    tick(st, &ctx(0.0));
    tick(st, &ctx(30.0));
    handle(
        st,
        &ctx(30.0),
        "RegisterTaskDefinition",
        &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": image}]}),
        "me",
    )
    .unwrap();
    handle(
        st,
        &ctx(30.0),
        "UpdateService",
        &json!({"cluster": "c", "service": "s", "taskDefinition": "web:2"}),
        "me",
    )
    .unwrap();
}

fn svc(st: &EcsState, now: f64) -> Value {
    service_json(
        st,
        &ctx(now),
        &st.services[&("c".to_string(), "s".to_string())],
    )
}

#[test]
fn a_rollout_completes_and_drains_the_old_deployment() {
    let mut st = EcsState::default();
    setup(
        &mut st,
        "good2",
        Fate::Runs {
            exit: None,
            unhealthy_after: None,
            log: Default::default(),
        },
        false,
    );
    let first = svc(&st, 30.0);
    assert_eq!(first["deployments"].as_array().unwrap().len(), 2);
    let new_id = first["deployments"][0]["id"].as_str().unwrap().to_string();
    tick(&mut st, &ctx(60.0));
    let s = svc(&st, 60.0);
    let deps = s["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 1, "{s:#}");
    assert_eq!(deps[0]["id"], new_id.as_str());
    assert_eq!(deps[0]["rolloutState"], "COMPLETED");
    assert_eq!(s["runningCount"], 2);
    let msgs: Vec<&str> = s["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains(&format!("(deployment {new_id}) deployment completed."))),
        "{msgs:?}"
    );
    assert!(msgs[0].ends_with("has reached a steady state."), "{msgs:?}");
}

#[test]
fn the_circuit_breaker_fails_and_rolls_back_a_crashing_image() {
    let mut st = EcsState::default();
    setup(
        &mut st,
        "crash",
        Fate::Runs {
            exit: Some((3, 1.0)),
            unhealthy_after: None,
            log: Default::default(),
        },
        true,
    );
    let failing = svc(&st, 30.0)["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    tick(&mut st, &ctx(120.0));
    let s = svc(&st, 120.0);
    let deps = s["deployments"].as_array().unwrap();
    assert!(
        deps.iter().all(|d| d["id"] != failing.as_str()),
        "the failed deployment drains away: {s:#}"
    );
    assert_eq!(
        deps[0]["taskDefinition"].as_str().unwrap(),
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    );
    assert_eq!(deps[0]["rolloutState"], "COMPLETED");
    let msgs: Vec<&str> = s["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains(&format!(
            "(deployment {failing}) deployment failed: tasks failed to start."
        ))),
        "{msgs:?}"
    );
    let stopped = st
        .tasks
        .iter()
        .filter(|t| t.stop_code.as_deref() == Some("EssentialContainerExited"))
        .count();
    assert!(
        stopped >= 3,
        "threshold is at least 3 failed tasks, saw {stopped}"
    );
    let t = st
        .tasks
        .iter()
        .find(|t| t.stop_code.as_deref() == Some("EssentialContainerExited"))
        .unwrap();
    assert_eq!(t.containers[0].exit_code, Some(3));
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
}

#[test]
fn a_missing_image_fails_to_pull_and_without_a_breaker_keeps_trying() {
    let mut st = EcsState::default();
    setup(
        &mut st,
        "missing",
        fate_from_labels(None, "127.0.0.1:1/app:nope"),
        false,
    );
    tick(&mut st, &ctx(90.0));
    let s = svc(&st, 90.0);
    assert_eq!(s["deployments"][0]["rolloutState"], "IN_PROGRESS");
    assert!(s["deployments"][0]["failedTasks"].as_i64().unwrap() >= 3);
    assert_eq!(
        s["deployments"].as_array().unwrap().len(),
        2,
        "the old deployment keeps serving"
    );
    let t = st
        .tasks
        .iter()
        .find(|t| t.stop_code.as_deref() == Some("TaskFailedToStart"))
        .unwrap();
    assert!(t
        .stopped_reason
        .as_deref()
        .unwrap()
        .starts_with("CannotPullContainerError"));
}

#[test]
fn task_definitions_are_validated_as_ecs_does() {
    let mut st = EcsState::default();
    let c = ctx(0.0);
    let err = |b: Value| {
        register_task_definition(&mut st.clone_for_test(), &c, &b, "me")
            .unwrap_err()
            .message
    };
    assert!(err(json!({"family": "f", "containerDefinitions": []})).contains("required"));
    assert!(err(json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]})).contains("Duplicate"));
    assert!(err(json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "essential": false}]})).contains("essential"));
    assert!(err(json!({"family": "f", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "4096", "containerDefinitions": [{"name": "a", "image": "x"}]})).contains("No Fargate configuration"));
    let ok = register_task_definition(
        &mut st,
        &c,
        &json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}]}),
        "me",
    )
    .unwrap();
    assert_eq!(ok["taskDefinition"]["revision"], 1);
    assert_eq!(
        ok["taskDefinition"]["containerDefinitions"][0]["essential"],
        true
    );
    let again = register_task_definition(
        &mut st,
        &c,
        &json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "y"}]}),
        "me",
    )
    .unwrap();
    assert_eq!(
        again["taskDefinition"]["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/f:2"
    );
    assert_eq!(find_task_definition(&st, "f").unwrap().json["revision"], 2);
    assert_eq!(
        find_task_definition(&st, "f:1").unwrap().json["revision"],
        1
    );
}

impl EcsState {
    fn clone_for_test(&self) -> EcsState {
        EcsState {
            taskdefs: self.taskdefs.clone(),
            ..Default::default()
        }
    }
}

/// Tasks of the service that are RUNNING and HEALTHY (all of them have a health check).
fn healthy(st: &EcsState) -> usize {
    st.tasks
        .iter()
        .filter(|t| {
            t.service.is_some()
                && t.desired_status == "RUNNING"
                && t.last_status == "RUNNING"
                && t.health.as_ref().is_some_and(|h| h.status == "HEALTHY")
        })
        .count()
}

#[test]
fn an_unhealthy_rollout_never_drops_below_minimum_healthy_and_the_breaker_fails_it() {
    let mut st = EcsState::default();
    let check = json!({"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 2});
    handle(
        &mut st,
        &ctx(0.0),
        "CreateCluster",
        &json!({"clusterName": "c"}),
        "me",
    )
    .unwrap();
    for (image, unhealthy_after) in [("good", None), ("sick", Some(0.0))] {
        st.fates.insert(
            image.into(),
            Fate::Runs {
                exit: None,
                unhealthy_after,
                log: Default::default(),
            },
        );
        handle(&mut st, &ctx(0.0), "RegisterTaskDefinition",
            &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": image, "healthCheck": check}]}), "me").unwrap();
    }
    handle(&mut st, &ctx(0.0), "CreateService", &json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web:1", "desiredCount": 4,
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200, "deploymentCircuitBreaker": {"enable": true, "rollback": true}}}), "me").unwrap();
    let mut now = 0.0;
    while now < 60.0 {
        now += 1.0;
        tick(&mut st, &ctx(now));
    }
    assert_eq!(svc(&st, now)["deployments"][0]["rolloutState"], "COMPLETED");
    assert_eq!(healthy(&st), 4);
    handle(
        &mut st,
        &ctx(now),
        "UpdateService",
        &json!({"cluster": "c", "service": "s", "taskDefinition": "web:2"}),
        "me",
    )
    .unwrap();
    let (mut lowest, mut failed_at) = (usize::MAX, None);
    while now < 400.0 && failed_at.is_none() {
        now += 1.0;
        tick(&mut st, &ctx(now));
        lowest = lowest.min(healthy(&st));
        let s = svc(&st, now);
        if s["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["rolloutState"] == "FAILED")
        {
            failed_at = Some(now);
        }
    }
    assert!(
        failed_at.is_some(),
        "the breaker fails a rollout whose tasks never get healthy"
    );
    assert_eq!(
        lowest, 4,
        "minimumHealthyPercent 100 of 4: never fewer healthy tasks"
    );
    let stopped: Vec<&Task> = st
        .tasks
        .iter()
        .filter(|t| t.stopped_reason.as_deref() == Some("Task failed container health checks"))
        .collect();
    assert!(
        stopped.len() >= 3,
        "at least the breaker's threshold of unhealthy tasks was replaced"
    );
    assert!(stopped.iter().all(|t| t.td_arn.ends_with("web:2")));
    // Events: distinct, ordered times.
    let times: Vec<f64> = st.services[&("c".to_string(), "s".to_string())]
        .events
        .iter()
        .map(|e| e.0)
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
}

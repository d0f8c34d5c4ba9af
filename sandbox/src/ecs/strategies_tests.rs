//! Native blue/green, linear and canary deployments through the model, clock and API.

use super::api::*;
use super::controller::*;
use super::model::*;
use serde_json::{json, Value};

fn ctx(now: f64) -> Ctx<'static> {
    Ctx {
        region: "us-east-1",
        account: "123456789012",
        now,
    }
}

fn call(st: &mut EcsState, now: f64, op: &str, body: Value) -> Result<Value, String> {
    tick(st, &ctx(now));
    handle(st, &ctx(now), op, &body, "me").map_err(|e| format!("{}: {}", e.code, e.message))
}

fn runs() -> Fate {
    Fate::Runs {
        exit: None,
        unhealthy_after: None,
        log: Default::default(),
    }
}

fn lb() -> Value {
    json!([{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1", "containerName": "web", "containerPort": 80,
        "advancedConfiguration": {"alternateTargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
            "productionListenerRule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3",
            "testListenerRule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/4/5",
            "roleArn": "arn:aws:iam::123456789012:role/ecs-lb"}}])
}

/// Service `s` on web:1 under `config`, settled; then web:2 (image `image`) deployed at t=30.
/// The service deployment's ARN.
fn deploy(st: &mut EcsState, config: Value, image: &str, fate: Fate) -> String {
    st.fates.insert("good".into(), runs());
    st.fates.insert(image.into(), fate);
    call(st, 0.0, "CreateCluster", json!({"clusterName": "c"})).unwrap();
    for img in ["good", image] {
        call(st, 0.0, "RegisterTaskDefinition", json!({"family": "web", "containerDefinitions": [{"name": "web", "image": img, "portMappings": [{"containerPort": 80}]}]})).unwrap();
    }
    call(
        st,
        0.0,
        "CreateService",
        json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web:1", "desiredCount": 2,
        "loadBalancers": lb(), "deploymentConfiguration": config}),
    )
    .unwrap();
    tick(st, &ctx(30.0));
    call(
        st,
        30.0,
        "UpdateService",
        json!({"cluster": "c", "service": "s", "taskDefinition": "web:2"}),
    )
    .unwrap();
    let l = call(
        st,
        30.0,
        "ListServiceDeployments",
        json!({"cluster": "c", "service": "s", "status": ["PENDING", "IN_PROGRESS"]}),
    )
    .unwrap();
    assert_eq!(l["serviceDeployments"].as_array().unwrap().len(), 1, "{l}");
    l["serviceDeployments"][0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string()
}

fn describe(st: &mut EcsState, now: f64, arn: &str) -> Value {
    let v = call(
        st,
        now,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn]}),
    )
    .unwrap();
    v["serviceDeployments"][0].clone()
}

/// Poll every second until the status is final (or `until` says stop); the stages seen in order.
fn follow(
    st: &mut EcsState,
    arn: &str,
    from: f64,
    mut until: impl FnMut(&mut EcsState, f64, &Value) -> bool,
) -> (Vec<String>, Value, f64) {
    let mut stages: Vec<String> = vec![];
    let mut t = from;
    loop {
        // Requests arrive at any time, not on whole sandbox seconds.
        t += 0.35;
        let d = describe(st, t, arn);
        if let Some(s) = d["lifecycleStage"].as_str() {
            if stages.last().map(String::as_str) != Some(s) {
                stages.push(s.to_string());
            }
        }
        let status = d["status"].as_str().unwrap().to_string();
        if until(st, t, &d)
            || ![
                "PENDING",
                "IN_PROGRESS",
                "ROLLBACK_REQUESTED",
                "ROLLBACK_IN_PROGRESS",
            ]
            .contains(&status.as_str())
            || t > 20_000.0
        {
            return (stages, d, t);
        }
    }
}

#[test]
fn blue_green_walks_every_stage_in_order_and_cleans_up_blue() {
    let mut st = EcsState::default();
    let arn = deploy(
        &mut st,
        json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2}),
        "good2",
        runs(),
    );
    let mut prod_seen = vec![];
    let (stages, d, t) = follow(&mut st, &arn, 30.0, |_, _, d| {
        prod_seen.push(
            d["targetServiceRevision"]["requestedProductionTrafficWeight"]
                .as_f64()
                .unwrap_or(-1.0),
        );
        false
    });
    assert_eq!(d["status"], "SUCCESSFUL", "{d}");
    assert_eq!(
        stages,
        super::strategies::STAGES[1..].to_vec(),
        "stages out of order"
    );
    // The bake took its two minutes.
    assert!(t - 30.0 >= 120.0, "{t}");
    assert!(prod_seen.contains(&100.0));
    let svc = &st.services[&("c".to_string(), "s".to_string())];
    assert_eq!(svc.deployments.len(), 1, "blue left the service");
    assert!(svc.task_definition.ends_with("web:2"));
    let blue_running = st
        .tasks
        .iter()
        .filter(|t| t.td_arn.ends_with("web:1") && t.last_status != "STOPPED")
        .count();
    assert_eq!(blue_running, 0);
    assert_eq!(d["deploymentCircuitBreaker"]["status"], "DISABLED");
    assert!(d["sourceServiceRevisions"][0]["arn"]
        .as_str()
        .unwrap()
        .contains(":service-revision/c/s/"));
}

#[test]
fn linear_and_canary_shift_production_traffic_in_steps() {
    for (config, expect) in [
        (
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}),
            vec![25.0, 50.0, 75.0, 100.0],
        ),
        (
            json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}}),
            vec![10.0, 100.0],
        ),
    ] {
        let mut st = EcsState::default();
        let arn = deploy(&mut st, config.clone(), "good2", runs());
        let mut weights: Vec<f64> = vec![];
        let (_, d, _) = follow(&mut st, &arn, 30.0, |_, _, d| {
            let w = d["targetServiceRevision"]["requestedProductionTrafficWeight"]
                .as_f64()
                .unwrap();
            if w > 0.0 && weights.last() != Some(&w) {
                weights.push(w);
            }
            false
        });
        assert_eq!(d["status"], "SUCCESSFUL", "{config}: {d}");
        assert_eq!(weights, expect, "{config}");
    }
}

#[test]
fn a_pause_hook_waits_for_continue_and_rollback_restores_blue() {
    for action in ["CONTINUE", "ROLLBACK"] {
        let mut st = EcsState::default();
        let config = json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"], "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}]});
        let arn = deploy(&mut st, config, "good2", runs());
        let (_, d, t) = follow(&mut st, &arn, 30.0, |_, _, d| {
            d["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"
        });
        assert_eq!(d["lifecycleStage"], "POST_TEST_TRAFFIC_SHIFT", "{d}");
        let hook = d["lifecycleHookDetails"][0].clone();
        assert_eq!(
            (hook["targetType"].as_str(), hook["timeoutAction"].as_str()),
            (Some("PAUSE"), Some("ROLLBACK"))
        );
        assert!(hook.get("targetArn").is_none());
        // Still waiting a while later.
        assert_eq!(
            describe(&mut st, t + 300.0, &arn)["lifecycleStage"],
            "POST_TEST_TRAFFIC_SHIFT"
        );
        let wrong = call(
            &mut st,
            t + 300.0,
            "ContinueServiceDeployment",
            json!({"serviceDeploymentArn": arn, "hookId": "nope"}),
        );
        assert!(wrong.unwrap_err().starts_with("InvalidParameterException"));
        call(
            &mut st,
            t + 300.0,
            "ContinueServiceDeployment",
            json!({"serviceDeploymentArn": arn, "hookId": hook["hookId"], "action": action}),
        )
        .unwrap();
        let (_, d, _) = follow(&mut st, &arn, t + 300.0, |_, _, _| false);
        let svc = &st.services[&("c".to_string(), "s".to_string())];
        if action == "CONTINUE" {
            assert_eq!(d["status"], "SUCCESSFUL", "{d}");
            assert!(svc.task_definition.ends_with("web:2"));
        } else {
            assert_eq!(d["status"], "ROLLBACK_SUCCESSFUL", "{d}");
            assert!(
                d["rollback"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("pause hook"),
                "{d}"
            );
            assert!(svc.task_definition.ends_with("web:1"));
            assert_eq!(svc.deployments.len(), 1);
            assert_eq!(
                st.tasks
                    .iter()
                    .filter(|t| t.td_arn.ends_with("web:1") && t.last_status == "RUNNING")
                    .count(),
                2
            );
        }
    }
}

#[test]
fn failed_hooks_alarms_and_the_breaker_roll_back_with_their_reason() {
    let lambda = "arn:aws:lambda:us-east-1:123456789012:function:smoke";
    // A Lambda hook that answers IN_PROGRESS, then FAILED.
    let mut st = EcsState::default();
    st.lambdas.push(serde_json::from_value(json!({"targetArn": lambda, "answers": ["IN_PROGRESS", "FAILED"], "callBackDelaySeconds": 5})).unwrap());
    let arn = deploy(
        &mut st,
        json!({"strategy": "CANARY", "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "hookTargetArn": lambda, "roleArn": "arn:aws:iam::123456789012:role/hook", "lifecycleStages": ["POST_SCALE_UP"]}]}),
        "good2",
        runs(),
    );
    let (_, d, _) = follow(&mut st, &arn, 30.0, |_, _, d| {
        d["status"] == "ROLLBACK_REQUESTED" || d["status"] == "ROLLBACK_IN_PROGRESS"
    });
    assert!(d["statusReason"].as_str().unwrap().contains(lambda), "{d}");
    assert_eq!(d["lifecycleHookDetails"][0]["status"], "FAILED");
    assert_eq!(st.lambdas[0].calls, 2);
    let (_, d, _) = follow(&mut st, &arn, 200.0, |_, _, _| false);
    assert_eq!(d["status"], "ROLLBACK_SUCCESSFUL");

    // An alarm that fires during the bake.
    let mut st = EcsState::default();
    let arn = deploy(
        &mut st,
        json!({"strategy": "LINEAR", "bakeTimeInMinutes": 30, "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 0},
        "alarms": {"alarmNames": ["p99", "errors"], "enable": true, "rollback": true}}),
        "good2",
        runs(),
    );
    let (_, d, t) = follow(&mut st, &arn, 30.0, |_, _, d| {
        d["lifecycleStage"] == "BAKE_TIME"
    });
    assert_eq!(d["alarms"]["status"], "MONITORING");
    st.alarms.insert("errors".into(), "ALARM".into());
    let (_, d, _) = follow(&mut st, &arn, t, |_, _, _| false);
    assert_eq!(d["status"], "ROLLBACK_SUCCESSFUL", "{d}");
    assert_eq!(d["alarms"]["status"], "TRIGGERED");
    assert_eq!(d["alarms"]["triggeredAlarmNames"], json!(["errors"]));
    assert!(d["statusReason"].as_str().unwrap().contains("errors"));

    // A crash-looping green revision trips the breaker.
    let mut st = EcsState::default();
    let crash = Fate::Runs {
        exit: Some((3, 1.0)),
        unhealthy_after: None,
        log: Default::default(),
    };
    let arn = deploy(
        &mut st,
        json!({"strategy": "BLUE_GREEN", "deploymentCircuitBreaker": {"enable": true, "rollback": true}}),
        "crash",
        crash,
    );
    let (stages, d, _) = follow(&mut st, &arn, 30.0, |_, _, _| false);
    assert_eq!(d["status"], "ROLLBACK_SUCCESSFUL", "{d}");
    assert_eq!(d["deploymentCircuitBreaker"]["status"], "TRIGGERED");
    assert!(
        d["deploymentCircuitBreaker"]["failureCount"]
            .as_i64()
            .unwrap()
            >= 3
    );
    assert_eq!(stages.last().map(String::as_str), Some("SCALE_UP"));
}

#[test]
fn strategy_settings_are_checked_as_ecs_checks_them() {
    let mut st = EcsState::default();
    st.fates.insert("good".into(), runs());
    call(&mut st, 0.0, "CreateCluster", json!({"clusterName": "c"})).unwrap();
    call(&mut st, 0.0, "RegisterTaskDefinition", json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "good", "portMappings": [{"containerPort": 80}]}]})).unwrap();
    let mut plain_lb = lb();
    plain_lb[0]
        .as_object_mut()
        .unwrap()
        .remove("advancedConfiguration");
    call(&mut st, 0.0, "CreateService", json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web:1", "desiredCount": 1, "loadBalancers": plain_lb})).unwrap();
    for (config, word) in [
        (json!({"strategy": "BLUE_GREEN"}), "advancedConfiguration"),
        (json!({"strategy": "PURPLE"}), "Invalid deployment strategy"),
        (json!({"bakeTimeInMinutes": 1441}), "bakeTimeInMinutes"),
        (
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 1.0}}),
            "stepPercent",
        ),
        (
            json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["BAKE_TIME"]}]}),
            "Invalid lifecycle stage",
        ),
    ] {
        let e = call(
            &mut st,
            1.0,
            "UpdateService",
            json!({"cluster": "c", "service": "s", "deploymentConfiguration": config}),
        )
        .unwrap_err();
        assert!(
            e.starts_with("InvalidParameterException") && e.contains(word),
            "{config}: {e}"
        );
    }
    // Adding the alternate target group makes blue/green possible.
    call(&mut st, 1.0, "UpdateService", json!({"cluster": "c", "service": "s", "loadBalancers": lb(), "deploymentConfiguration": {"strategy": "BLUE_GREEN"}})).unwrap();
    // Rolling deployments cannot be continued in the sandbox, and say so.
    let l = call(
        &mut st,
        2.0,
        "ListServiceDeployments",
        json!({"cluster": "c", "service": "s"}),
    )
    .unwrap();
    let arn = l["serviceDeployments"][0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string();
    let e = call(
        &mut st,
        2.0,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn}),
    )
    .unwrap_err();
    assert!(e.starts_with("UnsupportedFeatureException"), "{e}");
    let e = call(&mut st, 2.0, "StopServiceDeployment", json!({"serviceDeploymentArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/nothing"})).unwrap_err();
    assert!(e.starts_with("ServiceDeploymentNotFoundException"), "{e}");
}

//! Response shapes: services, deployments and tasks as DescribeServices, DescribeTasks and
//! DescribeServiceDeployments answer them (botocore's ecs model names every field).

use super::model::*;
use serde_json::{json, Value};

impl Deployment {
    pub(super) fn rollout_state_reason_set(&mut self, r: &str) {
        self.rollout_reason = r.to_string();
    }
}

pub(super) fn deployment_json(st: &EcsState, svc: &Service, d: &Deployment) -> Value {
    let of = |status: &str| {
        st.tasks
            .iter()
            .filter(|t| {
                t.deployment.as_deref() == Some(d.id.as_str())
                    && t.desired_status == "RUNNING"
                    && t.last_status == status
            })
            .count()
    };
    let pending = of("PROVISIONING") + of("PENDING");
    json!({
        "id": d.id, "status": d.status, "taskDefinition": d.task_definition, "desiredCount": d.desired,
        "pendingCount": pending, "runningCount": of("RUNNING"), "failedTasks": d.failed,
        "createdAt": d.created_at, "updatedAt": d.updated_at, "launchType": svc.launch_type,
        "networkConfiguration": svc.network, "rolloutState": d.rollout_state, "rolloutStateReason": d.rollout_reason,
    })
}

pub(super) fn service_json(st: &EcsState, ctx: &Ctx, svc: &Service) -> Value {
    let count = |status: &str| {
        st.tasks
            .iter()
            .filter(|t| {
                t.service.as_deref() == Some(svc.name.as_str())
                    && t.cluster == svc.cluster
                    && t.desired_status == "RUNNING"
                    && t.last_status == status
            })
            .count()
    };
    let events: Vec<Value> = svc
        .events
        .iter()
        .rev()
        .take(100)
        .map(|(at, id, m)| json!({"id": id, "createdAt": at, "message": m}))
        .collect();
    let mut v = json!({
        "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": ctx.arn("cluster", &svc.cluster),
        "status": "ACTIVE", "desiredCount": svc.desired, "runningCount": count("RUNNING"),
        "pendingCount": count("PENDING") + count("PROVISIONING"), "launchType": svc.launch_type,
        "taskDefinition": svc.task_definition, "deploymentConfiguration": svc.deployment_configuration,
        "deployments": svc.deployments.iter().map(|d| deployment_json(st, svc, d)).collect::<Vec<_>>(),
        "events": events, "createdAt": svc.created_at, "networkConfiguration": svc.network,
        "loadBalancers": svc.load_balancers,
        "deploymentController": {"type": svc.controller}, "schedulingStrategy": "REPLICA",
    });
    if svc.controller == "CODE_DEPLOY" {
        v["taskSets"] = task_sets_json(st, ctx, svc);
    }
    v
}

/// A CODE_DEPLOY service's task sets (`TaskSet`): one per deployment it still runs.
fn task_sets_json(st: &EcsState, ctx: &Ctx, svc: &Service) -> Value {
    let cd = st
        .codedeploy
        .deployments
        .iter()
        .filter(|c| c.creator == "user");
    svc.deployments
        .iter()
        .map(|d| {
            let base = deployment_json(st, svc, d);
            let external = cd.clone().find(|c| c.ecs_deployment == d.id).map(|c| c.id.clone());
            let steady = d.rollout_state == "COMPLETED" || d.native.as_ref().is_some_and(|n| n.status == "SUCCESSFUL");
            let mut t = json!({
                "id": d.id, "taskSetArn": ctx.arn("task-set", &format!("{}/{}/{}", svc.cluster, svc.name, d.id.replace("ecs-svc/", "ecs-svc-"))),
                "serviceArn": svc.arn, "clusterArn": ctx.arn("cluster", &svc.cluster),
                "status": d.status, "taskDefinition": d.task_definition, "computedDesiredCount": d.desired,
                "pendingCount": base["pendingCount"], "runningCount": base["runningCount"],
                "createdAt": d.created_at, "updatedAt": d.updated_at, "launchType": svc.launch_type,
                "networkConfiguration": svc.network, "loadBalancers": svc.load_balancers,
                "scale": {"value": 100.0, "unit": "PERCENT"},
                "stabilityStatus": if steady { "STEADY_STATE" } else { "STABILIZING" }, "stabilityStatusAt": d.updated_at,
            });
            if let Some(e) = external {
                t["externalId"] = json!(e);
                t["startedBy"] = json!("CodeDeploy");
            }
            t
        })
        .collect()
}

pub(super) fn task_json(ctx: &Ctx, t: &Task) -> Value {
    let mut v = json!({
        "taskArn": t.arn, "clusterArn": ctx.arn("cluster", &t.cluster), "taskDefinitionArn": t.td_arn,
        "lastStatus": t.last_status, "desiredStatus": t.desired_status, "createdAt": t.created_at,
        "group": t.group, "launchType": t.launch_type, "overrides": t.overrides,
        "enableExecuteCommand": t.enable_execute_command,
        "healthStatus": t.health.as_ref().map_or("UNKNOWN", |h| h.status),
        "containers": t.containers.iter().map(|c| {
            let mut cv = json!({"containerArn": ctx.arn("container", &format!("{}/{}/{}", t.cluster, t.id, c.name)), "taskArn": t.arn, "name": c.name, "image": c.image, "lastStatus": if t.last_status == "DEACTIVATING" { "RUNNING" } else { t.last_status.as_str() }});
            if let Some(code) = c.exit_code { cv["exitCode"] = json!(code); }
            cv["healthStatus"] = json!(match &t.health { Some(h) if t.health_container.as_deref() == Some(c.name.as_str()) => h.status, _ => "UNKNOWN" });
            if let Some(r) = &c.reason { cv["reason"] = json!(r); }
            cv
        }).collect::<Vec<_>>(),
    });
    if let Some((attachments, per_container)) = super::network::attachments(t, ctx.region) {
        v["attachments"] = attachments;
        for c in v["containers"].as_array_mut().into_iter().flatten() {
            c["networkInterfaces"] = per_container.clone();
        }
    }
    for (k, val) in [
        ("startedAt", t.started_at),
        ("stoppingAt", t.stopping_at),
        ("stoppedAt", t.stopped_at),
        ("pullStartedAt", t.pending_at),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    for (k, val) in [
        ("stopCode", &t.stop_code),
        ("stoppedReason", &t.stopped_reason),
        ("startedBy", &t.started_by),
        ("platformVersion", &t.platform_version),
        ("capacityProviderName", &t.capacity_provider),
        ("cpu", &t.cpu),
        ("memory", &t.memory),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    v
}

/// A service revision's ARN (one per deployment in the sandbox).
pub(super) fn revision_arn(ctx: &Ctx, svc: &Service, deployment_id: &str) -> String {
    ctx.arn(
        "service-revision",
        &format!(
            "{}/{}/{}",
            svc.cluster,
            svc.name,
            deployment_id.trim_start_matches("ecs-svc/")
        ),
    )
}

/// A service deployment's ARN.
pub(super) fn service_deployment_arn(ctx: &Ctx, svc: &Service, d: &Deployment) -> String {
    ctx.arn(
        "service-deployment",
        &format!("{}/{}/{}", svc.cluster, svc.name, d.sd_id),
    )
}

/// `ServiceDeploymentStatus` of a deployment.
pub(super) fn service_deployment_status(svc: &Service, d: &Deployment) -> String {
    if let Some(n) = &d.native {
        return n.status.clone();
    }
    match d.rollout_state.as_str() {
        "COMPLETED" => "SUCCESSFUL",
        "FAILED"
            if svc
                .history
                .iter()
                .any(|h| h.created_at >= d.created_at && h.id != d.id) =>
        {
            "ROLLBACK_SUCCESSFUL"
        }
        "FAILED" => "STOPPED",
        // Replaced before it finished (gone, or no longer PRIMARY): stopped.
        _ if svc.deployments.iter().all(|x| x.id != d.id) || d.status != "PRIMARY" => "STOPPED",
        _ => "IN_PROGRESS",
    }
    .into()
}

/// A `ServiceRevisionSummary`: the revision's counts now and its requested traffic weights.
fn revision_summary(
    st: &EcsState,
    ctx: &Ctx,
    svc: &Service,
    id: &str,
    desired: i64,
    weights: Option<(f64, f64)>,
) -> Value {
    let of = |status: &[&str]| {
        st.tasks
            .iter()
            .filter(|t| {
                t.deployment.as_deref() == Some(id)
                    && t.desired_status == "RUNNING"
                    && status.contains(&t.last_status.as_str())
            })
            .count()
    };
    let mut v = json!({"arn": revision_arn(ctx, svc, id), "requestedTaskCount": desired,
        "runningTaskCount": of(&["RUNNING"]), "pendingTaskCount": of(&["PROVISIONING", "PENDING"])});
    if let Some((production, test)) = weights {
        v["requestedProductionTrafficWeight"] = json!(production);
        v["requestedTestTrafficWeight"] = json!(test);
    }
    v
}

/// A service deployment as ListServiceDeployments answers it (`ServiceDeploymentBrief`).
pub(super) fn service_deployment_brief(ctx: &Ctx, svc: &Service, d: &Deployment) -> Value {
    let mut v = json!({
        "serviceDeploymentArn": service_deployment_arn(ctx, svc, d), "serviceArn": svc.arn,
        "clusterArn": ctx.arn("cluster", &svc.cluster), "createdAt": d.created_at, "startedAt": d.created_at,
        "targetServiceRevisionArn": revision_arn(ctx, svc, &d.id),
        "status": service_deployment_status(svc, d), "statusReason": d.native.as_ref().map_or(d.rollout_reason.as_str(), |n| n.reason.as_str()),
    });
    if let Some(f) = d.native.as_ref().and_then(|n| n.finished_at) {
        v["finishedAt"] = json!(f);
    }
    v
}

/// A service deployment as DescribeServiceDeployments answers it (`ServiceDeployment`).
pub(super) fn service_deployment_json(
    st: &EcsState,
    ctx: &Ctx,
    svc: &Service,
    d: &Deployment,
) -> Value {
    let mut v = service_deployment_brief(ctx, svc, d);
    let o = v.as_object_mut().expect("object");
    o.remove("targetServiceRevisionArn");
    o.insert("updatedAt".into(), json!(d.updated_at));
    let breaker = &svc.deployment_configuration["deploymentCircuitBreaker"];
    let Some(n) = &d.native else {
        o.insert(
            "targetServiceRevision".into(),
            revision_summary(st, ctx, svc, &d.id, d.desired, None),
        );
        o.insert(
            "deploymentConfiguration".into(),
            svc.deployment_configuration.clone(),
        );
        let status = match (
            breaker["enable"].as_bool().unwrap_or(false),
            d.rollout_state.as_str(),
        ) {
            (false, _) => "DISABLED",
            (true, "FAILED") => "TRIGGERED",
            (true, "COMPLETED") => "MONITORING_COMPLETE",
            _ => "MONITORING",
        };
        o.insert("deploymentCircuitBreaker".into(), json!({"status": status, "failureCount": d.failed, "threshold": super::strategies::threshold(d.desired)}));
        return v;
    };
    let weights = |green: f64| Some((green, green));
    o.insert(
        "targetServiceRevision".into(),
        revision_summary(st, ctx, svc, &d.id, d.desired, Some((n.production, n.test))),
    );
    if let Some((blue, _)) = &n.source {
        let w = weights(100.0 - n.production).map(|(p, _)| (p, 100.0 - n.test));
        o.insert(
            "sourceServiceRevisions".into(),
            json!([revision_summary(st, ctx, svc, blue, svc.desired, w)]),
        );
    }
    o.insert("lifecycleStage".into(), json!(n.stage_name()));
    o.insert(
        "lifecycleHookDetails".into(),
        super::strategies_api::hook_details(n),
    );
    o.insert("deploymentConfiguration".into(), n.config.clone());
    let monitor = |on: bool, triggered: bool| match (on, triggered, n.active()) {
        (false, ..) => "DISABLED",
        (true, true, _) => "TRIGGERED",
        (true, false, true) => "MONITORING",
        (true, false, false) => "MONITORING_COMPLETE",
    };
    let b_on = n.config["deploymentCircuitBreaker"]["enable"]
        .as_bool()
        .unwrap_or(false);
    o.insert("deploymentCircuitBreaker".into(), json!({"status": monitor(b_on, n.breaker_triggered), "failureCount": d.failed, "threshold": super::strategies::threshold(d.desired)}));
    let alarms = &n.config["alarms"];
    let a_on = alarms["enable"].as_bool().unwrap_or(false);
    o.insert("alarms".into(), json!({"status": monitor(a_on, !n.triggered_alarms.is_empty()),
        "alarmNames": alarms["alarmNames"].as_array().cloned().unwrap_or_default(), "triggeredAlarmNames": n.triggered_alarms}));
    if let Some((reason, at)) = &n.rollback {
        let blue = n.source.as_ref().map(|(b, _)| revision_arn(ctx, svc, b));
        o.insert(
            "rollback".into(),
            json!({"reason": reason, "startedAt": at, "serviceRevisionArn": blue}),
        );
    }
    if n.status == "STOPPED" {
        o.insert("stoppedAt".into(), json!(n.finished_at));
    }
    v
}

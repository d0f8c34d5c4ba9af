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
    json!({
        "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": ctx.arn("cluster", &svc.cluster),
        "status": "ACTIVE", "desiredCount": svc.desired, "runningCount": count("RUNNING"),
        "pendingCount": count("PENDING") + count("PROVISIONING"), "launchType": svc.launch_type,
        "taskDefinition": svc.task_definition, "deploymentConfiguration": svc.deployment_configuration,
        "deployments": svc.deployments.iter().map(|d| deployment_json(st, svc, d)).collect::<Vec<_>>(),
        "events": events, "createdAt": svc.created_at, "networkConfiguration": svc.network,
        "loadBalancers": svc.load_balancers,
        "deploymentController": {"type": "ECS"}, "schedulingStrategy": "REPLICA",
    })
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

/// A service deployment as ListServiceDeployments and DescribeServiceDeployments answer it.
pub(super) fn service_deployment_json(ctx: &Ctx, svc: &Service, d: &Deployment) -> Value {
    let status = match (d.rollout_state.as_str(), d.status.as_str()) {
        ("COMPLETED", _) => "SUCCESSFUL",
        ("FAILED", _)
            if svc
                .history
                .iter()
                .any(|h| h.created_at >= d.created_at && h.id != d.id) =>
        {
            "ROLLBACK_SUCCESSFUL"
        }
        ("FAILED", _) => "STOPPED",
        _ => "IN_PROGRESS",
    };
    json!({
        "serviceDeploymentArn": ctx.arn("service-deployment", &format!("{}/{}/{}", svc.cluster, svc.name, d.id.trim_start_matches("ecs-svc/"))),
        "serviceArn": svc.arn, "clusterArn": ctx.arn("cluster", &svc.cluster), "status": status,
        "statusReason": d.rollout_reason, "createdAt": d.created_at, "updatedAt": d.updated_at,
        "targetServiceRevision": {"arn": d.task_definition, "requestedTaskCount": d.desired},
    })
}

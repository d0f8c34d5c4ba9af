//! ECS tasks: list, describe, run and stop, as the API takes and answers them.

use super::api::*;
use super::model::*;
use super::shapes::*;
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

/// ECS.ListTasks.
pub(super) fn list_tasks(st: &mut EcsState, _ctx: &Ctx, body: &Value) -> OpResult {
    let cluster = cluster_name(body);
    require_cluster(st, &cluster)?;
    let desired = opt_str(body, "desiredStatus").unwrap_or("RUNNING");
    let service =
        opt_str(body, "serviceName").map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
    let family = opt_str(body, "family");
    let started_by = opt_str(body, "startedBy");
    if let Some(s) = &service {
        if !st.services.contains_key(&(cluster.clone(), s.clone())) {
            return Err(AwsError::client(
                "ServiceNotFoundException",
                "Service not found.",
            ));
        }
    }
    let arns: Vec<&str> = st
        .tasks
        .iter()
        .filter(|t| t.cluster == cluster && t.desired_status == desired)
        .filter(|t| {
            service
                .as_ref()
                .is_none_or(|s| t.service.as_ref() == Some(s))
        })
        .filter(|t| family.is_none_or(|f| t.td_arn.contains(&format!("task-definition/{f}:"))))
        .filter(|t| started_by.is_none_or(|b| t.started_by.as_deref() == Some(b)))
        .map(|t| t.arn.as_str())
        .collect();
    Ok(json!({"taskArns": arns}))
}

/// ECS.DescribeTasks.
pub(super) fn describe_tasks(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let cluster = cluster_name(body);
    require_cluster(st, &cluster)?;
    let (mut tasks, mut failures) = (vec![], vec![]);
    for r in str_list(body, "tasks") {
        match st.tasks.iter().find(|t| t.arn == r || t.id == r) {
            Some(t) => {
                let mut v = task_json(ctx, t);
                if super::tags::wants_tags(body) {
                    v["tags"] = super::tags::tags_json(super::tags::tags_of(st, &t.arn));
                }
                tasks.push(v)
            }
            None => failures.push(json!({"arn": r, "reason": "MISSING"})),
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

/// ECS.RunTask.
pub(super) fn run_task(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let cluster = cluster_name(body);
    require_cluster(st, &cluster)?;
    let td_ref = opt_str(body, "taskDefinition")
        .ok_or_else(|| AwsError::invalid_parameter("taskDefinition is required"))?;
    let td = find_task_definition(st, td_ref)
        .cloned()
        .ok_or_else(|| client("TaskDefinition not found."))?;
    let count = body.get("count").and_then(Value::as_i64).unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(AwsError::invalid_parameter(
            "The number of tasks to run must be between 1 and 10.",
        ));
    }
    let providers = body
        .get("capacityProviderStrategy")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !providers.is_empty() && body.get("launchType").is_some() {
        return Err(AwsError::invalid_parameter(
            "Specifying both a launchType and capacityProviderStrategy is not supported.",
        ));
    }
    check_placement(body)?;
    let mut tags = super::tags::parse_tags(body.get("tags"))?;
    match opt_str(body, "propagateTags") {
        None | Some("NONE") => {}
        Some("TASK_DEFINITION") => {
            let td_arn = td.json["taskDefinitionArn"].as_str().unwrap_or_default();
            for (k, v) in super::tags::tags_of(st, td_arn).to_vec() {
                if !tags.iter().any(|(key, _)| *key == k) {
                    tags.push((k, v));
                }
            }
        }
        Some(other) => {
            return Err(AwsError::invalid_parameter(format!(
                "propagateTags {other} is not valid for RunTask: use TASK_DEFINITION or NONE."
            )))
        }
    }
    if body.get("enableECSManagedTags").and_then(Value::as_bool) == Some(true) {
        tags.push(("aws:ecs:clusterName".into(), cluster.clone()));
    }
    // The first provider with a base (or else the first) gets the task, as ECS fills bases first.
    let provider = providers
        .iter()
        .find(|p| p.get("base").and_then(Value::as_i64).unwrap_or(0) > 0)
        .or(providers.first())
        .and_then(|p| opt_str(p, "capacityProvider"))
        .map(String::from);
    let launch = match (opt_str(body, "launchType"), &provider) {
        (Some(l), _) => l.to_string(),
        (None, Some(p)) if p.starts_with("FARGATE") => "FARGATE".to_string(),
        _ => "EC2".to_string(),
    };
    let overrides = body
        .get("overrides")
        .cloned()
        .unwrap_or_else(|| json!({"containerOverrides": []}));
    let family = td.json["family"].as_str().unwrap_or_default().to_string();
    let ids: Vec<String> = (0..count)
        .map(|_| {
            new_task(
                st,
                ctx,
                &cluster,
                &td,
                opt_str(body, "group")
                    .map(String::from)
                    .unwrap_or_else(|| format!("family:{family}")),
                None,
                None,
                opt_str(body, "startedBy").map(String::from),
                &launch,
                overrides.clone(),
            )
        })
        .collect();
    if super::network::is_awsvpc(&td.json) {
        let config = body
            .get("networkConfiguration")
            .cloned()
            .unwrap_or_default();
        for id in &ids {
            super::network::attach(st, id, &config, &td.json);
        }
    }
    let exec = body
        .get("enableExecuteCommand")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let platform = opt_str(body, "platformVersion").map(String::from);
    let mut arns = vec![];
    for t in st.tasks.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.enable_execute_command = exec;
        t.platform_version = platform.clone();
        t.capacity_provider = provider.clone();
        arns.push(t.arn.clone());
    }
    for arn in arns {
        super::tags::set_tags(st, &arn, tags.clone());
    }
    let tasks: Vec<Value> = ids
        .iter()
        .filter_map(|id| st.tasks.iter().find(|t| &t.id == id))
        .map(|t| task_json(ctx, t))
        .collect();
    Ok(json!({"tasks": tasks, "failures": []}))
}

/// RunTask's placementConstraints and placementStrategy, checked against the model's enums.
fn check_placement(body: &Value) -> Result<(), AwsError> {
    let list = |k: &str| {
        body.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for c in list("placementConstraints") {
        match opt_str(&c, "type") {
            Some("distinctInstance") => {}
            Some("memberOf") if opt_str(&c, "expression").is_some() => {}
            _ => {
                return Err(AwsError::invalid_parameter(format!(
                    "Invalid placement constraint: {c}"
                )))
            }
        }
    }
    for s in list("placementStrategy") {
        if !matches!(opt_str(&s, "type"), Some("random" | "spread" | "binpack")) {
            return Err(AwsError::invalid_parameter(format!(
                "Invalid placement strategy: {s}"
            )));
        }
    }
    Ok(())
}

/// ECS.StopTask.
pub(super) fn stop_task_request(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let cluster = cluster_name(body);
    require_cluster(st, &cluster)?;
    let r = opt_str(body, "task").ok_or_else(|| AwsError::invalid_parameter("task is required"))?;
    let reason = opt_str(body, "reason")
        .unwrap_or("Task stopped by user")
        .to_string();
    let t = st
        .tasks
        .iter_mut()
        .find(|t| t.arn == r || t.id == r)
        .ok_or_else(|| AwsError::invalid_parameter("The referenced task was not found."))?;
    stop_task(t, ctx.now, "UserInitiated", &reason, &mut st.to_remove);
    let t = t.clone();
    Ok(json!({"task": task_json(ctx, &t)}))
}

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
            Some(t) => tasks.push(task_json(ctx, t)),
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
    let count = body
        .get("count")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .clamp(1, 10);
    let launch = opt_str(body, "launchType").unwrap_or("EC2").to_string();
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
    let exec = body
        .get("enableExecuteCommand")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let platform = opt_str(body, "platformVersion").map(String::from);
    for t in st.tasks.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.enable_execute_command = exec;
        t.platform_version = platform.clone();
    }
    let tasks: Vec<Value> = ids
        .iter()
        .filter_map(|id| st.tasks.iter().find(|t| &t.id == id))
        .map(|t| task_json(ctx, t))
        .collect();
    Ok(json!({"tasks": tasks, "failures": []}))
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

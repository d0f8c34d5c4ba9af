//! The ECS API: request parameters in, response shapes out (as botocore's ecs model has them).

use super::model::*;
use super::services::*;
use super::shapes::*;
use super::tags::{self, parse_tags, set_tags, tags_json, tags_of, wants_tags};
use super::tasks::*;
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

/// The strings of a request's list member (missing or mistyped entries are skipped).
pub(super) fn str_list<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

pub(super) fn cluster_name(body: &Value) -> String {
    let c = opt_str(body, "cluster").unwrap_or("default");
    c.rsplit_once(":cluster/").map_or(c, |(_, n)| n).to_string()
}

pub(super) fn require_cluster(st: &EcsState, name: &str) -> Result<(), AwsError> {
    if st.clusters.contains_key(name) {
        Ok(())
    } else {
        Err(AwsError::client(
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    }
}

pub(super) fn service_key(body: &Value, field: &str) -> Result<(String, String), AwsError> {
    let s = opt_str(body, field)
        .ok_or_else(|| AwsError::invalid_parameter(format!("{field} is required")))?;
    Ok((
        cluster_name(body),
        s.rsplit('/').next().unwrap_or(s).to_string(),
    ))
}

pub(super) fn deployment_configuration(given: Option<&Value>, old: Option<&Value>) -> Value {
    let mut c = old.cloned().unwrap_or_else(|| json!({"maximumPercent": 200, "minimumHealthyPercent": 100, "deploymentCircuitBreaker": {"enable": false, "rollback": false}}));
    if let Some(Value::Object(g)) = given {
        for (k, v) in g {
            c[k] = v.clone();
        }
    }
    c
}

/// Run one ECS operation (after the caller has advanced the simulation with [`tick`]).
pub fn handle(st: &mut EcsState, ctx: &Ctx, op: &str, body: &Value, caller_arn: &str) -> OpResult {
    match op {
        "CreateCluster" => create_cluster(st, ctx, body),
        "DescribeClusters" => describe_clusters(st, ctx, body),
        "DescribeTaskDefinition" => describe_task_definition(st, ctx, body),
        "DeregisterTaskDefinition" => deregister_task_definition(st, ctx, body),
        "ListTaskDefinitions" => list_task_definitions(st, ctx, body),
        "CreateService" => create_service(st, ctx, body),
        "UpdateService" => update_service(st, ctx, body),
        "DescribeServices" => describe_services(st, ctx, body),
        "DeleteService" => delete_service(st, ctx, body),
        "ListTasks" => list_tasks(st, ctx, body),
        "DescribeTasks" => describe_tasks(st, ctx, body),
        "RunTask" => run_task(st, ctx, body),
        "StopTask" => stop_task_request(st, ctx, body),
        "RegisterTaskDefinition" => register_task_definition(st, ctx, body, caller_arn),

        "ListServiceDeployments" | "DescribeServiceDeployments" => {
            service_deployments(st, ctx, op, body)
        }
        "ContinueServiceDeployment" => super::strategies_api::continue_deployment(st, ctx, body),
        "StopServiceDeployment" => super::strategies_api::stop_deployment(st, ctx, body),
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            tags::handle(st, ctx.region, op, body)
        }
        "ListClusters" => tags::list_clusters(st, |c| ctx.arn("cluster", c), body),
        "ListServices" => tags::list_services(st, &cluster_name(body), body),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement ECS.{other}"),
        )),
    }
}

/// ECS.CreateCluster.
pub(super) fn create_cluster(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let name = opt_str(body, "clusterName")
        .unwrap_or("default")
        .to_string();
    if !name_ok(&name) {
        return Err(AwsError::invalid_parameter("Cluster names can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores and hyphens."));
    }
    let tags = parse_tags(body.get("tags"))?;
    st.clusters.entry(name.clone()).or_insert(ctx.now);
    let arn = ctx.arn("cluster", &name);
    set_tags(st, &arn, tags);
    Ok(
        json!({"cluster": {"clusterArn": arn, "clusterName": name, "status": "ACTIVE", "registeredContainerInstancesCount": 0, "runningTasksCount": 0, "pendingTasksCount": 0, "activeServicesCount": 0, "tags": tags_json(tags_of(st, &arn))}}),
    )
}

/// ECS.DescribeClusters.
pub(super) fn describe_clusters(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let names: Vec<String> = body
        .get("clusters")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_else(|| vec!["default".into()]);
    let (mut clusters, mut failures) = (vec![], vec![]);
    for n in names {
        let short = n
            .rsplit_once(":cluster/")
            .map_or(n.as_str(), |(_, x)| x)
            .to_string();
        if st.clusters.contains_key(&short) {
            let running = st
                .tasks
                .iter()
                .filter(|t| t.cluster == short && t.last_status == "RUNNING")
                .count();
            let services = st.services.keys().filter(|(c, _)| *c == short).count();
            let arn = ctx.arn("cluster", &short);
            let mut c = json!({"clusterArn": arn, "clusterName": short, "status": "ACTIVE", "runningTasksCount": running, "activeServicesCount": services});
            if wants_tags(body) {
                c["tags"] = tags_json(tags_of(st, &arn));
            }
            clusters.push(c);
        } else {
            failures.push(json!({"arn": ctx.arn("cluster", &short), "reason": "MISSING"}));
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

/// ECS.DescribeTaskDefinition.
pub(super) fn describe_task_definition(st: &mut EcsState, _ctx: &Ctx, body: &Value) -> OpResult {
    let r = opt_str(body, "taskDefinition").ok_or_else(|| client("taskDefinition is required"))?;
    let td =
        find_task_definition(st, r).ok_or_else(|| client("Unable to describe task definition."))?;
    // Tags only when asked for, as ECS answers.
    let mut out = json!({"taskDefinition": td.json});
    if wants_tags(body) {
        out["tags"] = tags_json(tags_of(st, &td_arn(td)));
    }
    Ok(out)
}

/// ECS.DeregisterTaskDefinition.
pub(super) fn deregister_task_definition(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let r = opt_str(body, "taskDefinition").ok_or_else(|| client("taskDefinition is required"))?;
    if !r.contains(':') {
        return Err(AwsError::invalid_parameter(
            "Invalid revision number. Number: ",
        ));
    }
    let short = r.rsplit_once(":task-definition/").map_or(r, |(_, x)| x);
    let (family, rev) = short
        .split_once(':')
        .ok_or_else(|| client("Unable to describe task definition."))?;
    let td = st
        .taskdefs
        .get_mut(family)
        .and_then(|v| v.get_mut(rev.parse::<usize>().unwrap_or(0).wrapping_sub(1)))
        .ok_or_else(|| client("The specified task definition does not exist."))?;
    td.json["status"] = json!("INACTIVE");
    td.json["deregisteredAt"] = json!(ctx.now);
    Ok(json!({"taskDefinition": td.json}))
}

/// ECS.ListTaskDefinitions.
pub(super) fn list_task_definitions(st: &mut EcsState, _ctx: &Ctx, body: &Value) -> OpResult {
    // familyPrefix is the whole family name, despite its name (the API reference says so).
    let family = opt_str(body, "familyPrefix");
    let status = opt_str(body, "status").unwrap_or("ACTIVE");
    let mut arns: Vec<String> = st
        .taskdefs
        .iter()
        .filter(|(f, _)| family.is_none_or(|x| x == f.as_str()))
        .flat_map(|(_, v)| v.iter())
        .filter(|t| t.json["status"] == status)
        .map(td_arn)
        .collect();
    if opt_str(body, "sort") == Some("DESC") {
        arns.reverse();
    }
    let (arns, next) = tags::page(arns, body, 100)?;
    let mut out = json!({"taskDefinitionArns": arns});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

pub(super) fn service_deployments(st: &EcsState, ctx: &Ctx, op: &str, body: &Value) -> OpResult {
    if op == "ListServiceDeployments" {
        let key = service_key(body, "service")?;
        let svc = st
            .services
            .get(&key)
            .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
        // Service deployments belong to the ECS deployment controller; CodeDeploy's are its own.
        if svc.controller != "ECS" {
            return Ok(json!({"serviceDeployments": []}));
        }
        let wanted: Vec<&str> = str_list(body, "status").collect();
        let (after, before) = (
            body.pointer("/createdAt/after").and_then(Value::as_f64),
            body.pointer("/createdAt/before").and_then(Value::as_f64),
        );
        let list: Vec<Value> = svc
            .history
            .iter()
            .rev()
            .filter(|d| {
                wanted.is_empty() || wanted.contains(&service_deployment_status(svc, d).as_str())
            })
            .filter(|d| {
                after.is_none_or(|a| d.created_at >= a) && before.is_none_or(|b| d.created_at <= b)
            })
            .map(|d| service_deployment_brief(ctx, svc, d))
            .collect();
        let max = match body.get("maxResults").and_then(Value::as_i64) {
            None => 20,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(_) => {
                return Err(AwsError::invalid_parameter(
                    "maxResults must be between 1 and 100.",
                ))
            }
        };
        let start: usize = opt_str(body, "nextToken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = list.iter().skip(start).take(max).cloned().collect();
        let mut out = json!({"serviceDeployments": page});
        if start + max < list.len() {
            out["nextToken"] = json!((start + max).to_string());
        }
        return Ok(out);
    }
    let (mut found, mut failures) = (vec![], vec![]);
    for arn in str_list(body, "serviceDeploymentArns") {
        let hit = st.services.values().find_map(|svc| {
            svc.history
                .iter()
                .find(|d| arn.ends_with(&format!("/{}", d.sd_id)))
                .map(|d| {
                    // The live copy, where the deployment is still the service's.
                    let live = svc.deployments.iter().find(|x| x.id == d.id).unwrap_or(d);
                    service_deployment_json(st, ctx, svc, live)
                })
        });
        match hit {
            Some(v) => found.push(v),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

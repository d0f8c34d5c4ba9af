//! The ECS API: request parameters in, response shapes out (as botocore's ecs model has them).

use super::model::*;
use super::shapes::*;
use super::tags::{self, parse_tags, set_tags, tags_json, tags_of, wants_tags};
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
        "CreateCluster" => {
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
        "DescribeClusters" => {
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
        "RegisterTaskDefinition" => register_task_definition(st, ctx, body, caller_arn),
        "DescribeTaskDefinition" => {
            let r = opt_str(body, "taskDefinition")
                .ok_or_else(|| client("taskDefinition is required"))?;
            let td = find_task_definition(st, r)
                .ok_or_else(|| client("Unable to describe task definition."))?;
            // Tags only when asked for, as ECS answers.
            let mut out = json!({"taskDefinition": td.json});
            if wants_tags(body) {
                out["tags"] = tags_json(tags_of(st, &td_arn(td)));
            }
            Ok(out)
        }
        "DeregisterTaskDefinition" => {
            let r = opt_str(body, "taskDefinition")
                .ok_or_else(|| client("taskDefinition is required"))?;
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
        "ListTaskDefinitions" => {
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

        "CreateService" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let name = opt_str(body, "serviceName")
                .ok_or_else(|| AwsError::invalid_parameter("serviceName is required"))?
                .to_string();
            if !name_ok(&name) {
                return Err(AwsError::invalid_parameter("Service names can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores and hyphens."));
            }
            let tags = parse_tags(body.get("tags"))?;
            if st.services.contains_key(&(cluster.clone(), name.clone())) {
                return Err(AwsError::invalid_parameter(
                    "Creation of service was not idempotent.",
                ));
            }
            let td_ref = opt_str(body, "taskDefinition")
                .ok_or_else(|| AwsError::invalid_parameter("taskDefinition is required"))?;
            let td = find_task_definition(st, td_ref)
                .cloned()
                .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition not found."))?;
            let launch = opt_str(body, "launchType").unwrap_or("EC2").to_string();
            if launch == "FARGATE"
                && body
                    .pointer("/networkConfiguration/awsvpcConfiguration/subnets")
                    .and_then(Value::as_array)
                    .is_none_or(|s| s.is_empty())
            {
                return Err(AwsError::invalid_parameter("Network Configuration must be provided when networkMode 'awsvpc' is specified."));
            }
            let desired = body
                .get("desiredCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let d = Deployment {
                id: new_deployment_id(),
                status: "PRIMARY".into(),
                task_definition: td_arn(&td),
                desired,
                failed: 0,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: "ECS deployment in progress.".into(),
                created_at: ctx.now,
                updated_at: ctx.now,
                settled_since: None,
            };
            let svc = Service {
                arn: ctx.arn("service", &format!("{cluster}/{name}")),
                name: name.clone(),
                cluster: cluster.clone(),
                task_definition: td_arn(&td),
                desired,
                launch_type: launch,
                network: body
                    .get("networkConfiguration")
                    .cloned()
                    .unwrap_or(Value::Null),
                deployment_configuration: deployment_configuration(
                    body.get("deploymentConfiguration"),
                    None,
                ),
                deployments: vec![d.clone()],
                history: vec![d],
                events: vec![],
                created_at: ctx.now,
                last_completed_td: None,
                steady_reported: false,
            };
            set_tags(st, &svc.arn, tags);
            let mut out = service_json(st, ctx, &svc);
            out["tags"] = tags_json(tags_of(st, &svc.arn));
            st.services.insert((cluster, name), svc);
            Ok(json!({"service": out}))
        }
        "UpdateService" => {
            let key = service_key(body, "service")?;
            require_cluster(st, &key.0)?;
            let mut svc = st.services.get(&key).cloned().ok_or_else(|| {
                AwsError::client("ServiceNotFoundException", "Service not found.")
            })?;
            if let Some(n) = body.get("desiredCount").and_then(Value::as_i64) {
                svc.desired = n;
                for d in svc.deployments.iter_mut().take(1) {
                    d.desired = n;
                }
            }
            svc.deployment_configuration = deployment_configuration(
                body.get("deploymentConfiguration"),
                Some(&svc.deployment_configuration),
            );
            if let Some(n) = body.get("networkConfiguration") {
                svc.network = n.clone();
            }
            let new_td = match opt_str(body, "taskDefinition") {
                Some(r) => Some(
                    find_task_definition(st, r)
                        .cloned()
                        .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition not found."))?,
                ),
                None => None,
            };
            let force = body
                .get("forceNewDeployment")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let changed = new_td
                .as_ref()
                .is_some_and(|td| td_arn(td) != svc.task_definition);
            if changed || force {
                let td = new_td
                    .map(|t| td_arn(&t))
                    .unwrap_or(svc.task_definition.clone());
                for d in svc.deployments.iter_mut() {
                    d.status = "ACTIVE".into();
                }
                let d = Deployment {
                    id: new_deployment_id(),
                    status: "PRIMARY".into(),
                    task_definition: td.clone(),
                    desired: svc.desired,
                    failed: 0,
                    rollout_state: "IN_PROGRESS".into(),
                    rollout_reason: "ECS deployment in progress.".into(),
                    created_at: ctx.now,
                    updated_at: ctx.now,
                    settled_since: None,
                };
                svc.task_definition = td;
                svc.deployments.insert(0, d.clone());
                svc.history.push(d);
                svc.steady_reported = false;
            }
            let out = service_json(st, ctx, &svc);
            st.services.insert(key, svc);
            Ok(json!({"service": out}))
        }
        "DescribeServices" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let (mut services, mut failures) = (vec![], vec![]);
            for s in str_list(body, "services") {
                let name = s.rsplit('/').next().unwrap_or(s);
                match st.services.get(&(cluster.clone(), name.to_string())) {
                    Some(svc) => {
                        let mut v = service_json(st, ctx, svc);
                        if wants_tags(body) {
                            v["tags"] = tags_json(tags_of(st, &svc.arn));
                        }
                        services.push(v)
                    }
                    None => failures.push(json!({"arn": ctx.arn("service", &format!("{cluster}/{name}")), "reason": "MISSING"})),
                }
            }
            Ok(json!({"services": services, "failures": failures}))
        }
        "DeleteService" => {
            let key = service_key(body, "service")?;
            require_cluster(st, &key.0)?;
            let svc = st.services.get(&key).cloned().ok_or_else(|| {
                AwsError::client("ServiceNotFoundException", "Service not found.")
            })?;
            let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
            if svc.desired > 0 && !force {
                return Err(AwsError::invalid_parameter(
                    "The service cannot be stopped while it is scaled above 0.",
                ));
            }
            for t in st.tasks.iter_mut().filter(|t| {
                t.service.as_deref() == Some(svc.name.as_str()) && t.cluster == svc.cluster
            }) {
                stop_task(
                    t,
                    ctx.now,
                    "ServiceSchedulerInitiated",
                    "Service deleted",
                    &mut st.to_remove,
                );
            }
            let mut out = service_json(st, ctx, &svc);
            out["status"] = json!("DRAINING");
            st.services.remove(&key);
            Ok(json!({"service": out}))
        }
        "ListTasks" => {
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
                .filter(|t| {
                    family.is_none_or(|f| t.td_arn.contains(&format!("task-definition/{f}:")))
                })
                .filter(|t| started_by.is_none_or(|b| t.started_by.as_deref() == Some(b)))
                .map(|t| t.arn.as_str())
                .collect();
            Ok(json!({"taskArns": arns}))
        }
        "DescribeTasks" => {
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
        "RunTask" => {
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
                        format!("family:{family}"),
                        None,
                        None,
                        opt_str(body, "startedBy").map(String::from),
                        &launch,
                        overrides.clone(),
                    )
                })
                .collect();
            let tasks: Vec<Value> = ids
                .iter()
                .filter_map(|id| st.tasks.iter().find(|t| &t.id == id))
                .map(|t| task_json(ctx, t))
                .collect();
            Ok(json!({"tasks": tasks, "failures": []}))
        }
        "StopTask" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let r = opt_str(body, "task")
                .ok_or_else(|| AwsError::invalid_parameter("task is required"))?;
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
        "ListServiceDeployments" | "DescribeServiceDeployments" => {
            service_deployments(st, ctx, op, body)
        }
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

pub(super) fn service_deployments(st: &EcsState, ctx: &Ctx, op: &str, body: &Value) -> OpResult {
    if op == "ListServiceDeployments" {
        let key = service_key(body, "service")?;
        let svc = st
            .services
            .get(&key)
            .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
        let list: Vec<Value> = svc
            .history
            .iter()
            .rev()
            .map(|d| service_deployment_json(ctx, svc, d))
            .collect();
        return Ok(json!({"serviceDeployments": list}));
    }
    let (mut found, mut failures) = (vec![], vec![]);
    for arn in str_list(body, "serviceDeploymentArns") {
        let hit = st.services.values().find_map(|svc| {
            svc.history
                .iter()
                .find(|d| arn.ends_with(d.id.trim_start_matches("ecs-svc/")))
                .map(|d| service_deployment_json(ctx, svc, d))
        });
        match hit {
            Some(v) => found.push(v),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

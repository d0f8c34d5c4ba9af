//! ECS services: create, update, describe and delete, as the API takes and answers them.

use super::api::*;
use super::model::*;
use super::shapes::*;
use super::strategies;
use super::tags::{parse_tags, set_tags, tags_json, tags_of, wants_tags};
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

/// ECS.CreateService.
pub(super) fn create_service(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
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
        return Err(AwsError::invalid_parameter(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ));
    }
    let load_balancers = check_load_balancers(body, &td.json)?;
    let controller = body
        .pointer("/deploymentController/type")
        .and_then(Value::as_str)
        .unwrap_or("ECS")
        .to_string();
    if !["ECS", "CODE_DEPLOY", "EXTERNAL"].contains(&controller.as_str()) {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid deployment controller type: {controller}."
        )));
    }
    let config = deployment_configuration(body.get("deploymentConfiguration"), None);
    super::strategies_api::validate(&config, &load_balancers)?;
    let desired = body
        .get("desiredCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let d = Deployment::new(
        "PRIMARY",
        td_arn(&td),
        desired,
        ctx.now,
        "ECS deployment in progress.".into(),
    );
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
        load_balancers,
        deployment_configuration: config,
        deployments: vec![d.clone()],
        history: vec![d],
        events: vec![],
        created_at: ctx.now,
        last_completed_td: None,
        steady_reported: false,
        controller,
    };
    set_tags(st, &svc.arn, tags);
    let mut out = service_json(st, ctx, &svc);
    out["tags"] = tags_json(tags_of(st, &svc.arn));
    st.services.insert((cluster, name), svc);
    Ok(json!({"service": out}))
}

/// CreateService's loadBalancers, checked against the task definition as ECS checks them: each
/// names a container of it and a port that container maps.
fn check_load_balancers(body: &Value, td: &Value) -> Result<Value, AwsError> {
    let list = body
        .get("loadBalancers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for lb in &list {
        let name = opt_str(lb, "containerName").unwrap_or_default();
        let port = lb.get("containerPort").and_then(Value::as_i64);
        let container = td["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == name)
            .ok_or_else(|| {
                AwsError::invalid_parameter(format!(
                    "The container {name} does not exist in the task definition."
                ))
            })?;
        let mapped = container["portMappings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["containerPort"].as_i64() == port);
        if !mapped {
            return Err(AwsError::invalid_parameter(format!(
                "The container {name} did not have a container port {} defined.",
                port.unwrap_or_default()
            )));
        }
    }
    Ok(Value::Array(list))
}

/// ECS.UpdateService.
pub(super) fn update_service(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let key = service_key(body, "service")?;
    require_cluster(st, &key.0)?;
    let mut svc = st
        .services
        .get(&key)
        .cloned()
        .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
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
    if body.get("loadBalancers").is_some() {
        let td = find_task_definition(
            st,
            opt_str(body, "taskDefinition").unwrap_or(&svc.task_definition),
        )
        .cloned()
        .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition not found."))?;
        svc.load_balancers = check_load_balancers(body, &td.json)?;
    }
    super::strategies_api::validate(&svc.deployment_configuration, &svc.load_balancers)?;
    if let Some(n) = body.get("networkConfiguration") {
        svc.network = n.clone();
    }
    if svc.controller != "ECS" && body.get("taskDefinition").is_some() {
        return Err(AwsError::invalid_parameter(format!("Unable to update task definition on services with a {} deployment controller. Use AWS CodeDeploy to trigger a new deployment.", svc.controller)));
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
        let config = svc.deployment_configuration.clone();
        let native = strategies::native_strategy(&config).map(|s| (s, &config));
        begin_deployment(&mut svc, td, native, ctx.now);
    }
    let out = service_json(st, ctx, &svc);
    st.services.insert(key, svc);
    Ok(json!({"service": out}))
}

/// ECS.DescribeServices.
pub(super) fn describe_services(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
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

/// ECS.DeleteService.
pub(super) fn delete_service(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let key = service_key(body, "service")?;
    require_cluster(st, &key.0)?;
    let svc = st
        .services
        .get(&key)
        .cloned()
        .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    if svc.desired > 0 && !force {
        return Err(AwsError::invalid_parameter(
            "The service cannot be stopped while it is scaled above 0.",
        ));
    }
    for t in st
        .tasks
        .iter_mut()
        .filter(|t| t.service.as_deref() == Some(svc.name.as_str()) && t.cluster == svc.cluster)
    {
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

/// A new PRIMARY deployment of `td` on `svc`: native when `native` names a strategy and the
/// configuration it runs with (a native deployment still in progress is then superseded),
/// rolling otherwise. Returns its id.
pub(crate) fn begin_deployment(
    svc: &mut Service,
    td: String,
    native: Option<(&str, &Value)>,
    now: f64,
) -> String {
    for d in svc.deployments.iter_mut() {
        d.status = "ACTIVE".into();
    }
    let mut d = Deployment::new(
        "PRIMARY",
        td.clone(),
        svc.desired,
        now,
        "ECS deployment in progress.".into(),
    );
    if let Some((strategy, config)) = native {
        // The deployment it replaces is blue: the last PRIMARY one (still rolling or not).
        let blue = svc.deployments.first();
        d.native = Some(strategies::start(strategy, config, blue, now));
        // A deployment still in progress is superseded.
        for old in svc.deployments.iter_mut() {
            if let Some(n) = old.native.as_mut().filter(|n| n.active()) {
                n.status = "STOPPED".into();
                n.reason = "Superseded by a newer service deployment.".into();
                n.finished_at = Some(now);
            }
        }
    }
    svc.task_definition = td;
    let id = d.id.clone();
    svc.deployments.insert(0, d.clone());
    svc.history.push(d);
    svc.steady_reported = false;
    id
}

impl Deployment {
    /// A new IN_PROGRESS deployment of `task_definition`.
    pub fn new(
        status: &str,
        task_definition: String,
        desired: i64,
        now: f64,
        reason: String,
    ) -> Self {
        Deployment {
            id: new_deployment_id(),
            status: status.into(),
            task_definition,
            desired,
            failed: 0,
            rollout_state: "IN_PROGRESS".into(),
            rollout_reason: reason,
            created_at: now,
            updated_at: now,
            settled_since: None,
            // Like AWS's, unrelated to the deployment id: found through ListServiceDeployments.
            sd_id: new_id()[..21].to_string(),
            native: None,
        }
    }
}

//! The CodeDeploy API subset stevedore and its tests use (awsJson1_1, `CodeDeploy_20141006`):
//! CreateApplication, GetApplication, CreateDeploymentGroup, GetDeploymentGroup,
//! CreateDeployment, GetDeployment, ListDeploymentTargets, BatchGetDeploymentTargets and
//! StopDeployment, with the error codes botocore's codedeploy model lists for each.

use super::codedeploy::*;
use super::model::*;
use super::services::begin_deployment;
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

/// One CodeDeploy call, after the ECS simulation has been advanced.
pub fn handle(st: &mut EcsState, ctx: &Ctx, op: &str, body: &Value) -> OpResult {
    record_rollbacks(st, ctx.now);
    match op {
        "CreateApplication" => create_application(st, ctx, body),
        "GetApplication" => {
            let name = app_name(body)?;
            let a = app(st, name)?;
            Ok(
                json!({"application": {"applicationId": a.id, "applicationName": name, "createTime": a.created_at, "linkedToGitHub": false, "computePlatform": a.platform}}),
            )
        }
        "CreateDeploymentGroup" => create_group(st, body),
        "GetDeploymentGroup" => {
            let g = group(st, body)?;
            let mut info = g.spec.clone();
            info["deploymentGroupId"] = json!(g.id);
            info["deploymentConfigName"] = json!(g.config_name());
            info["computePlatform"] = json!("ECS");
            if let Some(o) = info.as_object_mut() {
                o.remove("tags");
            }
            Ok(json!({"deploymentGroupInfo": info}))
        }
        "CreateDeployment" => create_deployment(st, ctx, body),
        "GetDeployment" => {
            let d = deployment(st, body)?.clone();
            Ok(json!({"deploymentInfo": deployment_info(st, &d)}))
        }
        "ListDeploymentTargets" => {
            let d = started(st, body)?;
            Ok(json!({"targetIds": [format!("{}:{}", d.service.0, d.service.1)]}))
        }
        "BatchGetDeploymentTargets" => {
            let d = started(st, body)?.clone();
            batch_get_targets(st, ctx, &d, body)
        }
        "StopDeployment" => stop_deployment(st, ctx, body),
        "ContinueDeployment" => continue_deployment(st, body),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement CodeDeploy.{other}"),
        )),
    }
}

fn app_name(body: &Value) -> Result<&str, AwsError> {
    opt_str(body, "applicationName").ok_or_else(|| {
        AwsError::client(
            "ApplicationNameRequiredException",
            "The minimum number of required application names was not specified.",
        )
    })
}

fn app<'a>(st: &'a EcsState, name: &str) -> Result<&'a Application, AwsError> {
    st.codedeploy.apps.get(name).ok_or_else(|| {
        AwsError::client(
            "ApplicationDoesNotExistException",
            format!("No application found for name: {name}"),
        )
    })
}

fn group<'a>(st: &'a EcsState, body: &Value) -> Result<&'a Group, AwsError> {
    let a = app_name(body)?;
    app(st, a)?;
    let g = opt_str(body, "deploymentGroupName").ok_or_else(|| {
        AwsError::client(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })?;
    st.codedeploy
        .groups
        .get(&(a.to_string(), g.to_string()))
        .ok_or_else(|| {
            AwsError::client(
                "DeploymentGroupDoesNotExistException",
                format!("No Deployment Group found for name: {g}"),
            )
        })
}

fn deployment<'a>(st: &'a EcsState, body: &Value) -> Result<&'a CdDeployment, AwsError> {
    let id = opt_str(body, "deploymentId").ok_or_else(|| {
        AwsError::client(
            "DeploymentIdRequiredException",
            "At least one deployment ID must be specified.",
        )
    })?;
    if !id.starts_with("d-") || id.len() != 11 {
        return Err(AwsError::client(
            "InvalidDeploymentIdException",
            format!("Specified DeploymentId is not in the valid format: {id}"),
        ));
    }
    st.codedeploy
        .deployments
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| {
            AwsError::client(
                "DeploymentDoesNotExistException",
                format!("Deployment {id} does not exist"),
            )
        })
}

/// A deployment whose targets can be listed (not still Created).
fn started<'a>(st: &'a EcsState, body: &Value) -> Result<&'a CdDeployment, AwsError> {
    let d = deployment(st, body)?;
    match native_of(st, d) {
        Some(n) if n.status != "PENDING" => Ok(d),
        _ => Err(AwsError::client(
            "DeploymentNotStartedException",
            format!("The deployment {} has not started.", d.id),
        )),
    }
}

fn create_application(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let name = app_name(body)?;
    if st.codedeploy.apps.contains_key(name) {
        return Err(AwsError::client(
            "ApplicationAlreadyExistsException",
            format!("{name} already exists in your account"),
        ));
    }
    let platform = opt_str(body, "computePlatform").unwrap_or("Server");
    if !["Server", "Lambda", "ECS"].contains(&platform) {
        return Err(AwsError::client(
            "InvalidComputePlatformException",
            format!("Invalid compute platform: {platform}"),
        ));
    }
    let id = new_uuid();
    st.codedeploy.apps.insert(
        name.to_string(),
        Application {
            id: id.clone(),
            platform: platform.into(),
            created_at: ctx.now,
        },
    );
    Ok(json!({"applicationId": id}))
}

fn create_group(st: &mut EcsState, body: &Value) -> OpResult {
    let a = app_name(body)?.to_string();
    let platform = app(st, &a)?.platform.clone();
    let name = opt_str(body, "deploymentGroupName").ok_or_else(|| {
        AwsError::client(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })?;
    let key = (a.clone(), name.to_string());
    if st.codedeploy.groups.contains_key(&key) {
        return Err(AwsError::client(
            "DeploymentGroupAlreadyExistsException",
            format!("A deployment group named {name} already exists for application {a}"),
        ));
    }
    let ready = &body["blueGreenDeploymentConfiguration"]["deploymentReadyOption"];
    if ready["actionOnTimeout"] == "CONTINUE_DEPLOYMENT"
        && ready["waitTimeInMinutes"].as_i64().is_some_and(|m| m > 0)
    {
        return Err(AwsError::client(
            "InvalidBlueGreenDeploymentConfigurationException",
            "Deployment ready action cannot be set to 'CONTINUE_DEPLOYMENT' when timeout is specified",
        ));
    }
    if opt_str(body, "serviceRoleArn").is_none() {
        return Err(AwsError::client(
            "RoleRequiredException",
            "The service role ARN was not specified.",
        ));
    }
    let g = Group {
        id: new_uuid(),
        spec: body.clone(),
    };
    if config_strategy(g.config_name()).is_none() {
        return Err(AwsError::client(
            "DeploymentConfigDoesNotExistException",
            format!(
                "No deployment configuration found for name: {}",
                g.config_name()
            ),
        ));
    }
    if platform == "ECS" {
        let style = &body["deploymentStyle"];
        if style["deploymentType"] != "BLUE_GREEN"
            || style["deploymentOption"] != "WITH_TRAFFIC_CONTROL"
        {
            return Err(AwsError::client("InvalidDeploymentStyleException", "For ECS deployment group, deploymentType must be BLUE_GREEN and deploymentOption must be WITH_TRAFFIC_CONTROL"));
        }
        let pairs = body
            .pointer("/loadBalancerInfo/targetGroupPairInfoList/0/targetGroups")
            .and_then(Value::as_array);
        if pairs.is_none_or(|p| p.len() != 2) {
            return Err(AwsError::client("InvalidTargetGroupPairException", "An ECS deployment group needs one target group pair of two target groups and a production traffic route."));
        }
        let Some(svc_key) = g.service() else {
            return Err(AwsError::client(
                "InvalidECSServiceException",
                "An ECS deployment group needs ecsServices with serviceName and clusterName.",
            ));
        };
        match st.services.get(&svc_key) {
            Some(s) if s.controller == "CODE_DEPLOY" => {}
            Some(_) => return Err(AwsError::client("InvalidECSServiceException", format!("Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller: {}", svc_key.1))),
            None => return Err(AwsError::client("InvalidECSServiceException", format!("The ECS service {} does not exist in cluster {}.", svc_key.1, svc_key.0))),
        }
    }
    let id = g.id.clone();
    st.codedeploy.groups.insert(key, g);
    Ok(json!({"deploymentGroupId": id}))
}

/// The AppSpec's ECS service resource: (task definition ARN, container name, container port).
fn appspec(body: &Value) -> Result<(Value, String, String, i64), AwsError> {
    let bad = |m: &str| AwsError::client("InvalidRevisionException", m.to_string());
    let rev = body.get("revision").ok_or_else(|| {
        AwsError::client(
            "RevisionRequiredException",
            "The revision ID was not specified.",
        )
    })?;
    if rev["revisionType"] != "AppSpecContent" {
        return Err(bad(
            "The sandbox deploys ECS revisions of revisionType AppSpecContent only.",
        ));
    }
    let content = rev
        .pointer("/appSpecContent/content")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("appSpecContent.content is required."))?;
    if let Some(sum) = rev
        .pointer("/appSpecContent/sha256")
        .and_then(Value::as_str)
    {
        let got = crate::sigv4::hex_sha256(content.as_bytes());
        if got != sum {
            return Err(bad("The AppSpec content does not match its sha256."));
        }
    }
    let spec: Value = serde_json::from_str(content).map_err(|_| {
        bad("The AppSpec content is not valid JSON (the sandbox reads JSON AppSpecs only).")
    })?;
    let target = spec
        .pointer("/Resources/0")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .filter(|t| t["Type"] == "AWS::ECS::Service")
        .ok_or_else(|| {
            bad("The AppSpec must have one Resources entry of Type AWS::ECS::Service.")
        })?;
    let props = &target["Properties"];
    let td = props["TaskDefinition"]
        .as_str()
        .ok_or_else(|| bad("The AppSpec's TaskDefinition is missing."))?;
    let lb = &props["LoadBalancerInfo"];
    let container = lb["ContainerName"]
        .as_str()
        .ok_or_else(|| bad("The AppSpec's LoadBalancerInfo.ContainerName is missing."))?;
    let port = lb["ContainerPort"].as_i64().ok_or_else(|| {
        bad("The AppSpec's LoadBalancerInfo.ContainerPort is missing or not a number.")
    })?;
    Ok((spec.clone(), td.to_string(), container.to_string(), port))
}

/// The native configuration a CodeDeploy deployment runs with: the deployment configuration's
/// traffic shifting, the termination wait, the AppSpec's hooks, the group's alarms.
fn native_config(
    ctx: &Ctx,
    g: &Group,
    config_name: &str,
    spec: &Value,
    body: &Value,
) -> (&'static str, Value) {
    let (strategy, mut config) = config_strategy(config_name).expect("checked");
    config["strategy"] = json!(strategy);
    config["bakeTimeInMinutes"] = g
        .spec
        .pointer("/blueGreenDeploymentConfiguration/terminateBlueInstancesOnDeploymentSuccess/terminationWaitTimeInMinutes")
        .cloned()
        .unwrap_or(json!(0));
    let hooks: Vec<Value> = spec["Hooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|m| m.iter())
        .filter_map(|(event, f)| {
            let stage = HOOKS.iter().find(|(e, _)| e == event)?.1;
            let f = f.as_str()?;
            let arn = if f.starts_with("arn:") { f.to_string() } else { format!("arn:aws:lambda:{}:{}:function:{f}", ctx.region, ctx.account) };
            Some(json!({"hookTargetArn": arn, "targetType": "AWS_LAMBDA", "lifecycleStages": [stage], "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}))
        })
        .collect();
    let mut hooks = hooks;
    // STOP_DEPLOYMENT: the replacement waits, test traffic on it, until ContinueDeployment or
    // the end of the wait (then the deployment stops).
    let ready = &g.spec["blueGreenDeploymentConfiguration"]["deploymentReadyOption"];
    if ready["actionOnTimeout"] == "STOP_DEPLOYMENT" {
        let minutes = ready["waitTimeInMinutes"].as_f64().unwrap_or(0.0);
        hooks.push(json!({"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"], "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": "ROLLBACK"}}));
    }
    config["lifecycleHooks"] = json!(hooks);
    let alarms = body
        .get("overrideAlarmConfiguration")
        .unwrap_or(&g.spec["alarmConfiguration"]);
    let names: Vec<Value> = alarms["alarms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a["name"].clone())
        .collect();
    config["alarms"] = json!({"enable": alarms["enabled"].as_bool().unwrap_or(false), "rollback": true, "alarmNames": names});
    config["deploymentCircuitBreaker"] = json!({"enable": true, "rollback": true});
    (strategy, config)
}

fn create_deployment(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let g = group(st, body)?.clone();
    let app = app_name(body)?.to_string();
    let group_name = opt_str(body, "deploymentGroupName")
        .unwrap_or_default()
        .to_string();
    let config_name = opt_str(body, "deploymentConfigName")
        .unwrap_or(g.config_name())
        .to_string();
    if config_strategy(&config_name).is_none() {
        return Err(AwsError::client(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {config_name}"),
        ));
    }
    let (spec, td_ref, container, port) = appspec(body)?;
    let bad = |m: String| AwsError::client("InvalidRevisionException", m);
    let td = find_task_definition(st, &td_ref).cloned().ok_or_else(|| {
        bad(format!(
            "The AppSpec's TaskDefinition {td_ref} does not exist."
        ))
    })?;
    let serves = td.json["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == container.as_str())
        .flat_map(|c| c["portMappings"].as_array().cloned().unwrap_or_default())
        .any(|p| p["containerPort"].as_i64() == Some(port));
    if !serves {
        return Err(bad(format!("The AppSpec's LoadBalancerInfo names container {container} port {port}, which the task definition does not define.")));
    }
    let svc_key = g.service().ok_or_else(|| {
        AwsError::client(
            "InvalidECSServiceException",
            "The deployment group has no ECS service.",
        )
    })?;
    if let Some(active) = st.codedeploy.deployments.iter().find(|d| {
        d.app == app
            && d.group == group_name
            && native_of(st, d).is_some_and(|n| n.active() && n.rollback.is_none())
    }) {
        return Err(AwsError::client(
            "DeploymentLimitExceededException",
            format!(
                "The Deployment Group '{group_name}' already has an active Deployment '{}'",
                active.id
            ),
        ));
    }
    let (strategy, config) = native_config(ctx, &g, &config_name, &spec, body);
    let auto_rollback = body
        .pointer("/autoRollbackConfiguration/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(g.auto_rollback());
    let svc = st.services.get_mut(&svc_key).ok_or_else(|| {
        AwsError::client(
            "InvalidECSServiceException",
            format!("The ECS service {} does not exist.", svc_key.1),
        )
    })?;
    let ecs_deployment = begin_deployment(svc, td_arn(&td), Some((strategy, &config)), ctx.now);
    let id = new_codedeploy_id();
    st.codedeploy.deployments.push(CdDeployment {
        id: id.clone(),
        app,
        group: group_name,
        config_name,
        revision: body["revision"].clone(),
        description: opt_str(body, "description").map(String::from),
        created_at: ctx.now,
        service: svc_key,
        ecs_deployment,
        creator: "user".into(),
        stopped: false,
        rollback_id: None,
        rolls_back: None,
        auto_rollback,
    });
    Ok(json!({"deploymentId": id}))
}

/// A failed deployment with auto-rollback gets its rollback deployment (once).
fn record_rollbacks(st: &mut EcsState, now: f64) {
    let due: Vec<CdDeployment> = st
        .codedeploy
        .deployments
        .iter()
        .filter(|d| d.creator == "user" && d.auto_rollback && d.rollback_id.is_none())
        .filter(|d| native_of(st, d).is_some_and(|n| n.rollback.is_some()))
        .cloned()
        .collect();
    for d in due {
        let id = new_codedeploy_id();
        let mut r = d.clone();
        r.id = id.clone();
        r.creator = "codeDeployRollback".into();
        r.created_at = now;
        r.rolls_back = Some(d.id.clone());
        r.description = None;
        if let Some(x) = st.codedeploy.deployments.iter_mut().find(|x| x.id == d.id) {
            x.rollback_id = Some(id);
        }
        st.codedeploy.deployments.push(r);
    }
}

fn stop_deployment(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let d = deployment(st, body)?.clone();
    let rollback = body.get("autoRollbackEnabled").and_then(Value::as_bool);
    let now = ctx.now;
    let Some(svc) = st.services.get_mut(&d.service) else {
        return Err(AwsError::client(
            "DeploymentGroupDoesNotExistException",
            "The deployment group's ECS service no longer exists.",
        ));
    };
    let Some(n) = svc
        .deployments
        .iter_mut()
        .find(|x| x.id == d.ecs_deployment)
        .and_then(|x| x.native.as_mut())
    else {
        return Err(AwsError::client(
            "DeploymentAlreadyCompletedException",
            format!("Deployment {} has already completed.", d.id),
        ));
    };
    if !n.active() || n.rollback.is_some() {
        return Err(AwsError::client(
            "DeploymentAlreadyCompletedException",
            format!("Deployment {} has already completed.", d.id),
        ));
    }
    n.fail(
        "The deployment was stopped by a StopDeployment request.".into(),
        now,
    );
    if let Some(x) = st.codedeploy.deployments.iter_mut().find(|x| x.id == d.id) {
        x.stopped = true;
        if let Some(r) = rollback {
            x.auto_rollback = r;
        }
    }
    Ok(
        json!({"status": "Pending", "statusMessage": "Stopping Pending. Stopping to schedule commands in the deployment instances"}),
    )
}

/// CodeDeploy.ContinueDeployment: READY_WAIT starts rerouting production traffic of a Ready
/// deployment; TERMINATION_WAIT ends the wait before the original task set is terminated.
fn continue_deployment(st: &mut EcsState, body: &Value) -> OpResult {
    let d = deployment(st, body)?.clone();
    let wait = opt_str(body, "deploymentWaitType").unwrap_or("READY_WAIT");
    if wait != "READY_WAIT" && wait != "TERMINATION_WAIT" {
        return Err(AwsError::client(
            "InvalidDeploymentWaitTypeException",
            format!("Invalid deployment wait type: {wait}"),
        ));
    }
    let Some(n) = st
        .services
        .get_mut(&d.service)
        .and_then(|svc| {
            svc.deployments
                .iter_mut()
                .find(|x| x.id == d.ecs_deployment)
        })
        .and_then(|x| x.native.as_mut())
        .filter(|n| n.active() && n.rollback.is_none())
    else {
        return Err(AwsError::client(
            "DeploymentAlreadyCompletedException",
            format!("Deployment {} has already completed.", d.id),
        ));
    };
    if wait == "READY_WAIT" {
        let Some(h) = n
            .hooks
            .iter_mut()
            .find(|h| h.target_type == "PAUSE" && h.status == "AWAITING_ACTION")
        else {
            return Err(AwsError::client(
                "DeploymentIsNotInReadyStateException",
                format!("Deployment {} is not in a Ready state.", d.id),
            ));
        };
        h.status = "SUCCEEDED".into();
    } else {
        if n.stage_name() != "BAKE_TIME" {
            return Err(AwsError::client(
                "InvalidDeploymentStatusException",
                format!(
                    "Deployment {} is not waiting to terminate the original task set.",
                    d.id
                ),
            ));
        }
        n.config["bakeTimeInMinutes"] = json!(0);
    }
    Ok(json!({}))
}

//! CodeDeploy's blue/green deployments of ECS services (the CODE_DEPLOY deployment controller):
//! applications, deployment groups and deployments, run over the same blue/green machine as
//! ECS's own strategies (see [`super::strategies`]), whose stages CodeDeploy names as lifecycle
//! events: BeforeInstall, Install (the replacement task set scales up), AfterInstall,
//! AllowTestTraffic, AfterAllowTestTraffic, BeforeAllowTraffic, AllowTraffic (production
//! traffic moves, all at once, linearly or after a canary as the deployment configuration
//! says) and AfterAllowTraffic; then the wait before the original task set is terminated
//! (terminationWaitTimeInMinutes), during which the target reads Succeeded and the deployment
//! InProgress (containers-roadmap#269 describes this on AWS).
//!
//! Simplifications: AppSpecs are read as JSON only (AWS also reads YAML); a failure always
//! returns traffic to the original task set, and a rollback deployment is recorded when the
//! group's auto-rollback (or StopDeployment's autoRollbackEnabled) asks for one; a replacement
//! task set whose tasks keep failing fails Install as ECS_UPDATE_ERROR (the circuit breaker's
//! threshold), where AWS would time out.

use super::model::*;
use super::strategies::Native;
use crate::awsjson::{AwsError, OpResult};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The lifecycle events of an ECS deployment target, in order, with the stage (index into
/// [`super::strategies::STAGES`]) each runs in.
pub const EVENTS: [(&str, usize); 8] = [
    ("BeforeInstall", 1),
    ("Install", 2),
    ("AfterInstall", 3),
    ("AllowTestTraffic", 4),
    ("AfterAllowTestTraffic", 5),
    ("BeforeAllowTraffic", 6),
    ("AllowTraffic", 6),
    ("AfterAllowTraffic", 7),
];

/// The AppSpec hooks and the native hook stage each becomes.
pub const HOOKS: [(&str, &str); 5] = [
    ("BeforeInstall", "PRE_SCALE_UP"),
    ("AfterInstall", "POST_SCALE_UP"),
    ("AfterAllowTestTraffic", "POST_TEST_TRAFFIC_SHIFT"),
    ("BeforeAllowTraffic", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
    ("AfterAllowTraffic", "POST_PRODUCTION_TRAFFIC_SHIFT"),
];

/// The predefined ECS deployment configurations: the native strategy and its settings.
pub fn config_strategy(name: &str) -> Option<(&'static str, Value)> {
    Some(match name {
        "CodeDeployDefault.ECSAllAtOnce" => ("BLUE_GREEN", json!({})),
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes" => (
            "LINEAR",
            json!({"linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 1}}),
        ),
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes" => (
            "LINEAR",
            json!({"linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 3}}),
        ),
        "CodeDeployDefault.ECSCanary10Percent5Minutes" => (
            "CANARY",
            json!({"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}}),
        ),
        "CodeDeployDefault.ECSCanary10Percent15Minutes" => (
            "CANARY",
            json!({"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 15}}),
        ),
        _ => return None,
    })
}

#[derive(Debug, Clone)]
pub struct Application {
    pub id: String,
    pub platform: String,
    pub created_at: f64,
}

/// A deployment group as CreateDeploymentGroup gave it (the request, kept as sent).
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub spec: Value,
}

impl Group {
    pub fn config_name(&self) -> &str {
        self.spec["deploymentConfigName"]
            .as_str()
            .unwrap_or("CodeDeployDefault.ECSAllAtOnce")
    }

    /// The ECS service it deploys: (cluster, service).
    pub fn service(&self) -> Option<(String, String)> {
        let s = self.spec["ecsServices"].get(0)?;
        Some((
            s["clusterName"].as_str()?.to_string(),
            s["serviceName"].as_str()?.to_string(),
        ))
    }

    pub fn auto_rollback(&self) -> bool {
        self.spec
            .pointer("/autoRollbackConfiguration/enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// One CodeDeploy deployment.
#[derive(Debug, Clone)]
pub struct CdDeployment {
    pub id: String,
    pub app: String,
    pub group: String,
    pub config_name: String,
    pub revision: Value,
    pub description: Option<String>,
    pub created_at: f64,
    /// The ECS service and the ECS deployment (the replacement task set) it runs as.
    pub service: (String, String),
    pub ecs_deployment: String,
    /// `user`, or `codeDeployRollback` for the deployment that rolls another back.
    pub creator: String,
    /// Set by StopDeployment.
    pub stopped: bool,
    /// The rollback deployment's id (on the failed one) or the failed one's (on the rollback).
    pub rollback_id: Option<String>,
    pub rolls_back: Option<String>,
    /// Whether a failure records a rollback deployment (the group's setting, CreateDeployment's
    /// or StopDeployment's).
    pub auto_rollback: bool,
}

/// CodeDeploy's state in one region.
#[derive(Debug, Default)]
pub struct CodeDeploy {
    pub apps: BTreeMap<String, Application>,
    pub groups: BTreeMap<(String, String), Group>,
    pub deployments: Vec<CdDeployment>,
}

/// A CodeDeploy deployment id: `d-` and nine letters or digits.
pub fn new_codedeploy_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let tail: String = (0..9)
        .map(|_| ALPHABET[rand::random::<u8>() as usize % ALPHABET.len()] as char)
        .collect();
    format!("d-{tail}")
}

/// The ECS deployment (task set) a CodeDeploy deployment runs as, as it is now.
pub fn ecs_deployment<'a>(
    st: &'a EcsState,
    d: &CdDeployment,
) -> Option<(&'a Service, &'a Deployment)> {
    let svc = st.services.get(&d.service)?;
    let live = svc.deployments.iter().find(|x| x.id == d.ecs_deployment);
    let dep = live.or_else(|| svc.history.iter().find(|x| x.id == d.ecs_deployment))?;
    Some((svc, dep))
}

/// The blue/green progress of the replacement a CodeDeploy deployment runs as.
pub fn native_of<'a>(st: &'a EcsState, d: &CdDeployment) -> Option<&'a Native> {
    ecs_deployment(st, d).and_then(|(_, e)| e.native.as_ref())
}

/// `DeploymentStatus` of a deployment whose replacement runs as `n`.
pub fn status(d: &CdDeployment, n: &Native) -> &'static str {
    let failed = matches!(
        n.status.as_str(),
        "ROLLBACK_REQUESTED"
            | "ROLLBACK_IN_PROGRESS"
            | "ROLLBACK_SUCCESSFUL"
            | "ROLLBACK_FAILED"
            | "STOPPED"
            | "STOP_REQUESTED"
    );
    if d.creator == "codeDeployRollback" {
        return match n.status.as_str() {
            "ROLLBACK_SUCCESSFUL" | "STOPPED" => "Succeeded",
            "ROLLBACK_FAILED" => "Failed",
            _ => "InProgress",
        };
    }
    match n.status.as_str() {
        _ if failed && (d.stopped || ready_timed_out(n)) => "Stopped",
        _ if failed => "Failed",
        "PENDING" => "Created",
        "SUCCESSFUL" => "Succeeded",
        _ if ready_waiting(n) => "Ready",
        _ => "InProgress",
    }
}

/// The group's deploymentReadyOption STOP_DEPLOYMENT is a pause after the test traffic shift:
/// the deployment is Ready while it waits for ContinueDeployment.
pub fn ready_waiting(n: &Native) -> bool {
    n.hooks
        .iter()
        .any(|h| h.target_type == "PAUSE" && h.status == "AWAITING_ACTION")
}

/// The ready wait ended without ContinueDeployment: the deployment is Stopped.
pub fn ready_timed_out(n: &Native) -> bool {
    n.hooks
        .iter()
        .any(|h| h.target_type == "PAUSE" && h.status == "TIMED_OUT")
}

/// `ErrorCode` and message of a failed or stopped deployment, from why its replacement failed.
pub fn error_information(d: &CdDeployment, n: &Native) -> Option<Value> {
    let (code, message) = if d.stopped {
        (
            "MANUAL_STOP",
            "The deployment was stopped by a StopDeployment request.".to_string(),
        )
    } else if ready_timed_out(n) {
        ("TIMEOUT", "The deployment was stopped: traffic rerouting was not started (ContinueDeployment) before the ready wait ended.".to_string())
    } else if n.breaker_triggered {
        ("ECS_UPDATE_ERROR", "The ECS service's replacement task set could not reach its desired count: its tasks failed to start.".to_string())
    } else if !n.triggered_alarms.is_empty() {
        ("ALARM_ACTIVE", format!("One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <{}>", n.triggered_alarms.join(", ")))
    } else if n.reason.contains("timed out") {
        (
            "TIMEOUT",
            format!(
                "The deployment timed out in {}: a lifecycle hook did not answer in time.",
                failed_event(n).unwrap_or("the termination wait")
            ),
        )
    } else {
        ("HOOK_EXECUTION_FAILURE", format!("The deployment failed because one or more of the lifecycle event validations failed: {}.", failed_event(n).unwrap_or("the termination wait")))
    };
    Some(json!({"code": code, "message": message}))
}

/// The lifecycle event a deployment failed in; none when it failed in the termination wait.
pub fn failed_event(n: &Native) -> Option<&'static str> {
    match n.stage {
        6 if n.shift_began.is_none() => Some("BeforeAllowTraffic"),
        s => EVENTS
            .iter()
            .rev()
            .find(|(_, st)| *st == s)
            .map(|(e, _)| *e),
    }
}

/// The lifecycle events of the deployment's one ECS target, as BatchGetDeploymentTargets
/// shows them: start and end times read off the stages the replacement went through.
pub fn lifecycle_events(n: &Native, now: f64) -> Vec<Value> {
    let entered = |stage: usize| {
        n.stage_log
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, t)| *t)
    };
    let failed = n.rollback.is_some() || n.status == "STOPPED";
    let failed_at = if failed { failed_event(n) } else { None };
    let mut past_failure = false;
    EVENTS
        .iter()
        .map(|(name, stage)| {
            // Production traffic's stage holds two events: its hooks, then the shift.
            let (start, end) = match *name {
                "BeforeAllowTraffic" => (entered(*stage), n.shift_began),
                "AllowTraffic" => (n.shift_began, entered(stage + 1)),
                _ => (entered(*stage), entered(stage + 1)),
            };
            let status = if past_failure {
                "Skipped"
            } else if failed_at == Some(*name) {
                past_failure = true;
                "Failed"
            } else if end.is_some() || (n.status == "SUCCESSFUL") {
                "Succeeded"
            } else if start.is_some() {
                "InProgress"
            } else {
                "Pending"
            };
            let mut v = json!({"lifecycleEventName": name, "status": status});
            if let Some(s) = start {
                v["startTime"] = json!(s);
            }
            match (end, status) {
                (Some(e), _) => v["endTime"] = json!(e),
                (None, "Failed") => v["endTime"] = json!(n.rollback.as_ref().map_or(now, |r| r.1)),
                _ => {}
            }
            if status == "Failed" {
                v["diagnostics"] = json!({"errorCode": "ScriptFailed", "scriptName": "", "message": n.reason, "logTail": ""});
            }
            v
        })
        .collect()
}

/// `TargetStatus`: Succeeded once AfterAllowTraffic has (the termination wait follows).
pub fn target_status(n: &Native) -> &'static str {
    if n.rollback.is_some() || n.status == "STOPPED" {
        "Failed"
    } else if n.stage >= 8 || n.status == "SUCCESSFUL" {
        "Succeeded"
    } else if n.status == "PENDING" {
        "Pending"
    } else {
        "InProgress"
    }
}

/// GetDeployment's `deploymentInfo`.
pub(super) fn deployment_info(st: &EcsState, d: &CdDeployment) -> Value {
    let n = native_of(st, d).cloned();
    let g = st.codedeploy.groups.get(&(d.app.clone(), d.group.clone()));
    let mut v = json!({
        "applicationName": d.app, "deploymentGroupName": d.group, "deploymentConfigName": d.config_name,
        "deploymentId": d.id, "revision": d.revision, "createTime": d.created_at, "creator": d.creator,
        "computePlatform": "ECS", "ignoreApplicationStopFailures": false, "updateOutdatedInstancesOnly": false,
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "autoRollbackConfiguration": {"enabled": d.auto_rollback, "events": ["DEPLOYMENT_FAILURE"]},
    });
    if let Some(desc) = &d.description {
        v["description"] = json!(desc);
    }
    if let Some(g) = g {
        for k in ["blueGreenDeploymentConfiguration", "loadBalancerInfo"] {
            if let Some(x) = g.spec.get(k) {
                v[k] = x.clone();
            }
        }
    }
    let Some(n) = n else {
        v["status"] = json!("Failed");
        return v;
    };
    let status = status(d, &n);
    v["status"] = json!(status);
    if n.status != "PENDING" {
        v["startTime"] = json!(n.started_at);
    }
    v["instanceTerminationWaitTimeStarted"] = json!(n.stage >= 8 && d.creator == "user");
    let done = |s: &str| matches!(s, "Succeeded" | "Failed" | "Stopped");
    if done(status) {
        let end = if d.creator == "user" && status != "Succeeded" {
            n.rollback.as_ref().map(|r| r.1).or(n.finished_at)
        } else {
            n.finished_at
        };
        if let Some(t) = end {
            v["completeTime"] = json!(t);
        }
    }
    if d.creator == "user" && (status == "Failed" || status == "Stopped") {
        v["errorInformation"] = error_information(d, &n).unwrap_or(Value::Null);
    }
    let target = target_status(&n);
    let count = |s: &str| i64::from(target == s);
    v["deploymentOverview"] = json!({"Pending": count("Pending"), "InProgress": count("InProgress"), "Succeeded": count("Succeeded"), "Failed": count("Failed"), "Skipped": 0, "Ready": 0});
    match (&d.rollback_id, &d.rolls_back) {
        (Some(r), _) => {
            v["rollbackInfo"] = json!({"rollbackDeploymentId": r, "rollbackMessage": format!("Deployment {} failed; rolled back by deployment {r}.", d.id)})
        }
        (_, Some(of)) => {
            v["rollbackInfo"] = json!({"rollbackTriggeringDeploymentId": of, "rollbackMessage": format!("Rollback of deployment {of}.")})
        }
        _ => {}
    }
    v
}

/// BatchGetDeploymentTargets: the deployment's one ECS target.
pub(super) fn batch_get_targets(
    st: &EcsState,
    ctx: &Ctx,
    d: &CdDeployment,
    body: &Value,
) -> OpResult {
    let ids: Vec<&str> = body["targetIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if ids.is_empty() {
        return Err(AwsError::client(
            "DeploymentTargetIdRequiredException",
            "A deployment target ID was not provided.",
        ));
    }
    let own = format!("{}:{}", d.service.0, d.service.1);
    if let Some(other) = ids.iter().find(|i| **i != own) {
        return Err(AwsError::client(
            "DeploymentTargetDoesNotExistException",
            format!("The deployment target {other} does not exist."),
        ));
    }
    let (svc, green) = ecs_deployment(st, d).expect("started");
    let n = green.native.clone().expect("native");
    let count = |dep: &str, status: &str| {
        st.tasks
            .iter()
            .filter(|t| {
                t.deployment.as_deref() == Some(dep)
                    && t.desired_status == "RUNNING"
                    && t.last_status == status
            })
            .count()
    };
    let groups = st
        .codedeploy
        .groups
        .get(&(d.app.clone(), d.group.clone()))
        .map(|g| g.spec.clone())
        .unwrap_or_default();
    let tg = |i: usize| {
        groups
            .pointer(&format!(
                "/loadBalancerInfo/targetGroupPairInfoList/0/targetGroups/{i}/name"
            ))
            .cloned()
            .unwrap_or(json!(""))
    };
    let set = |id: &str, label: &str, weight: f64, i: usize, primary: bool| {
        json!({
            "identifer": id, "desiredCount": if label == "Green" && n.rollback.is_some() { 0 } else { svc.desired },
            "pendingCount": count(id, "PENDING") + count(id, "PROVISIONING"), "runningCount": count(id, "RUNNING"),
            "status": if primary { "PRIMARY" } else { "ACTIVE" }, "trafficWeight": weight, "targetGroup": {"name": tg(i)}, "taskSetLabel": label,
        })
    };
    let mut sets = vec![];
    if let Some((blue, _)) = &n.source {
        sets.push(set(
            blue,
            "Blue",
            100.0 - n.production,
            0,
            n.production < 100.0,
        ));
    }
    sets.push(set(
        &green.id,
        "Green",
        n.production,
        1,
        n.production >= 100.0,
    ));
    let events = lifecycle_events(&n, ctx.now);
    let updated = n.stage_log.last().map_or(d.created_at, |(_, t)| *t);
    Ok(
        json!({"deploymentTargets": [{"deploymentTargetType": "ECSTarget", "ecsTarget": {
            "deploymentId": d.id, "targetId": own, "targetArn": svc.arn, "lastUpdatedAt": updated,
            "lifecycleEvents": events, "status": target_status(&n), "taskSetsInfo": sets,
        }}]}),
    )
}

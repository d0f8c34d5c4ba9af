//! Following ECS's own blue/green, linear and canary deployments: the service deployment as
//! DescribeServiceDeployments describes it, what changed since the last poll (stages begun and
//! ended, traffic shifted, hooks), and what it means for the deploy. Pure; the polling lives in
//! `deploy::native`.

use serde::Deserialize;
use std::collections::HashMap;

/// The lifecycle stages in the order ECS walks them (`ServiceDeploymentLifecycleStage`).
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// The strategies whose deployments are followed by stage (`DeploymentStrategy` but ROLLING).
pub const NATIVE: [&str; 3] = ["BLUE_GREEN", "LINEAR", "CANARY"];

/// A service deployment, as much of it as stevedore reads (names as in the ECS model).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceDeployment {
    pub service_deployment_arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
    pub status: String,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub status_reason: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub lifecycle_hook_details: Vec<HookDetail>,
    pub target_service_revision: Option<Revision>,
    pub source_service_revisions: Vec<Revision>,
    pub deployment_circuit_breaker: Option<Monitor>,
    pub alarms: Option<Monitor>,
    pub rollback: Option<RollbackInfo>,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// When ECS last changed the deployment (seconds since the epoch): a stage seen new began
    /// at or before it, so stage durations are read from it rather than from our polls.
    pub updated_at: Option<f64>,
}

/// `DeploymentLifecycleHookDetail`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HookDetail {
    pub hook_id: String,
    /// AWS_LAMBDA or PAUSE.
    pub target_type: String,
    pub target_arn: Option<String>,
    /// AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    pub expires_at: Option<f64>,
    pub timeout_action: Option<String>,
}

impl HookDetail {
    /// How the hook is named in output: its function's name, or "pause hook".
    pub fn name(&self) -> String {
        match &self.target_arn {
            Some(a) => format!("hook {}", a.rsplit(':').next().unwrap_or(a)),
            None if self.target_type == "PAUSE" => "pause hook".into(),
            None => format!("{} hook", self.target_type),
        }
    }
}

/// `ServiceRevisionSummary`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Revision {
    pub arn: String,
    pub requested_task_count: i64,
    pub running_task_count: i64,
    pub pending_task_count: i64,
    pub requested_production_traffic_weight: Option<f64>,
    pub requested_test_traffic_weight: Option<f64>,
}

/// `ServiceDeploymentCircuitBreaker` and `ServiceDeploymentAlarms` share their status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Monitor {
    /// TRIGGERED, MONITORING, MONITORING_COMPLETE or DISABLED.
    pub status: String,
    pub failure_count: i64,
    pub threshold: i64,
    pub triggered_alarm_names: Vec<String>,
}

/// `Rollback`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollbackInfo {
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub reason: Option<String>,
}

impl ServiceDeployment {
    /// The pause hook waiting for ContinueServiceDeployment, if one is.
    pub fn awaiting(&self) -> Option<&HookDetail> {
        self.lifecycle_hook_details
            .iter()
            .find(|h| h.target_type == "PAUSE" && h.status == "AWAITING_ACTION")
    }

    fn production(&self) -> Option<f64> {
        self.target_service_revision
            .as_ref()?
            .requested_production_traffic_weight
    }
}

/// Where the deployment stands for a deploy that waits until `traffic_shifted` or the end.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    InProgress,
    /// SUCCESSFUL, or (when asked for) production traffic fully on the new revision.
    Deployed,
    /// ECS is rolling it back, or has: why.
    RolledBack(String),
    /// Stopped without a rollback, or the rollback failed: why.
    Failed(String),
}

/// Judge a service deployment. The verdict comes at ECS's decision (ROLLBACK_REQUESTED), not
/// when the rollback has finished: the deploy has failed either way.
pub fn assess(sd: &ServiceDeployment, traffic_shifted: bool) -> Verdict {
    match sd.status.as_str() {
        "SUCCESSFUL" => Verdict::Deployed,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" | "ROLLBACK_SUCCESSFUL" => {
            Verdict::RolledBack(why(sd))
        }
        "ROLLBACK_FAILED" => Verdict::Failed(format!("{}; the rollback failed", why(sd))),
        "STOPPED" | "STOP_REQUESTED" => Verdict::Failed(why(sd)),
        _ if traffic_shifted && shifted(sd) => Verdict::Deployed,
        _ => Verdict::InProgress,
    }
}

/// Production traffic is all on the new revision and nothing can move it back but the bake's
/// alarms: the deployment is in BAKE_TIME or CLEAN_UP.
pub fn shifted(sd: &ServiceDeployment) -> bool {
    matches!(
        sd.lifecycle_stage.as_deref(),
        Some("BAKE_TIME" | "CLEAN_UP")
    )
}

/// Why a deployment failed, naming what decided it: the hook, the alarms, the circuit breaker.
pub fn why(sd: &ServiceDeployment) -> String {
    let reason = sd
        .rollback
        .as_ref()
        .and_then(|r| r.reason.clone())
        .or_else(|| sd.status_reason.clone())
        .unwrap_or_else(|| sd.status.clone());
    let mut named = vec![];
    if let Some(h) = sd
        .lifecycle_hook_details
        .iter()
        .find(|h| h.status == "FAILED" || h.status == "TIMED_OUT")
    {
        named.push(format!("{} {}", h.name(), h.status));
    }
    if let Some(a) = sd.alarms.as_ref().filter(|a| a.status == "TRIGGERED") {
        named.push(format!(
            "alarm {} in ALARM",
            a.triggered_alarm_names.join(", ")
        ));
    }
    if let Some(b) = sd
        .deployment_circuit_breaker
        .as_ref()
        .filter(|b| b.status == "TRIGGERED")
    {
        named.push(format!(
            "circuit breaker: {} of {} tasks failed",
            b.failure_count, b.threshold
        ));
    }
    named.retain(|n| !reason.contains(n.as_str()));
    if named.is_empty() {
        reason
    } else {
        format!("{reason} ({})", named.join("; "))
    }
}

/// What has been printed of one service deployment, so each change is said once.
#[derive(Debug, Default)]
pub struct StageWatch {
    /// The stage seen last, when it was first seen (seconds on the caller's clock) and the
    /// deployment's `updatedAt` then (ECS's clock).
    stage: Option<(usize, f64, Option<f64>)>,
    hooks: HashMap<String, String>,
    production: Option<f64>,
    test: Option<f64>,
    status: String,
    counts: Option<(i64, i64, i64)>,
    /// Stages begun, with when (for the report's bands).
    pub began: Vec<(String, f64)>,
}

impl StageWatch {
    /// The lines that describe what changed in `sd`, seen at `now`.
    pub fn observe(&mut self, sd: &ServiceDeployment, now: f64) -> Vec<String> {
        let mut out = vec![];
        if sd.status != self.status {
            if !self.status.is_empty() || sd.status != "IN_PROGRESS" {
                out.push(format!(
                    "service deployment {}{}",
                    sd.status,
                    sd.status_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ));
            }
            self.status = sd.status.clone();
        }
        if let Some(i) = sd
            .lifecycle_stage
            .as_deref()
            .and_then(|s| STAGES.iter().position(|x| *x == s))
        {
            match self.stage {
                Some((j, _, _)) if j == i => {}
                Some((j, since, api_since)) => {
                    // ECS's timestamps when it gave both, else the time between our polls.
                    let took = match (api_since, sd.updated_at) {
                        (Some(a), Some(b)) if b >= a => b - a,
                        _ => now - since,
                    };
                    out.push(format!(
                        "stage {} ended after {}",
                        STAGES[j],
                        crate::units::seconds(took)
                    ));
                    // A rollback goes back to no stage of its own; only forward moves skip.
                    for skipped in STAGES.iter().take(i).skip(j + 1) {
                        out.push(format!("stage {skipped} began and ended between two polls"));
                        self.began.push((skipped.to_string(), now));
                    }
                    self.begin(&mut out, i, now, sd.updated_at);
                }
                None => self.begin(&mut out, i, now, sd.updated_at),
            }
        }
        let (p, t) = (
            sd.production(),
            sd.target_service_revision
                .as_ref()
                .and_then(|r| r.requested_test_traffic_weight),
        );
        if p.is_some() && p != self.production {
            out.push(format!(
                "production traffic: {}% on the new revision",
                pct(p.unwrap_or(0.0))
            ));
            self.production = p;
        }
        if t.is_some() && t != self.test && t != Some(0.0) {
            out.push(format!(
                "test traffic: {}% on the new revision",
                pct(t.unwrap_or(0.0))
            ));
        }
        self.test = t;
        for h in &sd.lifecycle_hook_details {
            if self.hooks.get(&h.hook_id) == Some(&h.status) {
                continue;
            }
            self.hooks.insert(h.hook_id.clone(), h.status.clone());
            let stage = sd.lifecycle_stage.as_deref().unwrap_or("?");
            out.push(format!("{} at {stage}: {}", h.name(), h.status));
        }
        if let Some(r) = &sd.target_service_revision {
            let c = (
                r.running_task_count,
                r.requested_task_count,
                r.pending_task_count,
            );
            if self.counts != Some(c) {
                self.counts = Some(c);
                out.push(format!(
                    "new revision: running {}/{}, pending {}",
                    c.0, c.1, c.2
                ));
            }
        }
        out
    }

    fn begin(&mut self, out: &mut Vec<String>, i: usize, now: f64, updated_at: Option<f64>) {
        out.push(format!("stage {} began", STAGES[i]));
        self.began.push((STAGES[i].to_string(), now));
        self.stage = Some((i, now, updated_at));
    }

    /// The stage being followed now.
    pub fn stage(&self) -> Option<&'static str> {
        self.stage.map(|(i, _, _)| STAGES[i])
    }
}

/// A percentage without a needless `.0`.
fn pct(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sd(v: serde_json::Value) -> ServiceDeployment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn stages_are_said_as_they_begin_and_end_and_skipped_ones_are_named() {
        let mut w = StageWatch::default();
        let a = sd(json!({"status": "IN_PROGRESS", "lifecycleStage": "PRE_SCALE_UP"}));
        assert_eq!(w.observe(&a, 0.0), vec!["stage PRE_SCALE_UP began"]);
        assert!(w.observe(&a, 1.0).is_empty());
        let b = sd(
            json!({"status": "IN_PROGRESS", "lifecycleStage": "POST_SCALE_UP",
            "targetServiceRevision": {"arn": "r", "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}}),
        );
        assert_eq!(
            w.observe(&b, 5.0),
            vec![
                "stage PRE_SCALE_UP ended after 5.0 s",
                "stage SCALE_UP began and ended between two polls",
                "stage POST_SCALE_UP began",
                "new revision: running 2/2, pending 0",
            ]
        );
        assert_eq!(w.stage(), Some("POST_SCALE_UP"));
        let c = sd(
            json!({"status": "IN_PROGRESS", "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
            "targetServiceRevision": {"arn": "r", "requestedTaskCount": 2, "runningTaskCount": 2, "requestedProductionTrafficWeight": 10.0, "requestedTestTrafficWeight": 100.0},
            "lifecycleHookDetails": [{"hookId": "h1", "targetType": "AWS_LAMBDA", "targetArn": "arn:aws:lambda:r:1:function:smoke", "status": "IN_PROGRESS"}]}),
        );
        let lines = w.observe(&c, 7.0);
        assert!(
            lines.contains(&"production traffic: 10% on the new revision".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"test traffic: 100% on the new revision".to_string()));
        assert!(lines.contains(&"hook smoke at PRODUCTION_TRAFFIC_SHIFT: IN_PROGRESS".to_string()));
        let names: Vec<&str> = w.began.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, STAGES[1..7].to_vec());
    }

    #[test]
    fn a_stages_duration_is_read_from_ecs_timestamps_when_it_gives_them() {
        let mut w = StageWatch::default();
        let at = |stage: &str, updated: f64| {
            sd(json!({"status": "IN_PROGRESS", "lifecycleStage": stage, "updatedAt": updated}))
        };
        w.observe(&at("PRE_SCALE_UP", 1_000.0), 0.0);
        // Our polls 8 s apart; ECS changed the deployment 2.5 s after the stage began.
        let lines = w.observe(&at("SCALE_UP", 1_002.5), 8.0);
        assert_eq!(lines[0], "stage PRE_SCALE_UP ended after 2.5 s");
        // Without ECS's timestamp (or one going back), the time between our polls.
        let lines = w.observe(
            &sd(json!({"status": "IN_PROGRESS", "lifecycleStage": "POST_SCALE_UP"})),
            12.0,
        );
        assert_eq!(lines[0], "stage SCALE_UP ended after 4.0 s");
    }

    #[test]
    fn verdicts_name_what_decided_them() {
        let failed = sd(
            json!({"status": "ROLLBACK_IN_PROGRESS", "statusReason": "The lifecycle hook arn:aws:lambda:r:1:function:smoke returned FAILED in POST_SCALE_UP.",
            "lifecycleHookDetails": [{"hookId": "h", "targetType": "AWS_LAMBDA", "targetArn": "arn:aws:lambda:r:1:function:smoke", "status": "FAILED"}]}),
        );
        assert_eq!(
            assess(&failed, false),
            Verdict::RolledBack("The lifecycle hook arn:aws:lambda:r:1:function:smoke returned FAILED in POST_SCALE_UP. (hook smoke FAILED)".into())
        );
        let alarm = sd(
            json!({"status": "ROLLBACK_REQUESTED", "rollback": {"reason": "CloudWatch alarm(s) in ALARM: errors."},
            "alarms": {"status": "TRIGGERED", "triggeredAlarmNames": ["errors"]}}),
        );
        assert!(
            matches!(assess(&alarm, false), Verdict::RolledBack(w) if w.contains("alarm errors in ALARM"))
        );
        let breaker = sd(
            json!({"status": "ROLLBACK_SUCCESSFUL", "statusReason": "tasks failed to start.",
            "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}}),
        );
        assert!(
            matches!(assess(&breaker, false), Verdict::RolledBack(w) if w.contains("circuit breaker: 3 of 3 tasks failed"))
        );
        let bake = sd(json!({"status": "IN_PROGRESS", "lifecycleStage": "BAKE_TIME"}));
        assert_eq!(assess(&bake, true), Verdict::Deployed);
        assert_eq!(assess(&bake, false), Verdict::InProgress);
        let post =
            sd(json!({"status": "IN_PROGRESS", "lifecycleStage": "POST_PRODUCTION_TRAFFIC_SHIFT"}));
        assert_eq!(
            assess(&post, true),
            Verdict::InProgress,
            "a post-shift hook can still fail it"
        );
        assert_eq!(
            assess(&sd(json!({"status": "SUCCESSFUL"})), false),
            Verdict::Deployed
        );
        assert!(
            matches!(assess(&sd(json!({"status": "ROLLBACK_FAILED", "statusReason": "x"})), false), Verdict::Failed(w) if w.contains("rollback failed"))
        );
    }

    #[test]
    fn a_waiting_pause_hook_is_found() {
        let d = sd(json!({"status": "IN_PROGRESS", "lifecycleHookDetails": [
            {"hookId": "l", "targetType": "AWS_LAMBDA", "targetArn": "arn:aws:lambda:r:1:function:f", "status": "SUCCEEDED"},
            {"hookId": "p", "targetType": "PAUSE", "status": "AWAITING_ACTION", "expiresAt": 100.0, "timeoutAction": "ROLLBACK"}]}));
        assert_eq!(d.awaiting().map(|h| h.hook_id.as_str()), Some("p"));
        assert_eq!(d.awaiting().unwrap().name(), "pause hook");
    }
}

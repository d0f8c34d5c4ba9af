//! What a CodeDeploy deployment of an ECS service shows as it goes (GetDeployment and its one
//! ECS target's lifecycle events and task sets), the lines a deploy prints as they change, and
//! the verdict. Pure: fed the answers, tested without AWS.

use crate::ecs::stages::Verdict;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInformation {
    pub code: Option<String>,
    #[serde(default, deserialize_with = "crate::relay::de_escaped_opt")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackInfo {
    pub rollback_deployment_id: Option<String>,
    #[serde(default, deserialize_with = "crate::relay::de_escaped_opt")]
    pub rollback_message: Option<String>,
}

/// GetDeployment's `deploymentInfo` (the fields read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInfo {
    pub deployment_id: String,
    /// Created, Queued, InProgress, Baking, Succeeded, Failed, Stopped or Ready.
    pub status: String,
    pub error_information: Option<ErrorInformation>,
    pub rollback_info: Option<RollbackInfo>,
    pub deployment_config_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    pub error_code: Option<String>,
    pub script_name: Option<String>,
    #[serde(default, deserialize_with = "crate::relay::de_escaped_opt")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    pub lifecycle_event_name: String,
    /// Pending, InProgress, Succeeded, Failed, Skipped or Unknown.
    pub status: Option<String>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub diagnostics: Option<Diagnostics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSet {
    /// Sic: the API's own spelling.
    pub identifer: Option<String>,
    pub desired_count: Option<i64>,
    pub pending_count: Option<i64>,
    pub running_count: Option<i64>,
    pub traffic_weight: Option<f64>,
    /// Blue or Green.
    pub task_set_label: Option<String>,
}

/// BatchGetDeploymentTargets' `ecsTarget`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsTarget {
    pub status: Option<String>,
    #[serde(default)]
    pub lifecycle_events: Vec<LifecycleEvent>,
    #[serde(default)]
    pub task_sets_info: Vec<TaskSet>,
}

impl EcsTarget {
    /// The replacement (green) task set.
    pub fn green(&self) -> Option<&TaskSet> {
        self.task_sets_info
            .iter()
            .find(|t| t.task_set_label.as_deref() == Some("Green"))
    }

    /// Traffic is on the replacement and every lifecycle event is done: CodeDeploy only waits
    /// to terminate the original task set now (the target reads Succeeded).
    pub fn shifted(&self) -> bool {
        self.status.as_deref() == Some("Succeeded")
    }

    /// The lifecycle event that failed, if one did.
    pub fn failed_event(&self) -> Option<&LifecycleEvent> {
        self.lifecycle_events
            .iter()
            .find(|e| e.status.as_deref() == Some("Failed"))
    }
}

/// The lines a deploy prints as the target changes: each lifecycle event as it begins and ends
/// (with its duration), the replacement's production traffic as it moves.
#[derive(Debug, Default)]
pub struct EventWatch {
    seen: HashMap<String, String>,
    traffic: Option<f64>,
    begun: std::collections::HashSet<String>,
}

impl EventWatch {
    pub fn observe(&mut self, target: &EcsTarget) -> Vec<String> {
        let mut lines = vec![];
        let mut traffic = self.traffic_line(target);
        for e in &target.lifecycle_events {
            let status = e.status.clone().unwrap_or_default();
            let before = self
                .seen
                .insert(e.lifecycle_event_name.clone(), status.clone());
            let name = &e.lifecycle_event_name;
            // Traffic moves within AllowTraffic: after it begins, before it ends.
            let shifts = name == "AllowTraffic";
            if shifts && status != "InProgress" {
                lines.extend(traffic.take());
            }
            if before.as_deref() != Some(status.as_str()) {
                let took = match (e.start_time, e.end_time) {
                    (Some(s), Some(t)) => format!(" in {}", crate::units::seconds(t - s)),
                    _ => String::new(),
                };
                match status.as_str() {
                    "InProgress" => lines.push(format!("{name} began")),
                    "Succeeded" => lines.push(format!("{name} succeeded{took}")),
                    "Failed" => lines.push(format!("{name} FAILED{took}: {}", diagnosis(e))),
                    _ => {}
                }
            }
            if shifts {
                lines.extend(traffic.take());
            }
        }
        lines.extend(traffic);
        lines
    }

    /// The replacement's share of production traffic, when it has moved since last said.
    fn traffic_line(&mut self, target: &EcsTarget) -> Option<String> {
        let w = target.green().and_then(|g| g.traffic_weight)?;
        let moved = self.traffic.map_or(w > 0.0, |t| t != w);
        self.traffic = Some(w);
        moved.then(|| format!("production traffic on the replacement task set: {w:.0}%"))
    }

    /// The lifecycle events that have begun since last asked, in order (also those that began
    /// and ended between two polls), for the report's stages.
    pub fn begun(&mut self, target: &EcsTarget) -> Vec<String> {
        target
            .lifecycle_events
            .iter()
            .filter(|e| {
                matches!(
                    e.status.as_deref(),
                    Some("InProgress" | "Succeeded" | "Failed")
                )
            })
            .filter(|e| self.begun.insert(e.lifecycle_event_name.clone()))
            .map(|e| e.lifecycle_event_name.clone())
            .collect()
    }
}

/// Where a deployment is, for its heartbeat: the lifecycle event in progress; once every event
/// succeeded, the termination wait (the original task set kept until it ends); between two
/// events, after the last one that succeeded; before any began, waiting for the first.
pub fn phase(target: &EcsTarget) -> String {
    let events = &target.lifecycle_events;
    let succeeded = |e: &&LifecycleEvent| e.status.as_deref() == Some("Succeeded");
    if let Some(e) = events
        .iter()
        .find(|e| e.status.as_deref() == Some("InProgress"))
    {
        e.lifecycle_event_name.clone()
    } else if !events.is_empty() && events.iter().all(|e| succeeded(&e)) {
        "the termination wait: every lifecycle event succeeded".into()
    } else if let Some(e) = events.iter().rev().find(succeeded) {
        format!("after {}", e.lifecycle_event_name)
    } else {
        "waiting for its first lifecycle event".into()
    }
}

/// A failed event's diagnostics in one phrase.
fn diagnosis(e: &LifecycleEvent) -> String {
    let d = e.diagnostics.clone().unwrap_or_default();
    let mut parts = vec![];
    if let Some(c) = d.error_code.filter(|c| !c.is_empty()) {
        parts.push(c);
    }
    if let Some(s) = d.script_name.filter(|s| !s.is_empty()) {
        parts.push(format!("hook {s}"));
    }
    if let Some(m) = d.message.filter(|m| !m.is_empty()) {
        parts.push(m);
    }
    if parts.is_empty() {
        "no diagnostics".into()
    } else {
        parts.join(": ")
    }
}

/// Why a deployment failed: the lifecycle event, CodeDeploy's error code and message.
pub fn why(info: &DeploymentInfo, target: Option<&EcsTarget>) -> String {
    let err = info.error_information.clone().unwrap_or_default();
    let mut out = format!(
        "CodeDeploy deployment {} {}",
        info.deployment_id, info.status
    );
    if let Some(e) = target.and_then(EcsTarget::failed_event) {
        out.push_str(&format!(" in {}", e.lifecycle_event_name));
    }
    for part in [err.code, err.message].into_iter().flatten() {
        out.push_str(&format!(": {part}"));
    }
    out
}

/// Judge a deployment: Succeeded (or, when asked for, traffic on the replacement), Failed or
/// Stopped (rolled back when CodeDeploy started a rollback deployment), or still going.
pub fn assess(info: &DeploymentInfo, target: Option<&EcsTarget>, traffic_shifted: bool) -> Verdict {
    match info.status.as_str() {
        "Succeeded" => Verdict::Deployed,
        "Failed" | "Stopped" => {
            let rolled_back = info
                .rollback_info
                .as_ref()
                .and_then(|r| r.rollback_deployment_id.as_ref())
                .is_some();
            if rolled_back {
                Verdict::RolledBack(why(info, target))
            } else {
                Verdict::Failed(why(info, target))
            }
        }
        _ if traffic_shifted && target.is_some_and(EcsTarget::shifted) => Verdict::Deployed,
        _ => Verdict::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(v: serde_json::Value) -> EcsTarget {
        serde_json::from_value(v).unwrap()
    }

    fn info(v: serde_json::Value) -> DeploymentInfo {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_heartbeat_names_the_termination_wait_once_every_event_succeeded() {
        let events = |statuses: &[&str]| {
            let names = ["BeforeInstall", "Install", "AllowTraffic"];
            let list: Vec<_> = names
                .iter()
                .zip(statuses)
                .map(|(n, s)| json!({"lifecycleEventName": n, "status": s}))
                .collect();
            phase(&target(
                json!({"status": "InProgress", "lifecycleEvents": list}),
            ))
        };
        assert_eq!(
            events(&["Pending", "Pending", "Pending"]),
            "waiting for its first lifecycle event"
        );
        assert_eq!(events(&["Succeeded", "InProgress", "Pending"]), "Install");
        assert_eq!(
            events(&["Succeeded", "Succeeded", "Pending"]),
            "after Install"
        );
        assert_eq!(
            events(&["Succeeded", "Succeeded", "Succeeded"]),
            "the termination wait: every lifecycle event succeeded"
        );
    }

    #[test]
    fn each_event_is_said_once_as_it_begins_and_ends_with_traffic_as_it_moves() {
        let mut w = EventWatch::default();
        let t1 = target(json!({"status": "InProgress", "lifecycleEvents": [
            {"lifecycleEventName": "BeforeInstall", "status": "Succeeded", "startTime": 10.0, "endTime": 10.5},
            {"lifecycleEventName": "Install", "status": "InProgress", "startTime": 10.5},
            {"lifecycleEventName": "AfterInstall", "status": "Pending"}],
            "taskSetsInfo": [{"taskSetLabel": "Green", "trafficWeight": 0.0}, {"taskSetLabel": "Blue", "trafficWeight": 100.0}]}));
        assert_eq!(
            w.observe(&t1),
            vec!["BeforeInstall succeeded in 0.5 s", "Install began"]
        );
        assert_eq!(w.observe(&t1), Vec::<String>::new());
        assert_eq!(phase(&t1), "Install");
        assert_eq!(w.begun(&t1), vec!["BeforeInstall", "Install"]);
        assert!(w.begun(&t1).is_empty());
        let t2 = target(json!({"status": "InProgress", "lifecycleEvents": [
            {"lifecycleEventName": "BeforeInstall", "status": "Succeeded", "startTime": 10.0, "endTime": 10.5},
            {"lifecycleEventName": "Install", "status": "Succeeded", "startTime": 10.5, "endTime": 72.0},
            {"lifecycleEventName": "AllowTraffic", "status": "InProgress"}],
            "taskSetsInfo": [{"taskSetLabel": "Green", "trafficWeight": 10.0}]}));
        assert_eq!(
            w.observe(&t2),
            vec![
                "Install succeeded in 62 s",
                "AllowTraffic began",
                "production traffic on the replacement task set: 10%"
            ]
        );
    }

    #[test]
    fn a_failure_names_its_event_code_and_hook_and_a_rollback_is_told_apart() {
        let t = target(json!({"status": "Failed", "lifecycleEvents": [
            {"lifecycleEventName": "AfterAllowTestTraffic", "status": "Failed", "startTime": 1.0, "endTime": 3.0,
             "diagnostics": {"errorCode": "ScriptFailed", "scriptName": "smoke", "message": "the smoke test answered 500"}},
            {"lifecycleEventName": "BeforeAllowTraffic", "status": "Skipped"}]}));
        let mut w = EventWatch::default();
        assert_eq!(
            w.observe(&t),
            vec!["AfterAllowTestTraffic FAILED in 2.0 s: ScriptFailed: hook smoke: the smoke test answered 500"]
        );
        let failed = info(json!({"deploymentId": "d-ABC", "status": "Failed",
            "errorInformation": {"code": "HOOK_EXECUTION_FAILURE", "message": "a hook failed"}}));
        assert_eq!(
            assess(&failed, Some(&t), false),
            Verdict::Failed("CodeDeploy deployment d-ABC Failed in AfterAllowTestTraffic: HOOK_EXECUTION_FAILURE: a hook failed".into())
        );
        let mut rolled = failed.clone();
        rolled.rollback_info = Some(RollbackInfo {
            rollback_deployment_id: Some("d-XYZ".into()),
            rollback_message: None,
        });
        assert!(
            matches!(assess(&rolled, Some(&t), false), Verdict::RolledBack(w) if w.contains("HOOK_EXECUTION_FAILURE"))
        );
        let stopped = info(json!({"deploymentId": "d-ABC", "status": "Stopped"}));
        assert_eq!(
            assess(&stopped, None, false),
            Verdict::Failed("CodeDeploy deployment d-ABC Stopped".into())
        );
    }

    #[test]
    fn traffic_shifted_is_the_target_succeeded_while_the_original_waits_for_termination() {
        let going = info(json!({"deploymentId": "d-A", "status": "InProgress"}));
        let waiting = target(json!({"status": "Succeeded"}));
        let shifting = target(json!({"status": "InProgress"}));
        assert_eq!(assess(&going, Some(&waiting), true), Verdict::Deployed);
        assert_eq!(assess(&going, Some(&waiting), false), Verdict::InProgress);
        assert_eq!(assess(&going, Some(&shifting), true), Verdict::InProgress);
        assert_eq!(assess(&going, None, true), Verdict::InProgress);
        let done = info(json!({"deploymentId": "d-A", "status": "Succeeded"}));
        assert_eq!(assess(&done, None, false), Verdict::Deployed);
    }
}

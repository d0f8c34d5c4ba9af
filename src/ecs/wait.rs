//! Following one deployment: what a DescribeServices answer says about it, and what is new since
//! the last poll. Pure functions; the polling loop lives in `deploy`.

use crate::ecs::api::{RolloutState, Service};
use std::collections::HashSet;

/// What the service says about the deployment being followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    InProgress,
    /// The deployment reached its goal.
    Deployed,
    /// ECS marked it FAILED (the circuit breaker without rollback, typically).
    Failed(String),
    /// It is gone and another deployment is PRIMARY: the circuit breaker rolled back.
    RolledBack {
        reason: String,
        to: String,
    },
}

/// Judge the deployment `id`. With `stable`, success also needs the old deployments drained.
pub fn assess(service: &Service, id: &str, stable: bool) -> Verdict {
    let Some(d) = service.deployment(id) else {
        let primary = service.primary();
        let to = primary
            .map(|p| p.task_definition.as_str())
            .filter(|t| !t.is_empty())
            .unwrap_or("another deployment")
            .to_string();
        let reason = primary
            .and_then(|p| p.rollout_state_reason.as_deref())
            .unwrap_or("the deployment was replaced")
            .to_string();
        return Verdict::RolledBack { reason, to };
    };
    let alone = service.deployments.len() == 1;
    let counts_done = d.running_count == d.desired_count && d.pending_count == 0;
    match d.rollout_state {
        Some(RolloutState::Failed) => Verdict::Failed(
            d.rollout_state_reason
                .clone()
                .unwrap_or_else(|| "rollout failed".into()),
        ),
        Some(RolloutState::Completed) if !stable || (alone && counts_done) => Verdict::Deployed,
        Some(_) => Verdict::InProgress,
        // No rolloutState (a Classic Load Balancer, an external controller): steady when alone.
        None if alone && counts_done && d.status == "PRIMARY" => Verdict::Deployed,
        None => Verdict::InProgress,
    }
}

/// What has been printed already, so each event and count change is printed once.
#[derive(Debug, Default)]
pub struct Watch {
    seen_events: HashSet<String>,
    last_counts: Option<(i64, i64, i64, i64)>,
    pub seen_stopped: HashSet<String>,
    /// Reading stopped tasks failed once already (said once, not every poll).
    pub tasks_unreadable: bool,
    /// The distinct failures whose log tails were printed (container, exit, reason).
    pub failures_shown: HashSet<String>,
    /// Task definitions read for their log configuration, by ARN.
    pub task_definitions: std::collections::HashMap<String, serde_json::Value>,
    /// What was seen, for the rollout report.
    pub record: crate::ecs::report::Record,
}

impl Watch {
    /// A watch that treats the events `before` already shows as seen: they belong to earlier
    /// deployments. (Event ids, not timestamps: the local clock may be skewed.)
    pub fn seeded(before: &Service) -> Self {
        let mut w = Watch::default();
        w.seen_events
            .extend(before.events.iter().map(|e| e.id.clone()));
        w
    }

    /// Events not printed yet, oldest first.
    pub fn new_events(&mut self, service: &Service) -> Vec<String> {
        let mut fresh: Vec<(f64, String)> = service
            .events
            .iter()
            .filter(|e| self.seen_events.insert(e.id.clone()))
            .map(|e| (e.created_at, e.message.clone()))
            .collect();
        fresh.sort_by(|a, b| a.0.total_cmp(&b.0));
        fresh.into_iter().map(|(_, m)| m).collect()
    }

    /// A compact counts line when they changed: `running 1/2, pending 1, failed 0`.
    pub fn counts(&mut self, service: &Service, id: &str) -> Option<String> {
        let d = service.deployment(id)?;
        let c = (
            d.running_count,
            d.desired_count,
            d.pending_count,
            d.failed_tasks,
        );
        if self.last_counts == Some(c) {
            return None;
        }
        self.last_counts = Some(c);
        Some(format!(
            "running {}/{}, pending {}, failed {}",
            c.0, c.1, c.2, c.3
        ))
    }

    /// The failed-task count of the deployment, to know when to look at stopped tasks.
    pub fn failed(service: &Service, id: &str) -> i64 {
        service.deployment(id).map_or(0, |d| d.failed_tasks)
    }
}

/// Why ECS failed the deployment `id`, from its "deployment failed: …" event.
pub fn failure_event(service: &Service, id: &str) -> Option<String> {
    let marker = format!("(deployment {id}) deployment failed: ");
    service.events.iter().find_map(|e| {
        e.message
            .split_once(&marker)
            .map(|(_, why)| format!("deployment failed: {why}"))
    })
}

/// When a quiet wait should say it is still waiting: CircleCI ends a step after 10 minutes
/// without output, so a wait that printed nothing for [`super::HEARTBEAT`] says so.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    last: std::time::Instant,
    every: std::time::Duration,
}

impl Heartbeat {
    pub fn new(now: std::time::Instant, every: std::time::Duration) -> Heartbeat {
        Heartbeat { last: now, every }
    }

    /// Something was printed at `now`.
    pub fn said(&mut self, now: std::time::Instant) {
        self.last = now;
    }

    /// Whether to say "still waiting" at `now` (and count it as said).
    pub fn due(&mut self, now: std::time::Instant) -> bool {
        let due = now.saturating_duration_since(self.last) >= self.every;
        if due {
            self.last = now;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A service (or task) as ECS's JSON describes it.
    fn svc(v: Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    fn dep(id: &str, status: &str, state: Option<&str>, running: i64, desired: i64) -> Value {
        let mut d = json!({"id": id, "status": status, "runningCount": running, "desiredCount": desired, "pendingCount": 0, "failedTasks": 0, "taskDefinition": format!("td-{id}")});
        if let Some(s) = state {
            d["rolloutState"] = json!(s);
            d["rolloutStateReason"] = json!(format!("reason {s}"));
        }
        d
    }

    #[test]
    fn verdicts() {
        let svc = |deps: Vec<Value>| svc(json!({"deployments": deps}));
        assert_eq!(
            assess(
                &svc(vec![dep("a", "PRIMARY", Some("IN_PROGRESS"), 1, 2)]),
                "a",
                false
            ),
            Verdict::InProgress
        );
        assert_eq!(
            assess(
                &svc(vec![dep("a", "PRIMARY", Some("COMPLETED"), 2, 2)]),
                "a",
                false
            ),
            Verdict::Deployed
        );
        // COMPLETED while the old deployment still drains: deployed, but not yet stable.
        let draining = svc(vec![
            dep("a", "PRIMARY", Some("COMPLETED"), 2, 2),
            dep("o", "ACTIVE", Some("COMPLETED"), 1, 2),
        ]);
        assert_eq!(assess(&draining, "a", false), Verdict::Deployed);
        assert_eq!(assess(&draining, "a", true), Verdict::InProgress);
        assert_eq!(
            assess(
                &svc(vec![dep("a", "PRIMARY", Some("FAILED"), 0, 2)]),
                "a",
                false
            ),
            Verdict::Failed("reason FAILED".into())
        );
        // Vanished: the breaker rolled back to another revision.
        let rolled = assess(
            &svc(vec![dep("b", "PRIMARY", Some("IN_PROGRESS"), 0, 2)]),
            "a",
            false,
        );
        assert_eq!(
            rolled,
            Verdict::RolledBack {
                reason: "reason IN_PROGRESS".into(),
                to: "td-b".into()
            }
        );
        // Without rolloutState, steady means alone with the counts met.
        assert_eq!(
            assess(&svc(vec![dep("a", "PRIMARY", None, 2, 2)]), "a", false),
            Verdict::Deployed
        );
        assert_eq!(
            assess(
                &svc(vec![
                    dep("a", "PRIMARY", None, 2, 2),
                    dep("o", "ACTIVE", None, 1, 2)
                ]),
                "a",
                false
            ),
            Verdict::InProgress
        );
    }

    #[test]
    fn events_are_printed_once_oldest_first_and_not_from_before() {
        let mut w = Watch::seeded(&svc(
            json!({"events": [{"id": "0", "createdAt": 500.0, "message": "old"}]}),
        ));
        let s1 = svc(
            json!({"events": [{"id": "2", "createdAt": 110.0, "message": "second"}, {"id": "1", "createdAt": 105.0, "message": "first"}, {"id": "0", "createdAt": 500.0, "message": "old"}]}),
        );
        assert_eq!(w.new_events(&s1), vec!["first", "second"]);
        let s2 = svc(
            json!({"events": [{"id": "3", "createdAt": 120.0, "message": "third"}, {"id": "2", "createdAt": 110.0, "message": "second"}]}),
        );
        assert_eq!(w.new_events(&s2), vec!["third"]);
    }

    #[test]
    fn counts_lines_only_on_change() {
        let mut w = Watch::default();
        let s = svc(json!({"deployments": [dep("a", "PRIMARY", Some("IN_PROGRESS"), 1, 2)]}));
        assert_eq!(
            w.counts(&s, "a").as_deref(),
            Some("running 1/2, pending 0, failed 0")
        );
        assert_eq!(w.counts(&s, "a"), None);
    }

    #[test]
    fn failure_events() {
        let s = svc(
            json!({"events": [{"id": "1", "message": "(service web) (deployment ecs-svc/9) deployment failed: tasks failed to start."}]}),
        );
        assert_eq!(
            failure_event(&s, "ecs-svc/9").as_deref(),
            Some("deployment failed: tasks failed to start.")
        );
        assert_eq!(failure_event(&s, "ecs-svc/8"), None);
    }

    #[test]
    fn a_quiet_wait_beats_every_interval_and_output_resets_it() {
        let t0 = std::time::Instant::now();
        let min = std::time::Duration::from_secs(60);
        let mut h = Heartbeat::new(t0, 5 * min);
        assert!(!h.due(t0 + 4 * min));
        assert!(h.due(t0 + 5 * min));
        assert!(!h.due(t0 + 9 * min));
        h.said(t0 + 9 * min);
        assert!(!h.due(t0 + 13 * min));
        assert!(h.due(t0 + 14 * min));
    }
}

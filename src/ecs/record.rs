//! What was recorded while a deploy was followed ([`Record`]: task counts per deployment at
//! each poll, service events, stopped tasks, log tails, the task-definition diff, how ECS's
//! rollback ended), and the report's data ([`Report`]); [`super::report`] renders it.

use crate::ecs::api::Task;
use serde::Serialize;
use std::time::Instant;

/// Task counts of one deployment at one poll.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// Seconds since the service's deploy began.
    pub t: f64,
    pub deployment: String,
    pub task_definition: String,
    pub desired: i64,
    pub running: i64,
    pub pending: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub t: f64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stopped {
    pub t: f64,
    pub task: String,
    pub stop_code: Option<String>,
    pub reason: String,
    /// `container exited N` or `container: reason`, as the line printed says.
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogTail {
    pub t: f64,
    pub container: String,
    pub stream: String,
    pub lines: Vec<String>,
}

/// What following one service's deploy saw.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(skip)]
    start: Option<Instant>,
    pub samples: Vec<Sample>,
    pub events: Vec<Event>,
    pub stopped: Vec<Stopped>,
    pub log_tails: Vec<LogTail>,
    pub diff: Vec<String>,
    /// Lifecycle stages of a blue/green, linear or canary deployment, as they began.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Event>,
    /// Where the new revision's tasks answer (`http://IP:PORT`), when a check asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// How the rollback ECS made ended, when it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

/// How ECS's rollback ended, for the last line and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Rollback {
    /// The previous revision runs again, rollout COMPLETED.
    Restored {
        to: String,
        running: i64,
        desired: i64,
        seconds: u64,
    },
    /// The rollback deployment failed too: the service is left without a healthy revision.
    Failed { to: String, reason: String },
    /// `--timeout` passed with the rollback still in progress.
    Unfinished {
        to: String,
        running: i64,
        desired: i64,
    },
    /// `--rollback-wait none`: the rollback goes on in ECS.
    NotFollowed { to: String },
}

impl Rollback {
    /// The rollback's outcome, said once at the end of the verdict.
    pub fn line(&self) -> String {
        match self {
            Rollback::Restored {
                to,
                running,
                desired,
                seconds,
            } => format!("rolled back: {to} running {running}/{desired} again after {seconds} s"),
            Rollback::Failed { to, reason } => {
                format!(
                    "the rollback to {to} FAILED too ({reason}): no healthy revision is running"
                )
            }
            Rollback::Unfinished {
                to,
                running,
                desired,
            } => format!(
                "the rollback to {to} had not finished at --timeout ({running}/{desired} running)"
            ),
            Rollback::NotFollowed { to } => {
                format!("ECS is rolling back to {to} (not followed: --rollback-wait none)")
            }
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record {
            start: Some(Instant::now()),
            samples: vec![],
            events: vec![],
            stopped: vec![],
            log_tails: vec![],
            diff: vec![],
            stages: vec![],
            urls: vec![],
            rollback: None,
        }
    }
}

impl Record {
    /// Seconds since recording began.
    pub fn now(&self) -> f64 {
        self.start
            .map_or(0.0, |s| (s.elapsed().as_secs_f64() * 10.0).round() / 10.0)
    }

    /// The deployments' counts now; a poll that changed nothing adds nothing but the last.
    pub fn sample(&mut self, deployments: &[crate::ecs::api::Deployment]) {
        let t = self.now();
        for d in deployments {
            let s = Sample {
                t,
                deployment: d.id.clone(),
                task_definition: short(&d.task_definition).to_string(),
                desired: d.desired_count,
                running: d.running_count,
                pending: d.pending_count,
                failed: d.failed_tasks,
            };
            let last = self
                .samples
                .iter()
                .rev()
                .find(|x| x.deployment == s.deployment);
            let same = last.is_some_and(|l| {
                (l.desired, l.running, l.pending, l.failed)
                    == (s.desired, s.running, s.pending, s.failed)
            });
            if !same {
                self.samples.push(s);
            }
        }
    }

    /// A lifecycle stage began.
    pub fn stage(&mut self, name: &str) {
        let t = self.now();
        self.stages.push(Event {
            t,
            message: name.to_string(),
        });
    }

    pub fn event(&mut self, message: &str) {
        let t = self.now();
        self.events.push(Event {
            t,
            message: message.to_string(),
        });
    }

    pub fn stopped(&mut self, task: &crate::ecs::api::Task) {
        let t = self.now();
        let line = stopped_task_line(task);
        let containers = line
            .rsplit_once(" (")
            .map(|(_, c)| {
                c.trim_end_matches(')')
                    .split("; ")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        self.stopped.push(Stopped {
            t,
            task: task.id().to_string(),
            stop_code: task.stop_code.clone(),
            reason: task.stopped_reason.clone().unwrap_or_default(),
            containers,
        });
    }

    pub fn log_tail(&mut self, container: &str, stream: &str, lines: &[String]) {
        let t = self.now();
        self.log_tails.push(LogTail {
            t,
            container: container.into(),
            stream: stream.into(),
            lines: lines.to_vec(),
        });
    }
}

/// `family:revision` of a task-definition ARN.
pub(super) fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// One service in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    /// deployed, failed, rolled back, timed out or unchanged.
    pub result: String,
    pub message: String,
    pub task_definition: Option<String>,
    pub deployment_id: Option<String>,
    pub seconds: f64,
    #[serde(flatten)]
    pub record: Record,
}

/// The whole report of one `stevedore deploy`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cluster: String,
    pub region: String,
    /// RFC 3339, when the deploy began.
    pub started_at: String,
    pub services: Vec<ServiceReport>,
}

/// One line for a stopped task: its reason and the exit codes of its containers.
pub fn stopped_task_line(task: &Task) -> String {
    let reason = task.stopped_reason.as_deref().unwrap_or("stopped");
    let code = task
        .stop_code
        .as_deref()
        .map(|c| format!(" [{c}]"))
        .unwrap_or_default();
    let exits: Vec<String> = task
        .containers
        .iter()
        .map(|c| {
            let name = if c.name.is_empty() { "?" } else { &c.name };
            match (c.exit_code, c.reason.as_deref()) {
                (Some(x), _) => format!("{name} exited {x}"),
                (None, Some(r)) => format!("{name}: {r}"),
                (None, None) => format!("{name}: no exit code"),
            }
        })
        .collect();
    format!(
        "task {} stopped{code}: {reason} ({})",
        task.id(),
        exits.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stopped_task_lines() {
        let t: Task = serde_json::from_value(json!({"taskArn": "arn:aws:ecs:r:1:task/c/abc", "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "web", "exitCode": 3}, {"name": "log", "reason": "CannotPullContainerError: nope"}]})).unwrap();
        assert_eq!(stopped_task_line(&t), "task abc stopped [EssentialContainerExited]: Essential container in task exited (web exited 3; log: CannotPullContainerError: nope)");
    }
}

//! How one service's deployment ended: its result, its report, and how a rollback after it ended.

use crate::ecs::record::{Record, Rollback};

/// How one service's deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployResult {
    Deployed,
    /// Nothing to do, or a dry run.
    Unchanged(String),
    /// Updated without waiting.
    Started,
    Failed(String),
    RolledBack(String),
    TimedOut,
}

impl DeployResult {
    pub(super) fn word(&self) -> &'static str {
        match self {
            DeployResult::Deployed => "deployed",
            DeployResult::Unchanged(_) => "unchanged",
            DeployResult::Started => "started",
            DeployResult::Failed(_) => "failed",
            DeployResult::RolledBack(_) => "rolled_back",
            DeployResult::TimedOut => "timed_out",
        }
    }
}

/// The report for one service.
#[derive(Debug, Clone)]
pub struct Report {
    pub service: String,
    pub task_definition: Option<String>,
    pub deployment_id: Option<String>,
    pub result: DeployResult,
    pub seconds: f64,
    /// What following it saw, for `--report`.
    pub record: crate::ecs::report::Record,
}

impl Report {
    /// A report with nothing followed (a dry run, nothing to do, not waiting).
    pub(super) fn quick(
        service: &str,
        task_definition: Option<String>,
        deployment_id: Option<String>,
        result: DeployResult,
        seconds: f64,
    ) -> Report {
        Report {
            service: service.into(),
            task_definition,
            deployment_id,
            result,
            seconds,
            record: Default::default(),
        }
    }
}

/// How the rollback deployment's follow ended, as a [`Rollback`].
pub(super) fn rollback_ending(
    ended: DeployResult,
    to: String,
    (running, desired): (i64, i64),
    seconds: u64,
) -> Rollback {
    match ended {
        DeployResult::Deployed => Rollback::Restored {
            to,
            running,
            desired,
            seconds,
        },
        DeployResult::Failed(reason) | DeployResult::RolledBack(reason) => {
            Rollback::Failed { to, reason }
        }
        _ => Rollback::Unfinished {
            to,
            running,
            desired,
        },
    }
}

/// The verdict once ECS (or CodeDeploy) rolled the deployment back: why it failed, then how the
/// rollback ended (kept in the record for the report too).
pub(super) fn after_rollback(why: &str, outcome: Rollback, record: &mut Record) -> DeployResult {
    let result = DeployResult::RolledBack(format!("{why}; {}", outcome.line()));
    record.rollback = Some(outcome);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_of_a_rollback_reads_as_one_line() {
        let to = || "web:1".to_string();
        assert_eq!(
            rollback_ending(DeployResult::Deployed, to(), (2, 2), 24).line(),
            "rolled back: web:1 running 2/2 again after 24 s"
        );
        assert_eq!(
            rollback_ending(DeployResult::Failed("tasks failed to start.".into()), to(), (0, 2), 9).line(),
            "the rollback to web:1 FAILED too (tasks failed to start.): no healthy revision is running"
        );
        assert_eq!(
            rollback_ending(DeployResult::TimedOut, to(), (1, 2), 9).line(),
            "the rollback to web:1 had not finished at --timeout (1/2 running)"
        );
    }
}

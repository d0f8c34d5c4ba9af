//! After ECS rolls a failed rolling deployment back (its circuit breaker, an alarm): the
//! rollback deployment followed to its end, so the job knows whether the previous revision runs
//! and is healthy again, or whether the service is left broken.

use super::follow::{follow, naming_the_target};
use super::plan::Plan;
use super::service::describe_service;
use super::{say, DeployResult};
use crate::ecs::api::Ecs;
use crate::ecs::report::Rollback;
use crate::ecs::wait::Watch;
use anyhow::Result;
use std::time::Instant;

/// The deployment ECS is rolling back with, once `ours` failed: the service's PRIMARY
/// deployment when it is another one (its id and short task definition).
async fn rollback_deployment(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    ours: &str,
) -> Option<(String, String)> {
    let svc = describe_service(ecs, plan, service, Instant::now())
        .await
        .ok()??;
    let p = svc.primary().filter(|p| p.id != ours)?;
    let to = p
        .task_definition
        .rsplit('/')
        .next()
        .unwrap_or(&p.task_definition);
    Some((p.id.clone(), to.to_string()))
}

/// When ECS rolled `ours` back to `to` (or is rolling it back), follow that rollback to its end
/// (within the deploy's deadline): the result says how it ended. Any other result is returned
/// as it is.
pub(super) async fn follow_ecs_rollback(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    ours: &str,
    (result, to): (DeployResult, Option<String>),
    watch: &mut Watch,
) -> Result<DeployResult> {
    // FAILED while it is still listed, or gone: either way a PRIMARY other than ours is ECS's
    // rollback (the breaker's or an alarm's).
    let why = match &result {
        DeployResult::RolledBack(w) | DeployResult::Failed(w) => w.clone(),
        _ => return Ok(result),
    };
    let Some((id, to)) = rollback_deployment(ecs, plan, service, ours).await else {
        // No rollback deployment left to follow: the verdict as it was, with where ECS went.
        return Ok(naming_the_target(result, to));
    };
    let outcome = if plan.follow_rollback {
        say(
            plan,
            service,
            &format!("following ECS's rollback to {to} (deployment {id})"),
        );
        let began = Instant::now();
        let ended = follow(ecs, plan, service, &id, plan.deadline, watch).await?;
        let counts = describe_service(ecs, plan, service, Instant::now())
            .await
            .ok()
            .flatten()
            .and_then(|s| {
                s.deployment(&id)
                    .map(|d| (d.running_count, d.desired_count))
            })
            .unwrap_or_default();
        outcome(ended, to, counts, began.elapsed().as_secs())
    } else {
        Rollback::NotFollowed { to }
    };
    watch.record.rollback = Some(outcome.clone());
    Ok(DeployResult::RolledBack(format!(
        "{why}; {}",
        outcome.line()
    )))
}

/// How the rollback deployment's follow ended, as a [`Rollback`].
pub(super) fn outcome(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_of_a_rollback_reads_as_one_line() {
        let to = || "web:1".to_string();
        assert_eq!(
            outcome(DeployResult::Deployed, to(), (2, 2), 24).line(),
            "rolled back: web:1 running 2/2 again after 24 s"
        );
        assert_eq!(
            outcome(DeployResult::Failed("tasks failed to start.".into()), to(), (0, 2), 9).line(),
            "the rollback to web:1 FAILED too (tasks failed to start.): no healthy revision is running"
        );
        assert_eq!(
            outcome(DeployResult::TimedOut, to(), (1, 2), 9).line(),
            "the rollback to web:1 had not finished at --timeout (1/2 running)"
        );
    }
}

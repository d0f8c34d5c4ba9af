//! After ECS rolls a failed rolling deployment back (its circuit breaker, an alarm): the
//! rollback deployment followed to its end, so the job knows whether the previous revision runs
//! and is healthy again, or whether the service is left broken.

use super::calls::describe_service;
use super::follow::{follow, naming_the_target};
use super::outcome::{rollback_ending, DeployResult};
use super::plan::say;
use super::plan::Plan;
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
        rollback_ending(ended, to, counts, began.elapsed().as_secs())
    } else {
        Rollback::NotFollowed { to }
    };
    Ok(super::outcome::after_rollback(
        &why,
        outcome,
        &mut watch.record,
    ))
}

//! Stevedore's own rollbacks (`--rollback`): a deployment that failed or found no verdict in
//! time is put back to the previous revision, under a `--timeout` of its own for that service.

use super::calls::{api_err, start_deployment};
use super::follow::follow;
use super::outcome::{DeployResult, Report};
use super::plan::say;
use super::plan::Plan;
use crate::ecs::api::{Ecs, Service, ServiceUpdate};
use crate::ecs::wait::Watch;
use crate::values::WaitUntil;
use anyhow::Result;
use std::time::Instant;

/// Follow a blue/green, linear or canary deployment to its verdict; with `--rollback`, one that
/// did not finish in time is stopped with a rollback (StopServiceDeployment), and that followed.
pub(super) async fn follow_native_deploy(
    ecs: &Ecs,
    plan: &Plan,
    f: &super::native::Followed<'_>,
    started: Instant,
    td_diff: Vec<String>,
    before: &Service,
) -> Result<Report> {
    let mut watch = Watch::seeded(before);
    watch.record.diff = td_diff;
    let report = |result, watch: &mut Watch| Report {
        service: f.service.into(),
        task_definition: Some(f.target.into()),
        deployment_id: Some(f.id.into()),
        result,
        seconds: started.elapsed().as_secs_f64(),
        record: std::mem::take(&mut watch.record),
    };
    if plan.wait_until == WaitUntil::None {
        return Ok(report(DeployResult::Started, &mut watch));
    }
    let (mut result, arn) =
        super::native::follow_native(ecs, plan, f, plan.deadline, &mut watch).await?;
    if let (true, DeployResult::TimedOut, Some(arn)) = (plan.rollback, &result, arn) {
        // The rollback gets a --timeout of its own, as for a rolling deployment.
        let deadline = Instant::now() + plan.timeout;
        say(
            plan,
            f.service,
            &format!(
                "stopping service deployment {arn} with a rollback (no verdict within {})",
                crate::validate::human_duration(plan.timeout)
            ),
        );
        let stopping = async {
            ecs.stop_service_deployment(&arn)
                .await
                .map_err(|e| api_err("StopServiceDeployment", e))?;
            super::native::follow_through(ecs, plan, f, &arn, deadline, &mut watch).await
        };
        result = match crate::aws::deadline::scope(deadline, stopping).await? {
            DeployResult::RolledBack(why) => DeployResult::RolledBack(why),
            other => DeployResult::Failed(format!(
                "no verdict within the timeout, and the rollback did not finish either ({})",
                other.word()
            )),
        };
    }
    Ok(report(result, &mut watch))
}

/// Put the previous revision back after a failed deployment and follow that: rolled back, or
/// failed twice.
pub(super) async fn roll_back(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    current: &str,
    result: &DeployResult,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let why = match result {
        DeployResult::Failed(w) => w.clone(),
        _ => format!(
            "no success within {}",
            crate::validate::human_duration(plan.timeout)
        ),
    };
    // A deployment that timed out has used the deploy's deadline up: the rollback gets a
    // --timeout of its own, or it could never be made.
    let deadline = Instant::now() + plan.timeout;
    let rolling_back = restore(ecs, plan, service, current, why, watch, deadline);
    crate::aws::deadline::scope(deadline, rolling_back).await
}

/// Update the service back to `current` and follow that, by `deadline`.
async fn restore(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    current: &str,
    why: String,
    watch: &mut Watch,
    deadline: Instant,
) -> Result<DeployResult> {
    say(
        plan,
        service,
        &format!(
            "rolling back to {} ({why})",
            current.rsplit('/').next().unwrap_or(current)
        ),
    );
    let back = start_deployment(
        ecs,
        &ServiceUpdate {
            cluster: plan.cluster.clone(),
            service: service.into(),
            task_definition: current.into(),
            ..Default::default()
        },
    )
    .await?;
    let again = follow(ecs, plan, service, &back, deadline, watch).await?;
    Ok(match again {
        DeployResult::Deployed => DeployResult::RolledBack(format!(
            "{why}; restored {}",
            current.rsplit('/').next().unwrap_or(current)
        )),
        other => DeployResult::Failed(format!(
            "{why}; the rollback to {current} did not succeed either ({})",
            other.word()
        )),
    })
}

//! The deploy's side of `--require-signature` ([`crate::sign::required`]): the key loaded once,
//! then each service's revision verified whole, and a new service's starting revision too.

use super::plan::Plan;
use crate::ecs::api::Ecs;
use crate::ecs::taskdef;
use anyhow::{Context, Result};
use std::time::Instant;

/// Tags of the images this deploy sets resolved to digests (`--pin-digests`), and the key of
/// `--require-signature` loaded, so that each service's revision is verified whole (see
/// [`verified`]); within the deploy's deadline, before anything is registered.
pub(super) async fn pin_and_load(
    plan: &mut Plan,
    region: &str,
    pin_digests: bool,
    require_signature: Option<&str>,
    allow_unsigned: &[String],
) -> Result<()> {
    // A dry run pins too (DescribeImages only reads): a tag that is not in ECR fails it as it
    // fails the run, and a revision that pins to what runs is "nothing to deploy" in both.
    if pin_digests {
        let pinning = crate::ecr::pin::pin_digests(plan.changes.images_mut(), region);
        within(plan.deadline, "DescribeImages (digest pinning)", pinning).await?;
    }
    let loading = crate::sign::required::Required::load(require_signature, allow_unsigned, region);
    plan.require = within(plan.deadline, "GetPublicKey (--require-signature)", loading).await?;
    Ok(())
}

/// With `--require-signature`, every container image of `td` (the revision that will run)
/// verified and pinned in place, within the deploy's deadline; nothing is registered or updated
/// when one fails.
pub(super) async fn verified(plan: &Plan, td: &mut serde_json::Value) -> Result<()> {
    let Some(required) = &plan.require else {
        return Ok(());
    };
    let op = "signature verification (--require-signature)";
    within(plan.deadline, op, required.revision(td))
        .await
        .context("--require-signature: nothing was registered or updated")
}

/// The revision `r` a new service starts with, its images verified when a signature is
/// required: as it is when its images are pinned already, else a pinned copy registered.
pub(super) async fn verified_revision(ecs: &Ecs, plan: &Plan, r: &str) -> Result<String> {
    if plan.require.is_none() {
        return Ok(r.to_string());
    }
    let d = ecs
        .describe_task_definition(r)
        .await
        .map_err(|e| super::calls::api_err("DescribeTaskDefinition", e))?;
    let td = taskdef::registrable(&d);
    let mut pinned = td.clone();
    verified(plan, &mut pinned).await?;
    if pinned == td || plan.dry_run {
        return Ok(r.to_string());
    }
    super::calls::register(ecs, plan, &pinned).await
}

/// `work`, unless the deploy's deadline passes first: then ECR did not answer `op` in time.
async fn within<T>(
    deadline: Instant,
    op: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(left, work).await.map_err(|_| {
        anyhow::Error::new(crate::error::DeadlineExceeded {
            endpoint: "ECR".into(),
            op: op.into(),
        })
    })?
}

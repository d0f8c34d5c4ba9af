//! The ECS calls a deploy makes from more than one place: reading the service (shared by the
//! services deployed together), registering a revision once per run, starting a deployment.

use super::plan::Plan;
use crate::aws::json::CallError;
use crate::ecs::api::{Ecs, Service, ServiceUpdate};
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::Instant;

/// A failed ECS call as an error naming its operation ("ECS UpdateService: …").
pub(super) fn api_err(op: &str, e: CallError) -> anyhow::Error {
    e.into_anyhow(format!("ECS {op}"))
}

/// The service now (or as read for all of the deploy's services since `not_before`).
pub(super) async fn describe_service(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    not_before: Instant,
) -> Result<Option<Service>, CallError> {
    plan.reads
        .describe(ecs, &plan.cluster, service, not_before)
        .await
}

/// Register a task definition once per run: services deployed together from the same family
/// and the same changes share one new revision instead of racing to register two.
pub(super) async fn register(ecs: &Ecs, plan: &Plan, td: &Value) -> Result<String> {
    let key = td.to_string();
    let mut done = plan.registered.lock().await;
    if let Some(arn) = done.get(&key) {
        return Ok(arn.clone());
    }
    let arn = ecs
        .register_task_definition(td)
        .await
        .map_err(|e| api_err("RegisterTaskDefinition", e))?
        .context("RegisterTaskDefinition answered without an ARN")?;
    done.insert(key, arn.clone());
    Ok(arn)
}

/// UpdateService, returning the id of the PRIMARY deployment it created.
pub(super) async fn start_deployment(ecs: &Ecs, update: &ServiceUpdate) -> Result<String> {
    let updated = ecs
        .update_service(update)
        .await
        .map_err(|e| api_err("UpdateService", e))?;
    updated
        .primary()
        .map(|d| d.id.clone())
        .context("UpdateService answered without a PRIMARY deployment")
}

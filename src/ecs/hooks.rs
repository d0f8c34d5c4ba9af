//! `stevedore continue` and `stevedore rollback`: act on a blue/green, linear or canary
//! deployment from a later step or job (a manual approval, a check that ran elsewhere).

use crate::aws::json::Client;
use crate::cli::HookArgs;
use crate::config::Settings;
use crate::ecs::api::Ecs;
use crate::error::usage;
use anyhow::Result;

/// Continue the waiting pause hook, or (`rollback`) answer it ROLLBACK, or stop the deployment
/// with a rollback when no hook waits.
pub async fn run(settings: &Settings, args: HookArgs, rollback: bool) -> Result<()> {
    let region = settings.require_region()?.to_string();
    let credentials = crate::auth::credentials(&region, None).await?;
    let ecs = Ecs::new(Client::ecs(&region, credentials)?);
    let err = |op: &str, e: crate::aws::json::CallError| e.into_anyhow(format!("ECS {op}"));
    let arn = match &args.service_deployment {
        Some(a) => a.clone(),
        None => ecs
            .newest_service_deployment(&args.cluster, &args.service, &["PENDING", "IN_PROGRESS"])
            .await
            .map_err(|e| err("ListServiceDeployments", e))?
            .ok_or_else(|| {
                usage!(
                    "service {} in {} has no deployment in progress: nothing to {}",
                    args.service,
                    args.cluster,
                    if rollback { "roll back" } else { "continue" }
                )
            })?,
    };
    let sd = ecs
        .describe_service_deployment(&arn)
        .await
        .map_err(|e| err("DescribeServiceDeployments", e))?
        .ok_or_else(|| usage!("--service-deployment: {arn} not found"))?;
    let stage = sd.lifecycle_stage.as_deref().unwrap_or("?");
    match (sd.awaiting(), rollback) {
        (Some(h), _) => {
            let action = if rollback { "ROLLBACK" } else { "CONTINUE" };
            ecs.continue_service_deployment(&arn, &h.hook_id, action)
                .await
                .map_err(|e| err("ContinueServiceDeployment", e))?;
            println!("{}: answered the pause hook in {stage} {action} ({arn})", args.service);
        }
        (None, true) => {
            ecs.stop_service_deployment(&arn)
                .await
                .map_err(|e| err("StopServiceDeployment", e))?;
            println!("{}: stopped service deployment {arn} in {stage} with a rollback", args.service);
        }
        (None, false) => {
            return Err(usage!(
                "service {}'s deployment {arn} is {} in {stage} and waits at no pause hook: nothing to continue",
                args.service,
                sd.status
            ))
        }
    }
    Ok(())
}

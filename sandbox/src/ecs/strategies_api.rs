//! The API of ECS's own blue/green, linear and canary deployments: the strategy settings
//! checked as UpdateService and CreateService check them, ContinueServiceDeployment,
//! StopServiceDeployment, and the hooks as DescribeServiceDeployments shows them.

use super::model::*;
use super::strategies::{Native, HOOK_STAGES, NATIVE};
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

/// Check a deploymentConfiguration's strategy fields as ECS does (ranges and enums from the
/// API reference), and that a native strategy has what it needs from the load balancers.
pub fn validate(config: &Value, load_balancers: &Value) -> Result<(), AwsError> {
    let bad = |m: String| Err(AwsError::invalid_parameter(m));
    let strategy = config["strategy"].as_str().unwrap_or("ROLLING");
    if strategy != "ROLLING" && !NATIVE.contains(&strategy) {
        return bad(format!("Invalid deployment strategy: {strategy}. Valid values are ROLLING, BLUE_GREEN, LINEAR and CANARY."));
    }
    let int = |k: &str| config.get(k).and_then(Value::as_i64);
    if int("bakeTimeInMinutes").is_some_and(|b| !(0..=1440).contains(&b)) {
        return bad("bakeTimeInMinutes must be between 0 and 1440.".into());
    }
    let pct = |p: &str| config.pointer(p).and_then(Value::as_f64);
    if pct("/linearConfiguration/stepPercent").is_some_and(|p| !(3.0..=100.0).contains(&p)) {
        return bad("linearConfiguration.stepPercent must be between 3.0 and 100.0.".into());
    }
    if pct("/canaryConfiguration/canaryPercent").is_some_and(|p| !(0.1..=100.0).contains(&p)) {
        return bad("canaryConfiguration.canaryPercent must be between 0.1 and 100.0.".into());
    }
    for p in [
        "/linearConfiguration/stepBakeTimeInMinutes",
        "/canaryConfiguration/canaryBakeTimeInMinutes",
    ] {
        if config
            .pointer(p)
            .and_then(Value::as_i64)
            .is_some_and(|b| !(0..=1440).contains(&b))
        {
            return bad(format!(
                "{} must be between 0 and 1440.",
                &p[1..].replace('/', ".")
            ));
        }
    }
    for h in config["lifecycleHooks"].as_array().into_iter().flatten() {
        let kind = h["targetType"].as_str().unwrap_or("AWS_LAMBDA");
        if kind != "AWS_LAMBDA" && kind != "PAUSE" {
            return bad(format!("Invalid lifecycle hook targetType: {kind}."));
        }
        if kind == "AWS_LAMBDA" && opt_str(h, "hookTargetArn").is_none() {
            return bad("hookTargetArn is required for an AWS_LAMBDA lifecycle hook.".into());
        }
        let stages = h["lifecycleStages"].as_array().cloned().unwrap_or_default();
        if stages.is_empty() {
            return bad("A lifecycle hook needs at least one lifecycle stage.".into());
        }
        if let Some(s) = stages
            .iter()
            .find(|s| !s.as_str().is_some_and(|s| HOOK_STAGES.contains(&s)))
        {
            return bad(format!("Invalid lifecycle stage: {s}."));
        }
        if h.pointer("/timeoutConfiguration/timeoutInMinutes")
            .and_then(Value::as_i64)
            .is_some_and(|m| !(1..=20160).contains(&m))
        {
            return bad(
                "timeoutConfiguration.timeoutInMinutes must be between 1 and 20160.".into(),
            );
        }
    }
    if NATIVE.contains(&strategy) {
        for lb in load_balancers.as_array().into_iter().flatten() {
            let adv = &lb["advancedConfiguration"];
            if adv["alternateTargetGroupArn"].as_str().is_none()
                || adv["productionListenerRule"].as_str().is_none()
            {
                return bad(format!("The {strategy} deployment strategy requires advancedConfiguration with alternateTargetGroupArn and productionListenerRule for each load balancer."));
            }
        }
    }
    Ok(())
}

/// ECS.ContinueServiceDeployment: act on a pause hook that awaits action.
pub fn continue_deployment(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let arn = opt_str(body, "serviceDeploymentArn")
        .ok_or_else(|| AwsError::invalid_parameter("serviceDeploymentArn is required"))?;
    let hook_id =
        opt_str(body, "hookId").ok_or_else(|| AwsError::invalid_parameter("hookId is required"))?;
    let action = opt_str(body, "action").unwrap_or("CONTINUE");
    if action != "CONTINUE" && action != "ROLLBACK" {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid action: {action}. Valid values are ROLLBACK and CONTINUE."
        )));
    }
    let n = find_native(st, arn)?;
    if n.status != "IN_PROGRESS" {
        return Err(AwsError::invalid_parameter(format!(
            "The service deployment is {}; only an IN_PROGRESS deployment can be continued.",
            n.status
        )));
    }
    let h = n
        .hooks
        .iter_mut()
        .find(|h| h.hook_id == hook_id && h.target_type == "PAUSE" && h.status == "AWAITING_ACTION")
        .ok_or_else(|| {
            AwsError::invalid_parameter(format!(
                "No pause hook {hook_id} is awaiting action in this service deployment."
            ))
        })?;
    if action == "CONTINUE" {
        h.status = "SUCCEEDED".into();
    } else {
        h.status = "FAILED".into();
        let stage = n.stage_name();
        n.fail(
            format!("ContinueServiceDeployment requested a rollback at the pause hook in {stage}."),
            ctx.now,
        );
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}

/// ECS.StopServiceDeployment (ROLLBACK by default, or ABORT).
pub fn stop_deployment(st: &mut EcsState, ctx: &Ctx, body: &Value) -> OpResult {
    let arn = opt_str(body, "serviceDeploymentArn")
        .ok_or_else(|| AwsError::invalid_parameter("serviceDeploymentArn is required"))?;
    let stop = opt_str(body, "stopType").unwrap_or("ROLLBACK");
    if stop != "ROLLBACK" && stop != "ABORT" {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid stopType: {stop}. Valid values are ABORT and ROLLBACK."
        )));
    }
    let n = find_native(st, arn)?;
    if !matches!(n.status.as_str(), "PENDING" | "IN_PROGRESS") {
        return Err(AwsError::client(
            "ConflictException",
            format!(
                "The service deployment is {} and cannot be stopped.",
                n.status
            ),
        ));
    }
    n.abort = stop == "ABORT";
    n.fail(
        "Service deployment stopped by a StopServiceDeployment request.".into(),
        ctx.now,
    );
    if n.abort {
        n.status = "STOP_REQUESTED".into();
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}

/// The native deployment a service deployment ARN names. Rolling deployments cannot be
/// continued or stopped in the sandbox: that is said, not pretended.
fn find_native<'a>(st: &'a mut EcsState, arn: &str) -> Result<&'a mut Native, AwsError> {
    let not_found = || {
        AwsError::client(
            "ServiceDeploymentNotFoundException",
            "The service deployment does not exist.",
        )
    };
    let d = st
        .services
        .values_mut()
        .flat_map(|s| s.deployments.iter_mut())
        .find(|d| arn.ends_with(&format!("/{}", d.sd_id)))
        .ok_or_else(not_found)?;
    d.native.as_mut().ok_or_else(|| {
        AwsError::client("UnsupportedFeatureException", "The sandbox continues and stops only BLUE_GREEN, LINEAR and CANARY service deployments.")
    })
}

/// `lifecycleHookDetails` of a service deployment.
pub fn hook_details(n: &Native) -> Value {
    Value::Array(
        n.hooks
            .iter()
            .map(|h| {
                let mut v = json!({"hookId": h.hook_id, "targetType": h.target_type, "status": h.status, "expiresAt": h.expires_at, "timeoutAction": h.timeout_action});
                if let Some(a) = &h.target_arn {
                    v["targetArn"] = json!(a);
                }
                v
            })
            .collect(),
    )
}

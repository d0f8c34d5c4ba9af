//! `--strategy`, `--bake-time`, the linear and canary steps and `--alarms`: the deployment
//! configuration a deploy sets, checked before anything is registered, and what the service
//! must have for it (an alternate target group for blue/green, a pause hook for `--verify`).

use crate::cli::DeployArgs;
use crate::ecs::api::{Alarms, DeploymentConfiguration, Service};
use crate::ecs::stages::NATIVE;
use crate::error::usage;
use crate::values::Strategy;
use anyhow::Result;
use serde_json::json;
use std::time::Duration;

/// The strategy settings a deploy changes; every field `None` changes nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StrategyChange {
    pub strategy: Option<&'static str>,
    pub bake_minutes: Option<i64>,
    pub linear_step: Option<f64>,
    pub canary_percent: Option<f64>,
    pub step_minutes: Option<i64>,
    pub alarms: Option<Vec<String>>,
}

/// Whole minutes of a duration flag, within 0 to 1440 as ECS takes them.
fn minutes(flag: &str, d: Duration) -> Result<i64> {
    let s = d.as_secs();
    if s % 60 != 0 || s > 1440 * 60 {
        return Err(usage!(
            "{flag}: {} is not whole minutes from 0 to 24h (ECS counts bake times in minutes, at most 1440)",
            crate::validate::human_duration(d)
        ));
    }
    Ok((s / 60) as i64)
}

/// A percentage flag within `lo`..=100 in steps of 0.1, as ECS takes it.
fn percent(flag: &str, p: f64, lo: f64) -> Result<f64> {
    let tenths = (p * 10.0).round();
    if !(lo..=100.0).contains(&p) || (tenths - p * 10.0).abs() > 1e-6 {
        return Err(usage!(
            "{flag}: {p} is not a percentage from {lo} to 100 in steps of 0.1"
        ));
    }
    Ok(tenths / 10.0)
}

impl StrategyChange {
    /// Read and check the flags.
    pub fn from_args(a: &DeployArgs) -> Result<Self> {
        let alarms: Vec<String> = a
            .alarms
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let c = StrategyChange {
            strategy: a.strategy.map(Strategy::as_ecs),
            bake_minutes: a.bake_time.map(|d| minutes("--bake-time", d)).transpose()?,
            linear_step: a
                .linear_step
                .map(|p| percent("--linear-step", p, 3.0))
                .transpose()?,
            canary_percent: a
                .canary_percent
                .map(|p| percent("--canary-percent", p, 0.1))
                .transpose()?,
            step_minutes: a
                .step_bake_time
                .map(|d| minutes("--step-bake-time", d))
                .transpose()?,
            alarms: (!alarms.is_empty()).then_some(alarms),
        };
        let named = |s: &str| c.strategy == Some(s);
        if c.linear_step.is_some() && c.strategy.is_some() && !named("LINEAR") {
            return Err(usage!("--linear-step is for --strategy linear"));
        }
        if c.canary_percent.is_some() && c.strategy.is_some() && !named("CANARY") {
            return Err(usage!("--canary-percent is for --strategy canary"));
        }
        if c.linear_step.is_some() && c.canary_percent.is_some() {
            return Err(usage!(
                "--linear-step and --canary-percent belong to different strategies: give one"
            ));
        }
        Ok(c)
    }

    /// Whether any strategy setting was given.
    pub fn any(&self) -> bool {
        self != &StrategyChange::default()
    }

    /// The strategy the service will deploy with: the one set here, else the service's own.
    pub fn effective(&self, svc: &Service) -> String {
        self.strategy
            .map(String::from)
            .or_else(|| {
                svc.deployment_configuration
                    .as_ref()
                    .and_then(|c| c.strategy.clone())
            })
            .unwrap_or_else(|| "ROLLING".into())
    }

    /// Check the change against the service as described: a native strategy needs each load
    /// balancer's alternate target group, step settings need their strategy, and `--verify`
    /// on a native strategy needs a pause hook to act on. One line naming the fix.
    pub fn check(&self, svc: &Service, verify: bool, check_url: bool) -> Result<()> {
        if svc.controller() == "EXTERNAL" {
            return Err(usage!("service {} uses the EXTERNAL deployment controller: its task sets are managed by the tool that created them (CreateTaskSet, UpdateServicePrimaryTaskSet), not by UpdateService; deploy it with that tool, or use the ECS controller", svc.service_name));
        }
        let strategy = self.effective(svc);
        let native = NATIVE.contains(&strategy.as_str());
        if native {
            super::check::rolling_only(check_url, &svc.service_name, &strategy)?;
            if let Some(lb) = svc.load_balancers.iter().find(|lb| {
                lb.pointer("/advancedConfiguration/alternateTargetGroupArn")
                    .is_none()
            }) {
                return Err(usage!("--strategy: {strategy} needs an alternate target group on every load balancer, and the service's {} has none: set loadBalancers[].advancedConfiguration (alternateTargetGroupArn, productionListenerRule, roleArn) first, or keep --strategy rolling",
                    lb["targetGroupArn"].as_str().unwrap_or("load balancer")));
            }
        }
        if self.linear_step.is_some() && strategy != "LINEAR" {
            return Err(usage!(
                "--linear-step: the service deploys with {strategy}; add --strategy linear"
            ));
        }
        if self.canary_percent.is_some() && strategy != "CANARY" {
            return Err(usage!(
                "--canary-percent: the service deploys with {strategy}; add --strategy canary"
            ));
        }
        if self.step_minutes.is_some() && strategy != "LINEAR" && strategy != "CANARY" {
            return Err(usage!("--step-bake-time is for the linear and canary strategies; the service deploys with {strategy}"));
        }
        if self.bake_minutes.is_some() && !native {
            return Err(usage!("--bake-time is for the blue-green, linear and canary strategies; the service deploys with {strategy}: add --strategy"));
        }
        if verify && native && !has_pause_hook(svc) {
            return Err(usage!("--verify: the service deploys with {strategy} and has no PAUSE lifecycle hook for the check to act on: add one to deploymentConfiguration.lifecycleHooks (e.g. at POST_TEST_TRAFFIC_SHIFT), or deploy with --strategy rolling"));
        }
        Ok(())
    }

    /// Fill the deployment configuration UpdateService sends with what changes.
    pub fn apply(&self, c: &mut DeploymentConfiguration) {
        if let Some(s) = self.strategy {
            c.strategy = Some(s.into());
        }
        if let Some(b) = self.bake_minutes {
            c.bake_time_in_minutes = Some(b);
        }
        let step = self.step_minutes;
        if self.linear_step.is_some() || (step.is_some() && self.strategy == Some("LINEAR")) {
            let mut v = json!({});
            if let Some(p) = self.linear_step {
                v["stepPercent"] = json!(p);
            }
            if let Some(m) = step {
                v["stepBakeTimeInMinutes"] = json!(m);
            }
            c.linear_configuration = Some(v);
        }
        if self.canary_percent.is_some() || (step.is_some() && self.strategy == Some("CANARY")) {
            let mut v = json!({});
            if let Some(p) = self.canary_percent {
                v["canaryPercent"] = json!(p);
            }
            if let Some(m) = step {
                v["canaryBakeTimeInMinutes"] = json!(m);
            }
            c.canary_configuration = Some(v);
        }
        if let Some(names) = &self.alarms {
            c.alarms = Some(Alarms {
                alarm_names: names.clone(),
                enable: true,
                rollback: true,
            });
        }
    }

    /// The lines a dry run prints for what changes in the service's configuration.
    pub fn diff(&self, svc: &Service) -> Vec<String> {
        let have = svc.deployment_configuration.clone().unwrap_or_default();
        let mut want = have.clone();
        self.apply(&mut want);
        let mut out = vec![];
        let mut line = |k: &str, a: serde_json::Value, b: serde_json::Value| {
            if a != b {
                out.push(format!("~ deploymentConfiguration.{k}: {a} -> {b}"));
            }
        };
        line(
            "strategy",
            json!(have.strategy.as_deref().unwrap_or("ROLLING")),
            json!(want.strategy.as_deref().unwrap_or("ROLLING")),
        );
        line(
            "bakeTimeInMinutes",
            json!(have.bake_time_in_minutes),
            json!(want.bake_time_in_minutes),
        );
        line(
            "linearConfiguration",
            json!(have.linear_configuration),
            json!(want.linear_configuration),
        );
        line(
            "canaryConfiguration",
            json!(have.canary_configuration),
            json!(want.canary_configuration),
        );
        line("alarms", json!(have.alarms), json!(want.alarms));
        out
    }
}

/// Whether the service's deployment configuration has a PAUSE lifecycle hook.
pub fn has_pause_hook(svc: &Service) -> bool {
    svc.deployment_configuration.as_ref().is_some_and(|c| {
        c.lifecycle_hooks
            .iter()
            .any(|h| h["targetType"].as_str() == Some("PAUSE"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn flags_are_checked_against_ecs_ranges() {
        assert!(minutes("--bake-time", Duration::from_secs(90)).is_err());
        assert!(minutes("--bake-time", Duration::from_secs(1441 * 60)).is_err());
        assert_eq!(
            minutes("--bake-time", Duration::from_secs(600)).unwrap(),
            10
        );
        assert!(percent("--linear-step", 2.0, 3.0).is_err());
        assert!(percent("--canary-percent", 0.05, 0.1).is_err());
        assert!(percent("--canary-percent", 5.55, 0.1).is_err());
        assert_eq!(percent("--canary-percent", 12.5, 0.1).unwrap(), 12.5);
    }

    #[test]
    fn what_the_service_lacks_is_named_with_the_fix() {
        let lb = json!({"targetGroupArn": "arn:aws:elasticloadbalancing:r:1:targetgroup/blue/1", "containerName": "web", "containerPort": 80});
        let plain = svc(json!({"loadBalancers": [lb]}));
        let bg = StrategyChange {
            strategy: Some("BLUE_GREEN"),
            ..Default::default()
        };
        let e = bg.check(&plain, false, false).unwrap_err().to_string();
        assert!(
            e.contains("alternate target group") && e.contains("targetgroup/blue/1"),
            "{e}"
        );
        let mut adv = lb.clone();
        adv["advancedConfiguration"] =
            json!({"alternateTargetGroupArn": "arn:green", "productionListenerRule": "arn:rule"});
        let ready = svc(json!({"loadBalancers": [adv]}));
        bg.check(&ready, false, false).unwrap();
        let e = bg.check(&ready, true, false).unwrap_err().to_string();
        assert!(e.contains("no PAUSE lifecycle hook"), "{e}");
        let paused = svc(
            json!({"loadBalancers": [adv], "deploymentConfiguration": {"strategy": "BLUE_GREEN",
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}}),
        );
        StrategyChange::default()
            .check(&paused, true, false)
            .unwrap();
        // --check-url runs after a rolling rollout only: refused, never skipped.
        let e = StrategyChange::default()
            .check(&paused, true, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("deploys BLUE_GREEN: check the new revision at its pause hook"),
            "{e}"
        );
        // The rolling strategy's --verify runs after the rollout: no hook needed.
        StrategyChange::default()
            .check(&plain, true, false)
            .unwrap();
        let bake = StrategyChange {
            bake_minutes: Some(5),
            ..Default::default()
        };
        assert!(bake
            .check(&plain, false, false)
            .unwrap_err()
            .to_string()
            .contains("--bake-time"));
    }

    #[test]
    fn other_deployment_controllers_are_refused_with_what_to_use() {
        let none = StrategyChange::default();
        let e = none
            .check(
                &svc(json!({"serviceName": "web", "deploymentController": {"type": "EXTERNAL"}})),
                false,
                false,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("EXTERNAL") && e.contains("CreateTaskSet"), "{e}");
        none.check(
            &svc(json!({"deploymentController": {"type": "ECS"}})),
            false,
            false,
        )
        .unwrap();
    }

    #[test]
    fn the_configuration_sent_and_the_dry_run_lines() {
        let c = StrategyChange {
            strategy: Some("CANARY"),
            canary_percent: Some(10.0),
            step_minutes: Some(2),
            bake_minutes: Some(15),
            alarms: Some(vec!["errors".into()]),
            ..Default::default()
        };
        let mut d = DeploymentConfiguration::default();
        c.apply(&mut d);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"strategy": "CANARY", "bakeTimeInMinutes": 15, "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
                "alarms": {"alarmNames": ["errors"], "enable": true, "rollback": true}})
        );
        let lines = c.diff(&svc(json!({})));
        assert_eq!(
            lines[0],
            "~ deploymentConfiguration.strategy: \"ROLLING\" -> \"CANARY\""
        );
        assert_eq!(lines.len(), 4, "{lines:?}");
    }
}

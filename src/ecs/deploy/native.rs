//! Following ECS's own blue/green, linear and canary deployments by their service deployment
//! (DescribeServiceDeployments, once per poll): each stage as it begins and ends, traffic as it
//! shifts, hooks as they change; `--verify` at a pause hook, answered with
//! ContinueServiceDeployment; the verdict at ECS's decision.

use super::calls::api_err;
use super::follow::report_stopped;
use super::outcome::DeployResult;
use super::plan::say;
use super::plan::Plan;
use super::poller::{self, Controller, Judged};
use super::verify;
use crate::aws::json::CallError;
use crate::ecs::api::{Deployment, Ecs};
use crate::ecs::record::Rollback;
use crate::ecs::stages::{self, ServiceDeployment, StageWatch, Verdict};
use crate::ecs::wait::Watch;
use crate::values::WaitUntil;
use anyhow::Result;
use std::collections::HashSet;
use std::time::Instant;

/// The deployment being followed and what the deploy knows of it.
pub(super) struct Followed<'a> {
    pub service: &'a str,
    /// The ECS deployment id UpdateService answered (tasks are started by it).
    pub id: &'a str,
    pub target: &'a str,
    pub previous: &'a str,
    /// The test listener rule, for `--verify` at a pause hook.
    pub test_listener_rule: Option<String>,
    /// The service's load balancers (their container port is where the green tasks answer).
    pub load_balancers: Vec<serde_json::Value>,
}

impl<'a> Followed<'a> {
    pub fn new(
        service: &'a str,
        id: &'a str,
        target: &'a str,
        previous: &'a str,
        svc: &crate::ecs::api::Service,
    ) -> Self {
        Followed {
            service,
            id,
            target,
            previous,
            load_balancers: svc.load_balancers.clone(),
            test_listener_rule: svc.load_balancers.iter().find_map(|lb| {
                lb.pointer("/advancedConfiguration/testListenerRule")
                    .and_then(serde_json::Value::as_str)
                    .map(String::from)
            }),
        }
    }
}

/// A short `family:revision`.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Find the service deployment UpdateService started (the service's newest) and follow it.
/// The result, and the service deployment's ARN when one was found.
pub(super) async fn follow_native(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<(DeployResult, Option<String>)> {
    let arn = loop {
        match ecs
            .newest_service_deployment(&plan.cluster, f.service, &[])
            .await
        {
            Ok(Some(arn)) => break arn,
            Ok(None) => {}
            Err(e) if e.is_deadline() => return Ok((DeployResult::TimedOut, None)),
            Err(e) => return Err(api_err("ListServiceDeployments", e)),
        }
        if Instant::now() >= deadline {
            return Ok((DeployResult::TimedOut, None));
        }
        tokio::time::sleep(plan.poll).await;
    };
    say(
        plan,
        f.service,
        &format!("following service deployment {arn}"),
    );
    let r = follow_through(ecs, plan, f, &arn, deadline, watch).await?;
    Ok((r, Some(arn)))
}

/// A service deployment of ECS's native strategies, as the poller follows it.
struct Native<'a> {
    ecs: &'a Ecs,
    plan: &'a Plan,
    f: &'a Followed<'a>,
    arn: &'a str,
    since: Instant,
    stages: StageWatch,
    acted: HashSet<String>,
    failures_seen: i64,
    /// A `--verify` failure at a pause hook: the reason of the rollback it asked for.
    verify_failure: Option<String>,
    /// Follow ECS's rollback to its end rather than to the deployment's verdict.
    until_rolled_back: bool,
}

impl<'a> Native<'a> {
    fn new(ecs: &'a Ecs, plan: &'a Plan, f: &'a Followed<'a>, arn: &'a str) -> Self {
        Native {
            ecs,
            plan,
            f,
            arn,
            since: Instant::now(),
            stages: StageWatch::default(),
            acted: HashSet::new(),
            failures_seen: 0,
            verify_failure: None,
            until_rolled_back: false,
        }
    }

    /// The deployment's verdict, or where its rollback ended once that is followed.
    fn decide(&mut self, sd: &ServiceDeployment) -> Option<DeployResult> {
        if self.until_rolled_back {
            return match sd.status.as_str() {
                "ROLLBACK_SUCCESSFUL" => Some(DeployResult::Deployed),
                "ROLLBACK_FAILED" | "STOPPED" => Some(DeployResult::Failed(
                    sd.status_reason
                        .clone()
                        .unwrap_or_else(|| sd.status.clone()),
                )),
                _ => None,
            };
        }
        let traffic_shifted = self.plan.wait_until == WaitUntil::TrafficShifted;
        match stages::assess(sd, traffic_shifted) {
            Verdict::Deployed => {
                if sd.status != "SUCCESSFUL" {
                    let at = sd.lifecycle_stage.as_deref().unwrap_or("the deployment");
                    let line = format!(
                        "production traffic is on {}; ECS finishes {at} on its own",
                        short(self.f.target)
                    );
                    say(self.plan, self.f.service, &line);
                }
                Some(DeployResult::Deployed)
            }
            Verdict::RolledBack(why) => Some(DeployResult::RolledBack(
                self.verify_failure.take().unwrap_or(why),
            )),
            Verdict::Failed(why) => Some(DeployResult::Failed(why)),
            Verdict::InProgress => None,
        }
    }
}

impl Controller for Native<'_> {
    type State = Option<ServiceDeployment>;
    const SERVICE: &'static str = "ECS";
    const READ: &'static str = "DescribeServiceDeployments";

    async fn read(&mut self) -> Result<Self::State, CallError> {
        self.ecs.describe_service_deployment(self.arn).await
    }

    async fn judge(&mut self, sd: Self::State, watch: &mut Watch) -> Result<Judged> {
        let (plan, f) = (self.plan, self.f);
        let Some(sd) = sd else {
            let why = format!("the service deployment {} vanished", self.arn);
            return Ok(Judged::Decided(DeployResult::Failed(why)));
        };
        let lines = self.stages.observe(&sd, self.since.elapsed().as_secs_f64());
        for l in &lines {
            say(plan, f.service, l);
            watch.record.event(l);
        }
        for (stage, _) in self.stages.began.drain(..) {
            watch.record.stage(&stage);
        }
        watch.record.sample(&revisions(&sd, f));
        let failed = sd
            .deployment_circuit_breaker
            .as_ref()
            .map_or(0, |b| b.failure_count);
        let decided = self.decide(&sd);
        if failed > self.failures_seen
            || matches!(
                decided,
                Some(DeployResult::RolledBack(_) | DeployResult::Failed(_))
            )
        {
            self.failures_seen = failed;
            report_stopped(self.ecs, plan, f.service, f.id, watch).await;
        }
        if let Some(r) = decided {
            return Ok(Judged::Decided(r));
        }
        let mut said = !lines.is_empty();
        if let Some(h) = sd
            .awaiting()
            .filter(|h| !self.acted.contains(&h.hook_id))
            .cloned()
        {
            self.acted.insert(h.hook_id.clone());
            match at_pause(self.ecs, plan, f, &sd, &h).await? {
                Some(DeployResult::TimedOut) => return Ok(Judged::Decided(DeployResult::TimedOut)),
                Some(DeployResult::Failed(why)) => self.verify_failure = Some(why),
                _ => {}
            }
            said = true;
        }
        Ok(Judged::Going { said })
    }

    fn heartbeat(&self, so_far: &str) -> String {
        let at = self.stages.stage().unwrap_or("its first stage");
        let what = if self.until_rolled_back {
            "ECS's rollback"
        } else {
            "service deployment"
        };
        format!("still following {what} ({at}, {so_far} so far)")
    }
}

/// Follow the service deployment `arn` to its verdict and, when ECS rolls it back, that
/// rollback to its end (unless `--rollback-wait none`), within `deadline`: the result's last
/// words say whether the previous revision runs again.
pub(super) async fn follow_through(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    arn: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let mut native = Native::new(ecs, plan, f, arn);
    let why = match poller::follow(&mut native, plan, f.service, deadline, watch).await? {
        DeployResult::RolledBack(why) => why,
        other => return Ok(other),
    };
    let to = short(f.previous).to_string();
    let outcome = if plan.follow_rollback {
        say(
            plan,
            f.service,
            &format!("following ECS's rollback to {to}"),
        );
        native.until_rolled_back = true;
        let began = Instant::now();
        let ended = poller::follow(&mut native, plan, f.service, deadline, watch).await?;
        let counts = match ecs.describe_service_deployment(arn).await {
            Ok(Some(sd)) => sd
                .source_service_revisions
                .first()
                .map_or((0, 0), |r| (r.running_task_count, r.requested_task_count)),
            _ => (0, 0),
        };
        super::outcome::rollback_ending(ended, to, counts, began.elapsed().as_secs())
    } else {
        Rollback::NotFollowed { to }
    };
    Ok(super::outcome::after_rollback(
        &why,
        outcome,
        &mut watch.record,
    ))
}

/// A pause hook awaits action: run `--verify` and answer it, or say how to act on it later.
/// How the check ended (`None` without one).
async fn at_pause(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    sd: &ServiceDeployment,
    h: &stages::HookDetail,
) -> Result<Option<DeployResult>> {
    if let Some(cmd) = &plan.verify {
        return Ok(Some(at_pause_hook(ecs, plan, f, sd, h, cmd).await?));
    }
    let until = h
        .expires_at
        .map(|t| crate::auth::oidc::fmt_unix(t as u64))
        .unwrap_or_else(|| "its timeout".into());
    say(plan, f.service, &format!(
        "the deployment waits at its pause hook in {} until {until} (then {}): `stevedore continue --cluster {} --service {}` lets it go on, `stevedore rollback` rolls it back",
        sd.lifecycle_stage.as_deref().unwrap_or("?"), h.timeout_action.as_deref().unwrap_or("ROLLBACK"), plan.cluster, f.service));
    Ok(None)
}

/// The revisions as the report's samples: the new one (by the deployment id) and the old one.
fn revisions(sd: &ServiceDeployment, f: &Followed<'_>) -> Vec<Deployment> {
    let as_deployment = |r: &stages::Revision, id: &str, td: &str| Deployment {
        id: id.into(),
        status: String::new(),
        task_definition: td.into(),
        desired_count: r.requested_task_count,
        running_count: r.running_task_count,
        pending_count: r.pending_task_count,
        failed_tasks: 0,
        rollout_state: None,
        rollout_state_reason: None,
    };
    let mut out: Vec<Deployment> = sd
        .target_service_revision
        .iter()
        .map(|r| as_deployment(r, f.id, f.target))
        .collect();
    // The old revision by its service revision's id (the report labels series by their ids).
    out.extend(sd.source_service_revisions.iter().map(|r| {
        as_deployment(
            r,
            r.arn.rsplit('/').next().unwrap_or("previous"),
            f.previous,
        )
    }));
    out
}

/// `--verify` at a pause hook: run CMD, then answer the hook CONTINUE (CMD exited 0) or
/// ROLLBACK. How CMD ended.
async fn at_pause_hook(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    sd: &ServiceDeployment,
    h: &stages::HookDetail,
    cmd: &str,
) -> Result<DeployResult> {
    let stage = sd.lifecycle_stage.clone().unwrap_or_default();
    say(
        plan,
        f.service,
        &format!("the deployment waits at its pause hook in {stage}: verifying before it goes on"),
    );
    let subject = verify::Subject {
        cluster: &plan.cluster,
        service: f.service,
        region: &plan.region,
        task_definition: f.target,
        previous_task_definition: f.previous,
        deployment_id: f.id,
    };
    // Where the green tasks answer, as a rolling deployment's check is told.
    let found = verify::addresses_of(ecs, plan, &subject, &f.load_balancers).await;
    let mut extra = vec![
        (
            "STEVEDORE_VERIFY_SERVICE_DEPLOYMENT_ARN",
            sd.service_deployment_arn.clone(),
        ),
        ("STEVEDORE_VERIFY_HOOK_ID", h.hook_id.clone()),
        ("STEVEDORE_VERIFY_STAGE", stage.clone()),
        (
            "STEVEDORE_VERIFY_TEST_LISTENER_RULE",
            f.test_listener_rule.clone().unwrap_or_default(),
        ),
    ];
    extra.extend(found.vars());
    let result = verify::run(plan, cmd, &subject, &extra).await?;
    let action = match result {
        DeployResult::Deployed => "CONTINUE",
        DeployResult::TimedOut => return Ok(result),
        _ => "ROLLBACK",
    };
    ecs.continue_service_deployment(&sd.service_deployment_arn, &h.hook_id, action)
        .await
        .map_err(|e| api_err("ContinueServiceDeployment", e))?;
    say(
        plan,
        f.service,
        &format!("answered the pause hook {action}"),
    );
    Ok(result)
}

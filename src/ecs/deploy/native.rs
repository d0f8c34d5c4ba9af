//! Following ECS's own blue/green, linear and canary deployments by their service deployment
//! (DescribeServiceDeployments, once per poll): each stage as it begins and ends, traffic as it
//! shifts, hooks as they change; `--verify` at a pause hook, answered with
//! ContinueServiceDeployment; the verdict at ECS's decision.

use super::follow::report_stopped;
use super::plan::Plan;
use super::service::api_err;
use super::verify;
use super::{say, DeployResult};
use crate::aws::json::{ApiError, CallError};
use crate::cli::WaitUntil;
use crate::ecs::api::{Deployment, Ecs};
use crate::ecs::stages::{self, ServiceDeployment, StageWatch, Verdict};
use crate::ecs::wait::{Heartbeat, Watch};
use anyhow::Result;
use std::collections::HashSet;
use std::time::{Duration, Instant};

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
    let r = follow_arn(ecs, plan, f, &arn, deadline, watch).await?;
    Ok((r, Some(arn)))
}

/// Poll the service deployment `arn` until it is decided (or its own deadline passes).
pub(super) async fn follow_arn(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    arn: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let polling = polls(ecs, plan, f, arn, deadline, watch);
    crate::aws::deadline::bounded(deadline, polling, || Ok(DeployResult::TimedOut)).await
}

async fn polls(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    arn: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let since = Instant::now();
    let mut heartbeat = Heartbeat::new(since, crate::ecs::HEARTBEAT);
    let mut stage_watch = StageWatch::default();
    let mut interval = plan.poll;
    let mut acted: HashSet<String> = HashSet::new();
    let mut failures_seen = 0;
    let mut verify_failure: Option<String> = None;
    let mut unanswered = false;
    loop {
        let sd = match poll(ecs, plan, f, arn, &mut interval, &mut unanswered, deadline).await? {
            Poll::Got(sd) => sd,
            Poll::Again => continue,
            Poll::Done(r) => return Ok(r),
        };
        let now = since.elapsed().as_secs_f64();
        let lines = stage_watch.observe(&sd, now);
        for l in &lines {
            say(plan, f.service, l);
            watch.record.event(l);
        }
        for (stage, _) in stage_watch.began.drain(..) {
            watch.record.stage(&stage);
        }
        watch.record.sample(&revisions(&sd, f));
        if lines.is_empty() {
            if heartbeat.due(Instant::now()) {
                let at = stage_watch.stage().unwrap_or("its first stage");
                say(
                    plan,
                    f.service,
                    &format!(
                        "still following service deployment ({at}, {} so far)",
                        crate::validate::human_duration(Duration::from_secs(
                            since.elapsed().as_secs()
                        ))
                    ),
                );
            }
        } else {
            heartbeat.said(Instant::now());
        }
        let failed = sd
            .deployment_circuit_breaker
            .as_ref()
            .map_or(0, |b| b.failure_count);
        let verdict = stages::assess(&sd, plan.wait_until == WaitUntil::TrafficShifted);
        if failed > failures_seen || matches!(verdict, Verdict::RolledBack(_) | Verdict::Failed(_))
        {
            failures_seen = failed;
            report_stopped(ecs, plan, f.service, f.id, watch).await;
        }
        match verdict {
            Verdict::Deployed => {
                if sd.status != "SUCCESSFUL" {
                    say(
                        plan,
                        f.service,
                        &format!(
                            "production traffic is on {}; ECS finishes {} on its own",
                            short(f.target),
                            sd.lifecycle_stage.as_deref().unwrap_or("the deployment")
                        ),
                    );
                }
                return Ok(DeployResult::Deployed);
            }
            Verdict::RolledBack(why) => {
                let why = verify_failure.unwrap_or(why);
                return Ok(DeployResult::RolledBack(format!(
                    "{why} (ECS rolls back to {})",
                    short(f.previous)
                )));
            }
            Verdict::Failed(why) => return Ok(DeployResult::Failed(why)),
            Verdict::InProgress => {}
        }
        if let Some(h) = sd
            .awaiting()
            .filter(|h| !acted.contains(&h.hook_id))
            .cloned()
        {
            acted.insert(h.hook_id.clone());
            match at_pause(ecs, plan, f, &sd, &h).await? {
                Some(DeployResult::TimedOut) => return Ok(DeployResult::TimedOut),
                Some(DeployResult::Failed(why)) => verify_failure = Some(why),
                _ => {}
            }
            heartbeat.said(Instant::now());
        }
        if !pause(interval, deadline).await {
            return Ok(DeployResult::TimedOut);
        }
    }
}

/// One DescribeServiceDeployments answer, or what to do instead.
enum Poll {
    Got(Box<ServiceDeployment>),
    /// A transient failure or throttling, waited out: poll again.
    Again,
    Done(DeployResult),
}

/// Read the service deployment once. Transient failures (after the client's own retries) are
/// said once and waited out until the deadline; throttling slows the polls down.
async fn poll(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    arn: &str,
    interval: &mut Duration,
    unanswered: &mut bool,
    deadline: Instant,
) -> Result<Poll> {
    match ecs.describe_service_deployment(arn).await {
        Ok(Some(sd)) => {
            *interval = plan.poll;
            Ok(Poll::Got(Box::new(sd)))
        }
        Ok(None) => Ok(Poll::Done(DeployResult::Failed(format!(
            "the service deployment {arn} vanished"
        )))),
        Err(e) if e.is_deadline() => Ok(Poll::Done(DeployResult::TimedOut)),
        Err(e @ CallError::Transport(_))
        | Err(e @ CallError::Api(ApiError { status: 500.., .. })) => {
            if !*unanswered {
                *unanswered = true;
                say(plan, f.service, &format!("DescribeServiceDeployments failed ({e}); the deployment goes on in ECS, still following it until the deadline"));
            }
            Ok(if pause(*interval, deadline).await {
                Poll::Again
            } else {
                Poll::Done(DeployResult::TimedOut)
            })
        }
        Err(CallError::Api(e)) if e.is_throttling() => {
            *interval = (*interval * 2).min(Duration::from_secs(30));
            say(
                plan,
                f.service,
                &format!("throttled; polling every {} ms", interval.as_millis()),
            );
            pause(*interval, deadline).await;
            Ok(Poll::Again)
        }
        Err(e) => Err(api_err("DescribeServiceDeployments", e)),
    }
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

/// Sleep one jittered poll, but not past the deadline; false once it has passed.
pub(super) async fn pause(interval: Duration, deadline: Instant) -> bool {
    let d = super::follow::jittered(interval);
    tokio::time::sleep(
        d.min(deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10)),
    )
    .await;
    Instant::now() < deadline
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

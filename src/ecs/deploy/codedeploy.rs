//! Deploying a service with the CODE_DEPLOY deployment controller: the deployment group is
//! checked before anything is registered, the revision goes out as a CodeDeploy deployment with
//! an AppSpec built from the service, and the deployment is followed by its lifecycle events
//! to CodeDeploy's verdict. `--wait-until traffic-shifted` ends once production traffic is on
//! the replacement (the target reads Succeeded), leaving the original task set's termination
//! wait to CodeDeploy; `--verify` runs in that wait and stops the deployment with a rollback
//! when it fails; `--rollback` asks CodeDeploy to roll back on failure and stops a deployment
//! that has no verdict within `--timeout`.

use super::codedeploy_setup::Group;
use super::follow::report_stopped;
use super::native::pause;
use super::plan::Plan;
use super::verify;
use super::{say, DeployResult, Report};
use crate::aws::json::{ApiError, CallError};
use crate::cli::WaitUntil;
use crate::codedeploy::api::{CodeDeploy, NewDeployment};
use crate::codedeploy::appspec::AppSpec;
use crate::codedeploy::events::{self, DeploymentInfo, EcsTarget, EventWatch};
use crate::ecs::api::{Deployment, Ecs};
use crate::ecs::stages::Verdict;
use crate::ecs::wait::{Heartbeat, Watch};
use anyhow::Result;
use std::time::{Duration, Instant};

/// The deployment being followed.
struct Followed<'a> {
    service: &'a str,
    id: String,
    target: &'a str,
    previous: &'a str,
    test_listener: Option<String>,
}

/// Create the CodeDeploy deployment of `target` and follow it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn deploy(
    ecs: &Ecs,
    cd: &CodeDeploy,
    plan: &Plan,
    service: &str,
    g: &Group,
    target: &str,
    previous: &str,
    started: Instant,
    mut watch: Watch,
) -> Result<Report> {
    let spec = AppSpec {
        task_definition: target.into(),
        container: g.container.clone(),
        port: g.port,
        capacity_providers: plan.codedeploy.capacity_providers.clone(),
        hooks: plan.codedeploy.hooks.clone(),
    }
    .to_json();
    let short = |a: &str| a.rsplit('/').next().unwrap_or(a).to_string();
    let description = format!("stevedore deploy of {} to {service}", short(target));
    let id = cd
        .create_deployment(&NewDeployment {
            application: &g.application,
            group: &g.group,
            config: plan.codedeploy.config.as_deref(),
            appspec: &spec,
            description: &description,
            rollback: plan.rollback,
        })
        .await
        .map_err(|e| e.into_anyhow("CodeDeploy CreateDeployment".into()))?;
    say(
        plan,
        service,
        &format!(
            "created CodeDeploy deployment {id} of {} (application {}, deployment group {}, {})",
            short(target),
            g.application,
            g.group,
            g.config
        ),
    );
    let f = Followed {
        service,
        id,
        target,
        previous,
        test_listener: g.test_listener.clone(),
    };
    let report = |result, watch: &mut Watch, f: &Followed| Report {
        service: service.into(),
        task_definition: Some(target.into()),
        deployment_id: Some(f.id.clone()),
        result,
        seconds: started.elapsed().as_secs_f64(),
        record: std::mem::take(&mut watch.record),
    };
    if plan.wait_until == WaitUntil::None {
        return Ok(report(DeployResult::Started, &mut watch, &f));
    }
    let mut result = follow(ecs, cd, plan, &f, plan.deadline, &mut watch).await?;
    if let (true, DeployResult::TimedOut) = (plan.rollback, &result) {
        // The rollback gets a --timeout of its own, as for the other controllers.
        let deadline = Instant::now() + plan.timeout;
        say(
            plan,
            service,
            &format!(
                "stopping CodeDeploy deployment {} with a rollback (no verdict within {})",
                f.id,
                crate::validate::human_duration(plan.timeout)
            ),
        );
        let stopping = crate::aws::deadline::scope(deadline, cd.stop_deployment(&f.id, true));
        result = match stopping.await {
            Ok(()) => match follow(ecs, cd, plan, &f, deadline, &mut watch).await? {
                r @ DeployResult::RolledBack(_) => r,
                other => DeployResult::Failed(format!(
                    "no verdict within the timeout, and the rollback did not finish either ({})",
                    other.word()
                )),
            },
            Err(CallError::Api(e)) if e.code == "DeploymentAlreadyCompletedException" => {
                follow(ecs, cd, plan, &f, deadline, &mut watch).await?
            }
            Err(e) => return Err(e.into_anyhow("CodeDeploy StopDeployment".into())),
        };
    }
    Ok(report(result, &mut watch, &f))
}

/// Poll the deployment (GetDeployment and its ECS target) until it is decided, printing its
/// lifecycle events as they change; `--verify` once traffic is on the replacement.
async fn follow(
    ecs: &Ecs,
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let polling = polls(ecs, cd, plan, f, deadline, watch);
    crate::aws::deadline::bounded(deadline, polling, || Ok(DeployResult::TimedOut)).await
}

async fn polls(
    ecs: &Ecs,
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let since = Instant::now();
    let mut heartbeat = Heartbeat::new(since, crate::ecs::HEARTBEAT);
    let mut events = EventWatch::default();
    let mut target_id = None;
    let mut interval = plan.poll;
    let mut verified = false;
    let mut ready_seen = false;
    let mut verify_failure: Option<String> = None;
    let mut unanswered = false;
    loop {
        let (info, target) =
            match poll(cd, plan, f, &mut target_id, &mut interval, &mut unanswered).await? {
                Poll::Got(p) => *p,
                Poll::Again if pause(interval, deadline).await => continue,
                Poll::Again | Poll::TimedOut => return Ok(DeployResult::TimedOut),
            };
        observe(
            plan,
            f,
            target.as_ref(),
            &mut events,
            &mut heartbeat,
            since,
            watch,
        );
        let verdict = events::assess(
            &info,
            target.as_ref(),
            plan.wait_until == WaitUntil::TrafficShifted && plan.verify.is_none(),
        );
        match verdict {
            Verdict::Deployed if !verified && plan.verify.is_some() => {
                // Completed before the check could run (no termination wait): nothing to roll back to.
                let r = verify_now(plan, f).await?;
                return Ok(match r {
                    DeployResult::Failed(why) => DeployResult::Failed(format!("{why}; the deployment had already completed, so the original task set is gone and nothing was rolled back")),
                    other => other,
                });
            }
            Verdict::Deployed => {
                if info.status != "Succeeded" {
                    say(plan, f.service, &format!(
                        "production traffic is on {}; CodeDeploy terminates the original task set after the group's wait",
                        f.target.rsplit('/').next().unwrap_or(f.target)));
                }
                return Ok(DeployResult::Deployed);
            }
            Verdict::RolledBack(why) => {
                stopped_tasks(ecs, plan, f, target.as_ref(), watch).await;
                let why = verify_failure.unwrap_or(why);
                return Ok(rolled_back(cd, plan, f, &info, why, deadline).await);
            }
            Verdict::Failed(why) => {
                stopped_tasks(ecs, plan, f, target.as_ref(), watch).await;
                return Ok(DeployResult::Failed(verify_failure.unwrap_or(why)));
            }
            Verdict::InProgress => {}
        }
        // Ready (the group's STOP_DEPLOYMENT ready wait): --verify decides, before production
        // traffic moves, whether to continue.
        if info.status == "Ready" && !ready_seen {
            ready_seen = true;
            verified = plan.verify.is_some();
            match at_ready(cd, plan, f).await? {
                Ok(failure) => verify_failure = verify_failure.or(failure),
                Err(done) => return Ok(done),
            }
        }
        // --verify while the original task set waits for termination: a failure stops the
        // deployment with a rollback, which puts traffic back on it.
        if plan.verify.is_some() && !verified && target.as_ref().is_some_and(EcsTarget::shifted) {
            verified = true;
            match verify_in_wait(cd, plan, f).await? {
                Ok(failure) => verify_failure = failure,
                Err(done) => return Ok(done),
            }
        }
        if !pause(interval, deadline).await {
            return Ok(DeployResult::TimedOut);
        }
    }
}

/// One poll's answer, or what to do instead.
enum Poll {
    Got(Box<(DeploymentInfo, Option<EcsTarget>)>),
    /// A transient failure or throttling: wait a poll and ask again.
    Again,
    TimedOut,
}

/// GetDeployment and the ECS target once. Transient failures are said once and waited out
/// until the deadline; throttling slows the polls down.
async fn poll(
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    target_id: &mut Option<String>,
    interval: &mut Duration,
    unanswered: &mut bool,
) -> Result<Poll> {
    let polled = async {
        let info = cd.get_deployment(&f.id).await?;
        let target = cd.ecs_target(&f.id, target_id).await?;
        Ok::<_, CallError>((info, target))
    }
    .await;
    match polled {
        Ok(p) => {
            *interval = plan.poll;
            Ok(Poll::Got(Box::new(p)))
        }
        Err(e) if e.is_deadline() => Ok(Poll::TimedOut),
        Err(e @ CallError::Transport(_))
        | Err(e @ CallError::Api(ApiError { status: 500.., .. })) => {
            if !*unanswered {
                *unanswered = true;
                say(plan, f.service, &format!("CodeDeploy did not answer ({e}); the deployment goes on, still following it until the deadline"));
            }
            Ok(Poll::Again)
        }
        Err(CallError::Api(e)) if e.is_throttling() => {
            *interval = (*interval * 2).min(Duration::from_secs(30));
            say(
                plan,
                f.service,
                &format!("throttled; polling every {} ms", interval.as_millis()),
            );
            Ok(Poll::Again)
        }
        Err(e) => Err(e.into_anyhow("CodeDeploy GetDeployment".into())),
    }
}

/// A Ready deployment waits for ContinueDeployment: `--verify` runs (test traffic is on the
/// replacement) and its exit continues the deployment or stops it with a rollback; without it,
/// how to continue is said. `Ok(why)` to go on following, `Err(result)` when the deploy ends.
async fn at_ready(
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
) -> Result<std::result::Result<Option<String>, DeployResult>> {
    let short = f.target.rsplit('/').next().unwrap_or(f.target);
    if plan.verify.is_none() {
        say(plan, f.service, &format!(
            "CodeDeploy deployment {} is Ready with test traffic on {short}: it waits for ContinueDeployment (`aws deploy continue-deployment --deployment-id {} --deployment-wait-type READY_WAIT`) until the group's ready wait ends, then it stops",
            f.id, f.id));
        return Ok(Ok(None));
    }
    say(
        plan,
        f.service,
        &format!("CodeDeploy deployment {} is Ready with test traffic on {short}: verifying before production traffic moves", f.id),
    );
    Ok(match verify_now(plan, f).await? {
        DeployResult::Deployed => {
            cd.continue_deployment(&f.id, "READY_WAIT")
                .await
                .map_err(|e| e.into_anyhow("CodeDeploy ContinueDeployment".into()))?;
            say(
                plan,
                f.service,
                "continued it (ContinueDeployment READY_WAIT)",
            );
            Ok(None)
        }
        DeployResult::Failed(why) | DeployResult::RolledBack(why) => {
            say(
                plan,
                f.service,
                &format!("stopping CodeDeploy deployment {} with a rollback", f.id),
            );
            cd.stop_deployment(&f.id, true)
                .await
                .map_err(|e| e.into_anyhow("CodeDeploy StopDeployment".into()))?;
            Ok(Some(why))
        }
        other => Err(other),
    })
}

/// `--verify` while the original task set waits for termination: a failure stops the
/// deployment with a rollback, which puts traffic back on it. `Ok(why)` to go on following
/// (with the failure that decides the verdict, if any), `Err(result)` when the deploy ends here.
async fn verify_in_wait(
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
) -> Result<std::result::Result<Option<String>, DeployResult>> {
    Ok(match verify_now(plan, f).await? {
        DeployResult::Deployed if plan.wait_until == WaitUntil::TrafficShifted => {
            Err(DeployResult::Deployed)
        }
        DeployResult::Deployed => Ok(None),
        DeployResult::Failed(why) | DeployResult::RolledBack(why) => {
            say(
                plan,
                f.service,
                &format!("stopping CodeDeploy deployment {} with a rollback", f.id),
            );
            match cd.stop_deployment(&f.id, true).await {
                Ok(()) => Ok(Some(why)),
                Err(CallError::Api(e)) if e.code == "DeploymentAlreadyCompletedException" => {
                    Err(DeployResult::Failed(format!(
                        "{why}; the deployment had already completed, so nothing was rolled back"
                    )))
                }
                Err(e) => return Err(e.into_anyhow("CodeDeploy StopDeployment".into())),
            }
        }
        other => Err(other),
    })
}

/// The stopped tasks of the replacement task set, with their reasons.
async fn stopped_tasks(
    ecs: &Ecs,
    plan: &Plan,
    f: &Followed<'_>,
    target: Option<&EcsTarget>,
    watch: &mut Watch,
) {
    if let Some(id) = target
        .and_then(EcsTarget::green)
        .and_then(|g| g.identifer.clone())
    {
        report_stopped(ecs, plan, f.service, &id, watch).await;
    }
}

/// Print what changed on the target, record it for the report, and keep the heartbeat.
fn observe(
    plan: &Plan,
    f: &Followed<'_>,
    target: Option<&EcsTarget>,
    events: &mut EventWatch,
    heartbeat: &mut Heartbeat,
    since: Instant,
    watch: &mut Watch,
) {
    let lines = target.map(|t| events.observe(t)).unwrap_or_default();
    for l in &lines {
        say(plan, f.service, l);
        watch.record.event(l);
    }
    for name in target.map(|t| events.begun(t)).unwrap_or_default() {
        watch.record.stage(&name);
    }
    if let Some(t) = target {
        watch.record.sample(&task_sets(t, f));
    }
    if !lines.is_empty() {
        heartbeat.said(Instant::now());
    } else if heartbeat.due(Instant::now()) {
        let at = target.map_or_else(
            || "waiting for its first lifecycle event".to_string(),
            crate::codedeploy::events::phase,
        );
        say(
            plan,
            f.service,
            &format!(
                "still following CodeDeploy deployment {} ({at}, {} so far)",
                f.id,
                crate::validate::human_duration(Duration::from_secs(since.elapsed().as_secs()))
            ),
        );
    }
}

/// The task sets as the report's samples (replacement and original by their ids).
fn task_sets(t: &EcsTarget, f: &Followed<'_>) -> Vec<Deployment> {
    t.task_sets_info
        .iter()
        .map(|s| Deployment {
            id: s.identifer.clone().unwrap_or_default(),
            status: s.task_set_label.clone().unwrap_or_default(),
            task_definition: if s.task_set_label.as_deref() == Some("Green") {
                f.target.into()
            } else {
                f.previous.into()
            },
            desired_count: s.desired_count.unwrap_or(0),
            running_count: s.running_count.unwrap_or(0),
            pending_count: s.pending_count.unwrap_or(0),
            failed_tasks: 0,
            rollout_state: None,
            rollout_state_reason: None,
        })
        .collect()
}

async fn verify_now(plan: &Plan, f: &Followed<'_>) -> Result<DeployResult> {
    let cmd = plan.verify.as_deref().unwrap_or_default();
    let subject = verify::Subject {
        cluster: &plan.cluster,
        service: f.service,
        region: &plan.region,
        task_definition: f.target,
        previous_task_definition: f.previous,
        deployment_id: &f.id,
    };
    verify::run(
        plan,
        cmd,
        &subject,
        &[
            ("STEVEDORE_VERIFY_CODEDEPLOY_DEPLOYMENT_ID", f.id.clone()),
            (
                "STEVEDORE_VERIFY_TEST_LISTENER",
                f.test_listener.clone().unwrap_or_default(),
            ),
        ],
    )
    .await
}

/// A failed deployment CodeDeploy rolls back: follow the rollback deployment to its end (the
/// verdict is already known; this says whether the original revision is back).
async fn rolled_back(
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    info: &DeploymentInfo,
    why: String,
    deadline: Instant,
) -> DeployResult {
    let Some(back) = info
        .rollback_info
        .as_ref()
        .and_then(|r| r.rollback_deployment_id.clone())
    else {
        return DeployResult::RolledBack(why);
    };
    let previous = f.previous.rsplit('/').next().unwrap_or(f.previous);
    say(
        plan,
        f.service,
        &format!("CodeDeploy rolls back to {previous} with deployment {back}"),
    );
    loop {
        match cd.get_deployment(&back).await {
            Ok(d) if d.status == "Succeeded" => {
                return DeployResult::RolledBack(format!(
                    "{why}; rollback deployment {back} restored {previous}"
                ));
            }
            Ok(d) if d.status == "Failed" || d.status == "Stopped" => {
                return DeployResult::Failed(format!(
                    "{why}; the rollback deployment {back} {} too",
                    d.status
                ));
            }
            Ok(_) => {}
            Err(e) if e.is_deadline() => break,
            Err(_) => {}
        }
        if !pause(plan.poll, deadline).await {
            break;
        }
    }
    DeployResult::RolledBack(format!(
        "{why}; rollback deployment {back} was still in progress at the deadline"
    ))
}

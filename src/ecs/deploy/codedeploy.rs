//! Deploying a service with the CODE_DEPLOY deployment controller: the deployment group is
//! checked before anything is registered, the revision goes out as a CodeDeploy deployment with
//! an AppSpec built from the service, and the deployment is followed by its lifecycle events
//! to CodeDeploy's verdict. `--wait-until traffic-shifted` ends once production traffic is on
//! the replacement (the target reads Succeeded), leaving the original task set's termination
//! wait to CodeDeploy; `--verify` runs in that wait and stops the deployment with a rollback
//! when it fails; `--rollback` asks CodeDeploy to roll back on failure and stops a deployment
//! that has no verdict within `--timeout`.

use super::calls::describe_service;
use super::codedeploy_setup::Group;
use super::follow::report_stopped;
use super::outcome::{DeployResult, Report};
use super::plan::say;
use super::plan::Plan;
use super::poller::{self, Controller, Judged};
use super::verify;
use crate::aws::json::CallError;
use crate::codedeploy::api::{CodeDeploy, NewDeployment};
use crate::codedeploy::appspec::AppSpec;
use crate::codedeploy::events::{self, DeploymentInfo, EcsTarget, EventWatch};
use crate::ecs::api::{Deployment, Ecs};
use crate::ecs::record::Rollback;
use crate::ecs::stages::Verdict;
use crate::ecs::wait::Watch;
use crate::values::WaitUntil;
use anyhow::Result;
use std::time::Instant;

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

/// A CodeDeploy deployment, as the poller follows it: GetDeployment and its ECS target.
struct Following<'a> {
    ecs: &'a Ecs,
    cd: &'a CodeDeploy,
    plan: &'a Plan,
    f: &'a Followed<'a>,
    events: EventWatch,
    target_id: Option<String>,
    /// Where the deployment is (`events::phase`), for the heartbeat.
    phase: Option<String>,
    verified: bool,
    ready_seen: bool,
    /// A `--verify` failure: the reason of the rollback it asked for.
    verify_failure: Option<String>,
    /// The deployment CodeDeploy rolls back with, once it does.
    rollback_id: Option<String>,
}

impl Controller for Following<'_> {
    type State = (DeploymentInfo, Option<EcsTarget>);
    const SERVICE: &'static str = "CodeDeploy";
    const READ: &'static str = "GetDeployment";

    async fn read(&mut self) -> Result<Self::State, CallError> {
        let info = self.cd.get_deployment(&self.f.id).await?;
        let target = self.cd.ecs_target(&self.f.id, &mut self.target_id).await?;
        Ok((info, target))
    }

    async fn judge(&mut self, (info, target): Self::State, watch: &mut Watch) -> Result<Judged> {
        let (plan, f) = (self.plan, self.f);
        let said = self.observe(target.as_ref(), watch);
        let traffic_shifted = plan.wait_until == WaitUntil::TrafficShifted && plan.verify.is_none();
        let decided = match events::assess(&info, target.as_ref(), traffic_shifted) {
            Verdict::Deployed if !self.verified && plan.verify.is_some() => {
                // Completed before the check could run (no termination wait): nothing to roll back to.
                Some(match verify_now(plan, f).await? {
                    DeployResult::Failed(why) => DeployResult::Failed(format!("{why}; the deployment had already completed, so the original task set is gone and nothing was rolled back")),
                    other => other,
                })
            }
            Verdict::Deployed => {
                if info.status != "Succeeded" {
                    say(plan, f.service, &format!(
                        "production traffic is on {}; CodeDeploy terminates the original task set after the group's wait",
                        f.target.rsplit('/').next().unwrap_or(f.target)));
                }
                Some(DeployResult::Deployed)
            }
            Verdict::RolledBack(why) => {
                stopped_tasks(self.ecs, plan, f, target.as_ref(), watch).await;
                self.rollback_id = info.rollback_info.and_then(|r| r.rollback_deployment_id);
                Some(DeployResult::RolledBack(
                    self.verify_failure.take().unwrap_or(why),
                ))
            }
            Verdict::Failed(why) => {
                stopped_tasks(self.ecs, plan, f, target.as_ref(), watch).await;
                Some(DeployResult::Failed(
                    self.verify_failure.take().unwrap_or(why),
                ))
            }
            Verdict::InProgress => None,
        };
        if let Some(r) = decided {
            return Ok(Judged::Decided(r));
        }
        // Ready (the group's STOP_DEPLOYMENT ready wait): --verify decides, before production
        // traffic moves, whether to continue.
        if info.status == "Ready" && !self.ready_seen {
            self.ready_seen = true;
            self.verified = plan.verify.is_some();
            match at_ready(self.cd, plan, f).await? {
                Ok(failure) => self.verify_failure = self.verify_failure.take().or(failure),
                Err(done) => return Ok(Judged::Decided(done)),
            }
            return Ok(Judged::Going { said: true });
        }
        // --verify while the original task set waits for termination: a failure stops the
        // deployment with a rollback, which puts traffic back on it.
        if plan.verify.is_some()
            && !self.verified
            && target.as_ref().is_some_and(EcsTarget::shifted)
        {
            self.verified = true;
            match verify_in_wait(self.cd, plan, f).await? {
                Ok(failure) => self.verify_failure = failure,
                Err(done) => return Ok(Judged::Decided(done)),
            }
            return Ok(Judged::Going { said: true });
        }
        Ok(Judged::Going { said })
    }

    fn heartbeat(&self, so_far: &str) -> String {
        let at = self
            .phase
            .as_deref()
            .unwrap_or("waiting for its first lifecycle event");
        format!(
            "still following CodeDeploy deployment {} ({at}, {so_far} so far)",
            self.f.id
        )
    }
}

impl Following<'_> {
    /// Print what changed on the target and record it for the report; whether a line was said.
    fn observe(&mut self, target: Option<&EcsTarget>, watch: &mut Watch) -> bool {
        let Some(t) = target else { return false };
        let lines = self.events.observe(t);
        for l in &lines {
            say(self.plan, self.f.service, l);
            watch.record.event(l);
        }
        for name in self.events.begun(t) {
            watch.record.stage(&name);
        }
        watch.record.sample(&task_sets(t, self.f));
        self.phase = Some(events::phase(t));
        !lines.is_empty()
    }
}

/// Follow the deployment to its verdict (GetDeployment and its ECS target, once per poll) and,
/// when CodeDeploy rolls it back, its rollback deployment to the end (unless `--rollback-wait
/// none`), within `deadline`; `--verify` once traffic is on the replacement.
async fn follow(
    ecs: &Ecs,
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let mut following = Following {
        ecs,
        cd,
        plan,
        f,
        events: EventWatch::default(),
        target_id: None,
        phase: None,
        verified: false,
        ready_seen: false,
        verify_failure: None,
        rollback_id: None,
    };
    let result = poller::follow(&mut following, plan, f.service, deadline, watch).await?;
    match (result, following.rollback_id) {
        (DeployResult::RolledBack(why), Some(back)) => {
            rolled_back(ecs, cd, plan, f, why, &back, deadline, watch).await
        }
        (other, _) => Ok(other),
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

/// CodeDeploy's rollback deployment, as the poller follows it.
struct RollbackDeployment<'a> {
    cd: &'a CodeDeploy,
    id: &'a str,
}

impl Controller for RollbackDeployment<'_> {
    type State = DeploymentInfo;
    const SERVICE: &'static str = "CodeDeploy";
    const READ: &'static str = "GetDeployment";

    async fn read(&mut self) -> Result<DeploymentInfo, CallError> {
        self.cd.get_deployment(self.id).await
    }

    async fn judge(&mut self, d: DeploymentInfo, _: &mut Watch) -> Result<Judged> {
        Ok(match d.status.as_str() {
            "Succeeded" => Judged::Decided(DeployResult::Deployed),
            "Failed" | "Stopped" => {
                let why = d.error_information.and_then(|e| e.message);
                Judged::Decided(DeployResult::Failed(why.unwrap_or(d.status)))
            }
            _ => Judged::Going { said: false },
        })
    }

    fn heartbeat(&self, so_far: &str) -> String {
        format!(
            "still following CodeDeploy's rollback deployment {} ({so_far} so far)",
            self.id
        )
    }
}

/// A failed deployment CodeDeploy rolls back with the deployment `back`: follow that to its end
/// (the verdict is known already; this says whether the original revision runs again).
#[allow(clippy::too_many_arguments)]
async fn rolled_back(
    ecs: &Ecs,
    cd: &CodeDeploy,
    plan: &Plan,
    f: &Followed<'_>,
    why: String,
    back: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let to = f
        .previous
        .rsplit('/')
        .next()
        .unwrap_or(f.previous)
        .to_string();
    let outcome = if plan.follow_rollback {
        say(
            plan,
            f.service,
            &format!("following CodeDeploy's rollback to {to} (deployment {back})"),
        );
        let began = Instant::now();
        let mut rollback = RollbackDeployment { cd, id: back };
        let ended = poller::follow(&mut rollback, plan, f.service, deadline, watch).await?;
        // The service's own counts: CodeDeploy's rollback reroutes traffic to the original
        // task set, whose tasks are the service's again.
        let counts = match describe_service(ecs, plan, f.service, Instant::now()).await {
            Ok(Some(svc)) => (svc.running_count, svc.desired_count),
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

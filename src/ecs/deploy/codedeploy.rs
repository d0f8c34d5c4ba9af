//! Deploying a service with the CODE_DEPLOY deployment controller: the deployment group is
//! checked before anything is registered, the revision goes out as a CodeDeploy deployment with
//! an AppSpec built from the service, and the deployment is followed by its lifecycle events
//! to CodeDeploy's verdict. `--wait-until traffic-shifted` ends once production traffic is on
//! the replacement (the target reads Succeeded), leaving the original task set's termination
//! wait to CodeDeploy; `--verify` runs in that wait and stops the deployment with a rollback
//! when it fails; `--rollback` asks CodeDeploy to roll back on failure and stops a deployment
//! that has no verdict within `--timeout`.

use super::follow::report_stopped;
use super::native::pause;
use super::plan::Plan;
use super::verify;
use super::{say, DeployResult, Report};
use crate::aws::json::{ApiError, CallError};
use crate::cli::WaitUntil;
use crate::codedeploy::api::{CodeDeploy, NewDeployment};
use crate::codedeploy::appspec::{self, AppSpec};
use crate::codedeploy::events::{self, DeploymentInfo, EcsTarget, EventWatch};
use crate::ecs::api::{Deployment, Ecs, Service};
use crate::ecs::stages::Verdict;
use crate::ecs::wait::{Heartbeat, Watch};
use crate::error::usage;
use anyhow::Result;
use std::time::{Duration, Instant};

/// The deployment group a CODE_DEPLOY service deploys through, checked.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub application: String,
    pub group: String,
    /// The deployment configuration in effect (the flag's, else the group's).
    pub config: String,
    pub container: String,
    pub port: u16,
}

/// What the deploy's flags say of CodeDeploy (checked when the plan is made).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub application: Option<String>,
    pub group: Option<String>,
    pub config: Option<String>,
    pub container: Option<String>,
    pub port: Option<u16>,
    pub capacity_providers: Vec<appspec::CapacityProvider>,
    pub hooks: Vec<(String, String)>,
}

impl Settings {
    /// Read and check the `--codedeploy-*` flags.
    pub fn from_args(a: &crate::cli::DeployArgs) -> Result<Settings> {
        use crate::codedeploy::appspec;
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let list = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if a.codedeploy_container_port == Some(0) {
            return Err(usage!("--codedeploy-container-port (STEVEDORE_CODEDEPLOY_CONTAINER_PORT): 0 is not a port (1 to 65535)"));
        }
        Ok(Settings {
            application: given(&a.codedeploy_application),
            group: given(&a.codedeploy_deployment_group),
            config: given(&a.codedeploy_config),
            container: given(&a.codedeploy_container),
            port: a.codedeploy_container_port,
            capacity_providers: list(&a.codedeploy_capacity_provider)
                .iter()
                .map(|c| appspec::parse_capacity_provider(c).map_err(|e| usage!("--codedeploy-capacity-provider (STEVEDORE_CODEDEPLOY_CAPACITY_PROVIDERS): {e}")))
                .collect::<Result<_>>()?,
            hooks: list(&a.codedeploy_hook)
                .iter()
                .map(|h| appspec::parse_hook(h).map_err(|e| usage!("--codedeploy-hook (STEVEDORE_CODEDEPLOY_HOOKS): {e}")))
                .collect::<Result<_>>()?,
        })
    }

    /// Whether any CodeDeploy flag was given (they mean nothing to other controllers).
    pub fn any(&self) -> bool {
        self.application.is_some()
            || self.group.is_some()
            || self.config.is_some()
            || self.container.is_some()
            || self.port.is_some()
            || !self.capacity_providers.is_empty()
            || !self.hooks.is_empty()
    }
}

/// Check, before anything is registered, that the flags fit a CODE_DEPLOY service and that its
/// deployment group exists and deploys it; the group.
pub(super) async fn prepare(cd: &CodeDeploy, plan: &Plan, svc: &Service) -> Result<Group> {
    let name = &svc.service_name;
    let refuse = |what: &str| {
        usage!("{what} does not apply to service {name}: it uses the CODE_DEPLOY deployment controller, where the deployment group decides (pass --codedeploy-config for another traffic shift)")
    };
    if plan.strategy.any() {
        return Err(refuse("--strategy and its settings"));
    }
    if plan.breaker.is_some() {
        return Err(refuse("--circuit-breaker"));
    }
    if plan.force || plan.desired_count.is_some() {
        return Err(refuse("--force-new-deployment and --desired-count"));
    }
    let s = &plan.codedeploy;
    let (default_app, default_group) = appspec::default_names(&plan.cluster, name);
    let application = s.application.clone().unwrap_or(default_app);
    let group = s.group.clone().unwrap_or(default_group);
    let info = match cd.get_deployment_group(&application, &group).await {
        Ok(v) => v,
        Err(CallError::Api(e)) if e.code == "ApplicationDoesNotExistException" => return Err(usage!(
            "CodeDeploy application {application} not found in {}: pass --codedeploy-application NAME (the application of service {name}'s deployment group)", plan.region)),
        Err(CallError::Api(e)) if e.code == "DeploymentGroupDoesNotExistException" => return Err(usage!(
            "CodeDeploy deployment group {group} not found in application {application}: pass --codedeploy-deployment-group NAME")),
        Err(e) => return Err(e.into_anyhow("CodeDeploy GetDeploymentGroup".into())),
    };
    let deploys_it = info["ecsServices"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["serviceName"].as_str() == Some(name.as_str())
                && e["clusterName"]
                    .as_str()
                    .is_none_or(|c| c == plan.cluster || c.ends_with(&format!("/{}", plan.cluster)))
        });
    if !deploys_it {
        return Err(usage!("CodeDeploy deployment group {group} of {application} does not deploy service {name} in cluster {}: pass the group that does (--codedeploy-deployment-group)", plan.cluster));
    }
    let (container, port) =
        appspec::load_balanced(&svc.load_balancers, s.container.as_deref(), s.port)
            .map_err(|e| usage!("service {name}: {e}"))?;
    let config = s.config.clone().unwrap_or_else(|| {
        info["deploymentConfigName"]
            .as_str()
            .unwrap_or("CodeDeployDefault.ECSAllAtOnce")
            .to_string()
    });
    Ok(Group {
        application,
        group,
        config,
        container,
        port,
    })
}

/// The dry run's line for the deployment it would create.
pub(super) fn plan_line(g: &Group) -> String {
    format!(
        "+ CodeDeploy deployment: application {}, deployment group {}, {} (container {} port {})",
        g.application, g.group, g.config, g.container, g.port
    )
}

/// The deployment being followed.
struct Followed<'a> {
    service: &'a str,
    id: String,
    target: &'a str,
    previous: &'a str,
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
        cd.client().set_deadline(deadline);
        ecs.client().set_deadline(deadline);
        say(
            plan,
            service,
            &format!(
                "stopping CodeDeploy deployment {} with a rollback (no verdict within {})",
                f.id,
                crate::validate::human_duration(plan.timeout)
            ),
        );
        result = match cd.stop_deployment(&f.id, true).await {
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
    let since = Instant::now();
    let mut heartbeat = Heartbeat::new(since, crate::ecs::HEARTBEAT);
    let mut events = EventWatch::default();
    let mut target_id = None;
    let mut interval = plan.poll;
    let mut verified = false;
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
        let at = target
            .and_then(|t| events.current(t))
            .unwrap_or("its first lifecycle event");
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
        &[("STEVEDORE_VERIFY_CODEDEPLOY_DEPLOYMENT_ID", f.id.clone())],
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

//! Following one rolling deployment by its id (DescribeServices, once per poll, shared by the
//! services deployed together): events and counts as they change, stopped tasks' reasons and
//! their log tails, and ECS's verdict.

use super::calls::describe_service;
use super::outcome::DeployResult;
use super::plan::say;
use super::plan::Plan;
use super::poller::{self, Controller, Judged};
use crate::aws::json::CallError;
use crate::ecs::api::{Ecs, Service};
use crate::ecs::wait::{self, Verdict, Watch};
use crate::values::WaitUntil;
use anyhow::Result;
use std::time::Instant;

/// A rolling deployment (the ECS controller's), as the poller follows it.
struct Rolling<'a> {
    ecs: &'a Ecs,
    plan: &'a Plan,
    service: &'a str,
    id: &'a str,
    /// Reads from before this point predate the update being followed.
    since: Instant,
    failed_seen: i64,
    /// Where ECS rolled back to, once it did (a short `family:revision`).
    rolled_back_to: Option<String>,
}

impl Controller for Rolling<'_> {
    type State = Service;
    const SERVICE: &'static str = "ECS";
    const READ: &'static str = "DescribeServices";

    async fn read(&mut self) -> Result<Service, CallError> {
        let svc = describe_service(self.ecs, self.plan, self.service, self.since).await?;
        // Gone altogether (deleted while followed): no deployment of it is left.
        Ok(svc.unwrap_or_default())
    }

    async fn judge(&mut self, svc: Service, watch: &mut Watch) -> Result<Judged> {
        let (plan, service, id) = (self.plan, self.service, self.id);
        let mut said = false;
        watch.record.sample(&svc.deployments);
        for e in watch.new_events(&svc) {
            say(plan, service, &e);
            watch.record.event(&e);
            said = true;
        }
        if let Some(c) = watch.counts(&svc, id) {
            say(plan, service, &c);
            said = true;
        }
        let verdict = wait::assess(&svc, id, plan.wait_until == WaitUntil::Stable);
        let failed = Watch::failed(&svc, id);
        if failed > self.failed_seen || !matches!(verdict, Verdict::InProgress | Verdict::Deployed)
        {
            self.failed_seen = failed;
            report_stopped(self.ecs, plan, service, id, watch).await;
        }
        Ok(match verdict {
            Verdict::Deployed => Judged::Decided(DeployResult::Deployed),
            Verdict::Failed(r) => Judged::Decided(DeployResult::Failed(r)),
            Verdict::RolledBack { reason, to } => {
                let reason = wait::failure_event(&svc, id).unwrap_or(reason);
                self.rolled_back_to = Some(to.rsplit('/').next().unwrap_or(&to).to_string());
                Judged::Decided(DeployResult::RolledBack(reason))
            }
            Verdict::InProgress => Judged::Going { said },
        })
    }

    fn heartbeat(&self, so_far: &str) -> String {
        format!("still following deployment {} ({so_far} so far)", self.id)
    }
}

/// Follow the deployment `id` until it is decided or the deadline passes. When ECS rolled it
/// back, the result says the reason alone, and the revision ECS went back to comes with it.
pub(super) async fn decide(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    id: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<(DeployResult, Option<String>)> {
    let mut rolling = Rolling {
        ecs,
        plan,
        service,
        id,
        since: Instant::now(),
        failed_seen: 0,
        rolled_back_to: None,
    };
    let result = poller::follow(&mut rolling, plan, service, deadline, watch).await?;
    Ok((result, rolling.rolled_back_to))
}

/// Follow the deployment `id` until it is decided or the deadline passes; a rollback by ECS
/// reads "<reason> (ECS rolled back to web:1)".
pub(super) async fn follow(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    id: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let (result, to) = decide(ecs, plan, service, id, deadline, watch).await?;
    Ok(naming_the_target(result, to))
}

/// A rollback's result with the revision ECS went back to: "<reason> (ECS rolled back to web:1)".
pub(super) fn naming_the_target(result: DeployResult, to: Option<String>) -> DeployResult {
    match (result, to) {
        (DeployResult::RolledBack(why), Some(to)) => {
            DeployResult::RolledBack(format!("{why} (ECS rolled back to {to})"))
        }
        (other, _) => other,
    }
}

/// Say once that the stopped tasks' reasons cannot be read, and why (the rollout is still
/// followed; only the reasons are missing).
pub(super) fn unreadable(plan: &Plan, service: &str, watch: &mut Watch, e: &CallError) {
    if !watch.tasks_unreadable {
        watch.tasks_unreadable = true;
        say(
            plan,
            service,
            &format!("cannot read the stopped tasks' reasons ({e}); the role needs ecs:ListTasks and ecs:DescribeTasks (`stevedore iam policy`)"),
        );
    }
}

/// Print the reasons of the deployment's stopped tasks not printed yet.
pub(super) async fn report_stopped(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    id: &str,
    watch: &mut Watch,
) {
    let cluster = plan.cluster.as_str();
    let arns = match ecs.list_tasks(cluster, id, "STOPPED").await {
        Ok(arns) => arns,
        Err(e) => return unreadable(plan, service, watch, &e),
    };
    let arns: Vec<&str> = arns
        .iter()
        .map(String::as_str)
        .filter(|a| !watch.seen_stopped.contains(*a))
        .take(100)
        .collect();
    if arns.is_empty() {
        return;
    }
    let tasks = match ecs.describe_tasks(cluster, &arns).await {
        Ok(tasks) => tasks,
        Err(e) => return unreadable(plan, service, watch, &e),
    };
    for t in tasks.iter().filter(|t| t.last_status == "STOPPED") {
        if !t.task_arn.is_empty() {
            watch.seen_stopped.insert(t.task_arn.clone());
        }
        say(plan, service, &crate::ecs::record::stopped_task_line(t));
        watch.record.stopped(t);
        log_tail(ecs, plan, service, t, watch).await;
    }
}

/// The last lines of the container whose failure stopped `t`, once per distinct failure
/// (container, exit code, reason): a crash loop prints its stack trace once, not per task.
async fn log_tail(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    t: &crate::ecs::api::Task,
    watch: &mut Watch,
) {
    let Some(logs) = ecs.logs() else { return };
    let Some(failed) = t.containers.iter().find(|c| {
        c.exit_code.is_some_and(|x| x != 0) || (c.exit_code.is_none() && c.reason.is_some())
    }) else {
        return;
    };
    let key = format!(
        "{}:{:?}:{}",
        failed.name,
        failed.exit_code,
        t.stopped_reason.as_deref().unwrap_or("")
    );
    if !watch.failures_shown.insert(key) || t.task_definition_arn.is_empty() {
        return;
    }
    if !watch.task_definitions.contains_key(&t.task_definition_arn) {
        match ecs.describe_task_definition(&t.task_definition_arn).await {
            Ok(td) => {
                watch
                    .task_definitions
                    .insert(t.task_definition_arn.clone(), td);
            }
            Err(_) => return,
        }
    }
    let td = &watch.task_definitions[&t.task_definition_arn];
    let (streams, without) =
        crate::ecs::logs::streams(td, t.id(), &plan.region, &[failed.name.as_str()]);
    if let Some(s) = streams.first() {
        let n = plan.log_lines;
        match logs.tail(s, n).await {
            Ok(lines) if lines.is_empty() => say(plan, service, &format!("  {} printed nothing to {}", s.container, s.name)),
            Ok(lines) => {
                watch.record.log_tail(&s.container, &s.name, &lines);
                say(plan, service, &format!("  the last {} lines of {} ({}):", lines.len(), s.container, s.name));
                for l in lines {
                    say(plan, service, &format!("  {}| {l}", s.container));
                }
            }
            Err(crate::ecs::logs::ReadError::Denied(m)) => say(plan, service, &format!("  cannot read {}'s logs: {m} (`stevedore iam policy --log-group {}` grants it)", s.container, s.group)),
            Err(crate::ecs::logs::ReadError::Other(m)) => say(plan, service, &format!("  cannot read {}'s logs: {m}", s.container)),
        }
    } else if !without.is_empty() && watch.failures_shown.insert("no-logs".into()) {
        say(
            plan,
            service,
            &format!("  {}", crate::ecs::logs::no_logs_line(&without)),
        );
    }
}

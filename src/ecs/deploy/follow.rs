//! Following one deployment until it is decided: polls, stopped tasks' reasons, the verdict.

use super::plan::Plan;
use super::service::{api_err, describe_service};
use super::{say, DeployResult};
use crate::aws::json::{ApiError, CallError};
use crate::cli::WaitUntil;
use crate::ecs::api::Ecs;
use crate::ecs::wait::{self, Verdict, Watch};
use anyhow::Result;
use std::time::{Duration, Instant};

/// Jitter a poll interval by up to a quarter either way (the default 4 s becomes 3–5 s).
pub(super) fn jittered(d: Duration) -> Duration {
    let ms = d.as_millis() as u64;
    Duration::from_millis(rand::random_range(ms * 3 / 4..=ms * 5 / 4 + 1))
}

/// Poll DescribeServices (once per poll) until the deployment is decided or the deadline passes
/// (this deployment's own: whatever another service's follower waits for does not hold it).
pub(super) async fn follow(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    id: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let polling = polls(ecs, plan, service, id, deadline, watch);
    crate::aws::deadline::bounded(deadline, polling, || Ok(DeployResult::TimedOut)).await
}

async fn polls(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    id: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    // Reads from before this point predate the update being followed.
    let since = Instant::now();
    let mut heartbeat = wait::Heartbeat::new(since, crate::ecs::HEARTBEAT);
    let mut interval = plan.poll;
    let mut failed_seen = 0;
    let mut unanswered = false;
    loop {
        let svc = match describe_service(ecs, plan, service, since).await {
            Ok(v) => {
                interval = plan.poll;
                // Gone altogether (deleted while followed): no deployment of it is left.
                v.unwrap_or_default()
            }
            Err(e) if e.is_deadline() => return Ok(DeployResult::TimedOut),
            // A transient failure (5xx, a cut connection) after the client's own retries: the
            // rollout goes on in ECS regardless, so keep following it until the deadline.
            Err(e @ CallError::Transport(_))
            | Err(e @ CallError::Api(ApiError { status: 500.., .. })) => {
                if !unanswered {
                    unanswered = true;
                    say(
                        plan,
                        service,
                        &format!("DescribeServices failed ({e}); the rollout goes on in ECS, still following it until the deadline"),
                    );
                }
                tokio::time::sleep(jittered(interval).min(
                    deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10),
                ))
                .await;
                if Instant::now() >= deadline {
                    return Ok(DeployResult::TimedOut);
                }
                continue;
            }
            Err(CallError::Api(e)) if e.is_throttling() => {
                interval = (interval * 2).min(Duration::from_secs(30));
                say(
                    plan,
                    service,
                    &format!("throttled; polling every {} ms", interval.as_millis()),
                );
                tokio::time::sleep(jittered(interval)).await;
                continue;
            }
            Err(e) => return Err(api_err("DescribeServices", e)),
        };
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
        if said {
            heartbeat.said(Instant::now());
        } else if heartbeat.due(Instant::now()) {
            say(
                plan,
                service,
                &format!(
                    "still following deployment {id} ({} so far)",
                    crate::validate::human_duration(Duration::from_secs(since.elapsed().as_secs()))
                ),
            );
        }
        let verdict = wait::assess(&svc, id, plan.wait_until == WaitUntil::Stable);
        let failed = Watch::failed(&svc, id);
        if failed > failed_seen || !matches!(verdict, Verdict::InProgress | Verdict::Deployed) {
            failed_seen = failed;
            report_stopped(ecs, plan, service, id, watch).await;
        }
        match verdict {
            Verdict::Deployed => return Ok(DeployResult::Deployed),
            Verdict::Failed(r) => return Ok(DeployResult::Failed(r)),
            Verdict::RolledBack { reason, to } => {
                let reason = wait::failure_event(&svc, id).unwrap_or(reason);
                return Ok(DeployResult::RolledBack(format!(
                    "{reason} (ECS rolled back to {})",
                    to.rsplit('/').next().unwrap_or(&to)
                )));
            }
            Verdict::InProgress => {}
        }
        if Instant::now() >= deadline {
            return Ok(DeployResult::TimedOut);
        }
        tokio::time::sleep(
            jittered(interval).min(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10),
            ),
        )
        .await;
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

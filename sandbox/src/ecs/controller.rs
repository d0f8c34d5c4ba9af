//! The rollout clock: each second of sandbox time places, starts, drains and stops tasks, and
//! decides deployments (completed, failed by the circuit breaker, rolled back).

use super::model::*;
use serde_json::json;
use std::collections::BTreeMap;

/// Advance tasks and deployments to `now`, in one-second steps.
pub fn tick(st: &mut EcsState, ctx: &Ctx) {
    let start = st.last_tick.unwrap_or(ctx.now);
    let mut t = start;
    let mut steps = 0;
    while t < ctx.now && steps < 20_000 {
        t = (t + 1.0).min(ctx.now);
        step(
            st,
            &Ctx {
                region: ctx.region,
                account: ctx.account,
                now: t,
            },
        );
        steps += 1;
    }
    st.last_tick = Some(ctx.now.max(start));
}

pub(super) fn step(st: &mut EcsState, ctx: &Ctx) {
    let now = ctx.now;
    // Tasks move through their life cycle.
    let mut failed_by_deployment: Vec<String> = Vec::new();
    for task in st.tasks.iter_mut() {
        advance_task(task, &st.fates, now, &mut failed_by_deployment);
    }
    // A service replaces a task whose container failed its health checks, and the failure
    // counts for its deployment's circuit breaker. (A standalone task runs on regardless.)
    let unhealthy = replace_unhealthy(st, now, &mut failed_by_deployment);
    // The deployment controller, service by service.
    let keys: Vec<(String, String)> = st.services.keys().cloned().collect();
    for key in keys {
        let mut svc = st.services.remove(&key).expect("service");
        for (_, id) in unhealthy.iter().filter(|(k, _)| *k == key) {
            event(
                &mut svc,
                now,
                format!("(task {id}) failed container health checks."),
            );
        }
        for d in svc.deployments.iter_mut() {
            let n = failed_by_deployment.iter().filter(|x| **x == d.id).count() as i64;
            if n > 0 {
                d.failed += n;
                d.updated_at = now;
            }
        }
        control(st, ctx, &mut svc);
        st.services.insert(key, svc);
    }
}

/// One second of one task's life cycle: provisioning, pulling (or failing to), running until
/// its fate (an exit, failed health checks), stopping. Failures are counted for its deployment.
fn advance_task(
    task: &mut Task,
    fates: &BTreeMap<String, Fate>,
    now: f64,
    failed_by_deployment: &mut Vec<String>,
) {
    match task.last_status.as_str() {
        "PROVISIONING" if now - task.created_at >= PROVISION_SECS => {
            task.last_status = "PENDING".into();
            task.pending_at = Some(now);
        }
        "PENDING" if task.docker != RealContainer::Simulated => match task.docker.clone() {
            RealContainer::Started(_) | RealContainer::Exited(..) => {
                task.last_status = "RUNNING".into();
                task.started_at = Some(now);
                if let Some(h) = task.health.as_mut() {
                    h.start(now);
                }
            }
            RealContainer::Failed(reason) => {
                task.containers[0].reason = Some(reason.clone());
                fail_task(
                    task,
                    now,
                    "TaskFailedToStart",
                    &reason,
                    failed_by_deployment,
                );
            }
            _ => {}
        },
        "RUNNING" if task.docker != RealContainer::Simulated => {
            if let RealContainer::Exited(_, code) = task.docker {
                let i = task
                    .containers
                    .iter()
                    .position(|c| c.essential)
                    .unwrap_or(0);
                task.containers[i].exit_code = Some(code);
                fail_task(
                    task,
                    now,
                    "EssentialContainerExited",
                    "Essential container in task exited",
                    failed_by_deployment,
                );
            }
        }
        "PENDING" if now - task.pending_at.unwrap_or(now) >= PULL_SECS => {
            let fates: Vec<Option<Fate>> = task
                .containers
                .iter()
                .map(|c| fates.get(&c.image).cloned())
                .collect();
            if fates.iter().any(Option::is_none) {
                return; // the probe has not answered yet
            }
            if let Some((i, Some(Fate::PullFails(reason)))) = fates
                .iter()
                .enumerate()
                .find(|(_, f)| matches!(f, Some(Fate::PullFails(_))))
            {
                task.containers[i].reason = Some(reason.clone());
                fail_task(task, now, "TaskFailedToStart", reason, failed_by_deployment);
            } else {
                task.last_status = "RUNNING".into();
                task.started_at = Some(now);
                if let Some(h) = task.health.as_mut() {
                    h.start(now);
                }
            }
        }
        "RUNNING" => live_out_fate(task, fates, now, failed_by_deployment),
        "DEACTIVATING" if now - task.stopping_at.unwrap_or(now) >= STOP_SECS => {
            task.last_status = "STOPPED".into();
            task.stopped_at = Some(now);
            for c in task.containers.iter_mut() {
                c.exit_code.get_or_insert(0);
            }
        }
        _ => {}
    }
}

/// A running simulated task for one second: its health check, and its essential container's
/// exit when its image's fate says so.
fn live_out_fate(
    task: &mut Task,
    fates: &BTreeMap<String, Fate>,
    now: f64,
    failed_by_deployment: &mut Vec<String>,
) {
    let started = task.started_at.unwrap_or(now);
    let checked_image = task
        .containers
        .iter()
        .find(|c| task.health_container.as_deref() == Some(c.name.as_str()))
        .map(|c| c.image.clone());
    if let (Some(h), Some(image)) = (task.health.as_mut(), checked_image) {
        let after = match fates.get(&image) {
            Some(Fate::Runs {
                unhealthy_after, ..
            }) => *unhealthy_after,
            _ => None,
        };
        h.simulate(now, started, after);
    }
    let exit = task
        .containers
        .iter()
        .enumerate()
        .find_map(|(i, c)| match fates.get(&c.image) {
            Some(Fate::Runs {
                exit: Some((code, after)),
                ..
            }) if c.essential && now - started >= *after => Some((i, *code)),
            _ => None,
        });
    if let Some((i, code)) = exit {
        // The essential container exits; ECS stops the others (SIGKILL after the grace period).
        for (j, c) in task.containers.iter_mut().enumerate() {
            c.exit_code = Some(if j == i { code } else { 137 });
        }
        fail_task(
            task,
            now,
            "EssentialContainerExited",
            "Essential container in task exited",
            failed_by_deployment,
        );
    }
}

/// Stop the service tasks whose health checks failed (their deployments count the failure);
/// the `(service key, task id)` of each, for the services' events.
fn replace_unhealthy(
    st: &mut EcsState,
    now: f64,
    failed_by_deployment: &mut Vec<String>,
) -> Vec<((String, String), String)> {
    let mut unhealthy: Vec<((String, String), String)> = Vec::new();
    for task in st.tasks.iter_mut() {
        let sick = task
            .health
            .as_ref()
            .is_some_and(|h| h.status == "UNHEALTHY");
        if let (true, Some(service)) = (sick, task.service.clone()) {
            if task.desired_status == "RUNNING" && task.last_status == "RUNNING" {
                stop_task(
                    task,
                    now,
                    "ServiceSchedulerInitiated",
                    "Task failed container health checks",
                    &mut st.to_remove,
                );
                if let Some(d) = &task.deployment {
                    failed_by_deployment.push(d.clone());
                }
                unhealthy.push(((task.cluster.clone(), service), task.id.clone()));
            }
        }
    }
    unhealthy
}

pub(super) fn live<'a>(
    tasks: &'a [Task],
    deployment: &'a str,
) -> impl Iterator<Item = &'a Task> + 'a {
    tasks.iter().filter(move |t| {
        t.deployment.as_deref() == Some(deployment) && t.desired_status == "RUNNING"
    })
}

/// The circuit breaker: a primary deployment with 0.5 × desired failed tasks (3 to 200) fails,
/// and with rollback on, the last completed revision is deployed again.
fn trip_breaker(st: &EcsState, now: f64, svc: &mut Service, breaker_on: bool, rollback: bool) {
    let desired = svc.desired;
    let primary_id = svc.deployments[0].id.clone();
    let threshold = ((desired as f64 * 0.5).ceil() as i64).clamp(3, 200);
    if breaker_on
        && svc.deployments[0].rollout_state == "IN_PROGRESS"
        && svc.deployments[0].failed >= threshold
    {
        let p = &mut svc.deployments[0];
        p.rollout_state = "FAILED".into();
        p.rollout_state_reason_set("ECS deployment circuit breaker: tasks failed to start.");
        p.updated_at = now;
        event(
            svc,
            now,
            format!("(deployment {primary_id}) deployment failed: tasks failed to start."),
        );
        let target = svc.last_completed_td.clone();
        if let (true, Some(td_ref)) = (rollback, target) {
            if let Some(td) = find_task_definition(st, &td_ref).cloned() {
                svc.deployments[0].status = "ACTIVE".into();
                let d = Deployment::new(
                    "PRIMARY",
                    td_arn(&td),
                    desired,
                    now,
                    format!(
                        "ECS deployment circuit breaker: rolling back to deployment {}.",
                        svc.history
                            .iter()
                            .rev()
                            .find(|h| h.rollout_state == "COMPLETED")
                            .map(|h| h.id.clone())
                            .unwrap_or_default()
                    ),
                );
                let id = d.id.clone();
                svc.task_definition = d.task_definition.clone();
                svc.deployments.insert(0, d.clone());
                svc.history.push(d);
                event(
                    svc,
                    now,
                    format!(
                        "(deployment {id}) deployment started: rolling back to {}.",
                        svc.task_definition.rsplit('/').next().unwrap_or_default()
                    ),
                );
            }
        }
    }
}

/// Start tasks for the primary deployment, within maximumPercent of the desired count.
pub(super) fn start_tasks(st: &mut EcsState, ctx: &Ctx, svc: &mut Service, max_pct: i64) {
    let (now, desired) = (ctx.now, svc.desired);
    let primary = svc.deployments[0].clone();
    if primary.rollout_state != "FAILED" {
        let mine = live(&st.tasks, &primary.id).count() as i64;
        let all_live = svc
            .deployments
            .iter()
            .map(|d| live(&st.tasks, &d.id).count() as i64)
            .sum::<i64>();
        let cap = (desired * max_pct / 100).max(desired.min(1));
        let n = (desired - mine).min(cap - all_live).max(0);
        if n > 0 {
            if let Some(td) = find_task_definition(st, &primary.task_definition).cloned() {
                let ids: Vec<String> = (0..n)
                    .map(|_| {
                        new_task(
                            st,
                            ctx,
                            &svc.cluster,
                            &td,
                            format!("service:{}", svc.name),
                            Some(&svc.name),
                            Some(&primary.id),
                            Some(primary.id.clone()),
                            &svc.launch_type,
                            json!({"containerOverrides": []}),
                        )
                    })
                    .collect();
                if super::network::is_awsvpc(&td.json) {
                    for id in &ids {
                        super::network::attach(st, id, &svc.network, &td.json);
                    }
                }
                event(
                    svc,
                    now,
                    format!(
                        "has started {n} tasks: {}.",
                        ids.iter()
                            .map(|i| format!("(task {i})"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                );
                svc.steady_reported = false;
            }
        }
    }
}

/// Tasks of deployment `d` that count as healthy: RUNNING, and HEALTHY when the task has a
/// health check.
pub(super) fn running(tasks: &[Task], d: &str) -> i64 {
    tasks
        .iter()
        .filter(|t| {
            t.deployment.as_deref() == Some(d)
                && t.desired_status == "RUNNING"
                && t.last_status == "RUNNING"
                && t.health.as_ref().is_none_or(|h| h.status == "HEALTHY")
        })
        .count() as i64
}

/// Completion: the primary deployment holds the desired running tasks, alone, for a moment.
fn complete_when_settled(st: &EcsState, now: f64, svc: &mut Service) {
    let desired = svc.desired;
    let p_running = running(&st.tasks, &svc.deployments[0].id);
    let alone = svc.deployments.len() == 1;
    let p = &mut svc.deployments[0];
    if p.rollout_state == "IN_PROGRESS"
        && p_running == desired
        && alone
        && live(&st.tasks, &p.id).count() as i64 == desired
    {
        let since = *p.settled_since.get_or_insert(now);
        let settle = if st.settle_secs > 0.0 {
            st.settle_secs
        } else {
            SETTLE_SECS
        };
        if now - since >= settle {
            p.rollout_state = "COMPLETED".into();
            p.rollout_reason = format!("ECS deployment {} completed.", p.id);
            p.updated_at = now;
            let (id, td) = (p.id.clone(), p.task_definition.clone());
            if let Some(h) = svc.history.iter_mut().find(|h| h.id == id) {
                h.rollout_state = "COMPLETED".into();
            }
            svc.last_completed_td = Some(td);
            event(svc, now, format!("(deployment {id}) deployment completed."));
        }
    } else if p.rollout_state == "IN_PROGRESS" {
        p.settled_since = None;
    }
}

pub(super) fn control(st: &mut EcsState, ctx: &Ctx, svc: &mut Service) {
    let now = ctx.now;
    if svc.deployments.is_empty() || super::strategies::control(st, ctx, svc) {
        return;
    }
    let desired = svc.desired;
    let max_pct = svc.deployment_configuration["maximumPercent"]
        .as_i64()
        .unwrap_or(200);
    let min_pct = svc.deployment_configuration["minimumHealthyPercent"]
        .as_i64()
        .unwrap_or(100);
    let breaker = &svc.deployment_configuration["deploymentCircuitBreaker"];
    let (breaker_on, rollback) = (
        breaker["enable"].as_bool().unwrap_or(false),
        breaker["rollback"].as_bool().unwrap_or(false),
    );
    let primary_id = svc.deployments[0].id.clone();

    trip_breaker(st, now, svc, breaker_on, rollback);
    start_tasks(st, ctx, svc, max_pct);

    // Stop old deployments' tasks while minimumHealthyPercent allows.
    let min_healthy = (desired * min_pct + 99) / 100;
    let mut healthy: i64 = svc
        .deployments
        .iter()
        .map(|d| running(&st.tasks, &d.id))
        .sum();
    let old_ids: Vec<String> = svc
        .deployments
        .iter()
        .skip(1)
        .map(|d| d.id.clone())
        .collect();
    let mut stopped = Vec::new();
    for old in &old_ids {
        let reason = format!("Scaling activity initiated by (deployment {primary_id})");
        for t in st.tasks.iter_mut().filter(|t| {
            t.deployment.as_deref() == Some(old.as_str()) && t.desired_status == "RUNNING"
        }) {
            let is_running = t.last_status == "RUNNING"
                && t.health.as_ref().is_none_or(|h| h.status == "HEALTHY");
            if !is_running || healthy > min_healthy {
                stop_task(
                    t,
                    now,
                    "ServiceSchedulerInitiated",
                    &reason,
                    &mut st.to_remove,
                );
                stopped.push(t.id.clone());
                if is_running {
                    healthy -= 1;
                }
            }
        }
    }
    if !stopped.is_empty() {
        event(
            svc,
            now,
            format!(
                "has stopped {} running tasks: {}.",
                stopped.len(),
                stopped
                    .iter()
                    .map(|i| format!("(task {i})"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
    }
    // Drained old deployments leave the list.
    let tasks = &st.tasks;
    svc.deployments.retain(|d| {
        d.id == primary_id
            || tasks.iter().any(|t| {
                t.deployment.as_deref() == Some(d.id.as_str()) && t.last_status != "STOPPED"
            })
    });

    complete_when_settled(st, now, svc);
    let p = &svc.deployments[0];
    if p.rollout_state == "COMPLETED" && !svc.steady_reported {
        svc.steady_reported = true;
        event(svc, now, "has reached a steady state.".into());
    }
    // Keep the history's copies current.
    for d in &svc.deployments {
        if let Some(h) = svc.history.iter_mut().find(|h| h.id == d.id) {
            *h = d.clone();
        }
    }
}

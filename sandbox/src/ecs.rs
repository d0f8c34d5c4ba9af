//! ECS: clusters, task definitions, services with the rolling-update deployment controller
//! simulated on the sandbox clock, the deployment circuit breaker, tasks that fail the way they
//! fail on ECS, and one-off tasks.
//!
//! The simulation is advanced lazily, in one-second steps of sandbox time, whenever a request
//! arrives; a task's fate (does its image exist? does it ask to crash?) is read from the real
//! registry by a probe that runs outside the state lock.

use crate::awsjson::{opt_str, AwsError, OpResult};
use crate::ecs_health::{Health, HealthCheck, LABEL_UNHEALTHY_AFTER};
use crate::ecs_tags::{self, parse_tags, set_tags, tags_json, tags_of, wants_tags};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Image label: the container exits with this code (after `exit-after` seconds of running).
pub const LABEL_EXIT_CODE: &str = "stevedore.sandbox.exit-code";
/// Image label: seconds a container runs before it exits (default 5).
pub const LABEL_EXIT_AFTER: &str = "stevedore.sandbox.exit-after";

const PROVISION_SECS: f64 = 1.0;
const PULL_SECS: f64 = 2.0;
const STOP_SECS: f64 = 2.0;
/// Seconds a primary deployment must hold its counts before ECS calls it COMPLETED.
const SETTLE_SECS: f64 = 2.0;

/// What a container image does when run.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Pulled; runs until stopped, or exits with a code after some seconds; its health check
    /// (if the task definition has one) fails after `unhealthy_after` seconds of running.
    Runs {
        exit: Option<(i32, f64)>,
        unhealthy_after: Option<f64>,
    },
    /// The pull fails with this reason.
    PullFails(String),
}

#[derive(Debug, Clone)]
pub struct TaskDef {
    pub json: Value,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    pub desired: i64,
    pub failed: i64,
    pub rollout_state: String,
    pub rollout_reason: String,
    pub created_at: f64,
    pub updated_at: f64,
    /// When the counts first matched; COMPLETED after SETTLE_SECS.
    pub settled_since: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub cluster: String,
    pub arn: String,
    pub task_definition: String,
    pub desired: i64,
    pub launch_type: String,
    pub network: Value,
    pub deployment_configuration: Value,
    pub deployments: Vec<Deployment>,
    pub history: Vec<Deployment>,
    pub events: Vec<(f64, String, String)>,
    pub created_at: f64,
    pub last_completed_td: Option<String>,
    pub steady_reported: bool,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A task's container in Docker mode.
#[derive(Debug, Clone, PartialEq)]
pub enum RealContainer {
    /// Simulated mode: the image's fate decides.
    Simulated,
    Starting,
    Started(String),
    Failed(String),
    Exited(String, i32),
}

/// A container to start, in Docker mode.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub task_arn: String,
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run by the engine (`--health-*`), with its intervals in real seconds.
    pub health: Option<HealthCheck>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub arn: String,
    pub id: String,
    pub cluster: String,
    pub td_arn: String,
    pub group: String,
    pub started_by: Option<String>,
    pub service: Option<String>,
    pub deployment: Option<String>,
    pub last_status: String,
    pub desired_status: String,
    pub launch_type: String,
    pub created_at: f64,
    pub pending_at: Option<f64>,
    pub started_at: Option<f64>,
    pub stopping_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<Container>,
    pub overrides: Value,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// The real container behind the task, in Docker mode.
    pub docker: RealContainer,
    /// The health check of its first essential container that has one, and its status.
    pub health: Option<Health>,
    /// The container the health check belongs to.
    pub health_container: Option<String>,
}

#[derive(Debug, Default)]
pub struct EcsState {
    /// Tasks run as real containers (see [`crate::docker`]).
    pub docker_mode: bool,
    /// Sandbox seconds a primary deployment must hold its counts before it is COMPLETED
    /// (SETTLE_SECS when 0; Docker mode sets it to a few real seconds at the clock's speed).
    pub settle_secs: f64,
    /// Containers to start, and to remove, once the lock is released.
    pub to_run: Vec<RunRequest>,
    pub to_remove: Vec<String>,
    pub clusters: BTreeMap<String, f64>,
    pub taskdefs: BTreeMap<String, Vec<TaskDef>>,
    pub services: BTreeMap<(String, String), Service>,
    pub tasks: Vec<Task>,
    pub fates: BTreeMap<String, Fate>,
    /// Resource tags by ARN (clusters, services, task definitions).
    pub tags: BTreeMap<String, Vec<(String, String)>>,
    /// Images whose fate is not known yet and no probe has been started for.
    pub to_probe: Vec<String>,
    pub last_tick: Option<f64>,
}

/// Where an ECS resource lives, for ARNs.
pub struct Ctx<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub now: f64,
}

impl Ctx<'_> {
    fn arn(&self, kind: &str, rest: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{kind}/{rest}", self.region, self.account)
    }
}

fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn new_deployment_id() -> String {
    format!(
        "ecs-svc/{:019}",
        rand::random::<u64>() % 10_000_000_000_000_000_000
    )
}

fn client(msg: impl Into<String>) -> AwsError {
    AwsError::client("ClientException", msg)
}

/// Fargate's valid task CPU/memory pairs (MiB).
pub fn fargate_pair_ok(cpu: u64, mem: u64) -> bool {
    let gib = |a: u64, b: u64, step: u64| {
        mem >= a * 1024 && mem <= b * 1024 && (mem - a * 1024).is_multiple_of(step * 1024)
    };
    match cpu {
        256 => [512, 1024, 2048].contains(&mem),
        512 => gib(1, 4, 1),
        1024 => gib(2, 8, 1),
        2048 => gib(4, 16, 1),
        4096 => gib(8, 30, 1),
        8192 => gib(16, 60, 4),
        16384 => gib(32, 120, 8),
        _ => false,
    }
}

fn name_ok(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validate a RegisterTaskDefinition request as ECS does, and return the stored definition.
pub fn register_task_definition(
    st: &mut EcsState,
    ctx: &Ctx,
    body: &Value,
    registered_by: &str,
) -> OpResult {
    let family = opt_str(body, "family").ok_or_else(|| client("Family is required."))?;
    let tags = parse_tags(body.get("tags"))?;
    if !name_ok(family) {
        return Err(client("Family contains invalid characters: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."));
    }
    let containers = body
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| client("Container definitions are required."))?;
    let mut names = std::collections::BTreeSet::new();
    let mut essential = 0;
    let mut stored_containers = Vec::new();
    for c in containers {
        let name = opt_str(c, "name")
            .ok_or_else(|| client("Container.name should not be null or empty."))?;
        if !name_ok(name) {
            return Err(client(format!("Container name '{name}' is invalid: up to 255 letters, numbers, hyphens and underscores are allowed.")));
        }
        if !names.insert(name.to_string()) {
            return Err(client(format!("Duplicate container name: {name}.")));
        }
        if opt_str(c, "image").is_none_or(str::is_empty) {
            return Err(client("Container.image should not be null or empty."));
        }
        if c.get("essential").and_then(Value::as_bool).unwrap_or(true) {
            essential += 1;
        }
        let mut c = c.as_object().cloned().unwrap_or_default();
        // The defaults ECS fills in and returns from DescribeTaskDefinition.
        c.entry("cpu").or_insert(json!(0));
        c.entry("essential").or_insert(json!(true));
        for k in [
            "portMappings",
            "environment",
            "mountPoints",
            "volumesFrom",
            "systemControls",
        ] {
            c.entry(k).or_insert(json!([]));
        }
        stored_containers.push(Value::Object(c));
    }
    if essential == 0 {
        return Err(client(
            "Task definition must have at least one essential container.",
        ));
    }
    let requires: Vec<&str> = body
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if requires.contains(&"FARGATE") {
        if opt_str(body, "networkMode") != Some("awsvpc") {
            return Err(client("Fargate only supports network mode 'awsvpc'."));
        }
        let cpu = opt_str(body, "cpu")
            .ok_or_else(|| client("Fargate requires that 'cpu' be defined at the task level."))?;
        let mem = opt_str(body, "memory").ok_or_else(|| {
            client("Fargate requires that 'memory' be defined at the task level.")
        })?;
        let (c, m) = (cpu.parse().unwrap_or(0), mem.parse().unwrap_or(0));
        if !fargate_pair_ok(c, m) {
            return Err(client(format!("No Fargate configuration exists for given values: {cpu} CPU, {mem} memory. See the Amazon ECS documentation for the valid values.")));
        }
    }
    let revisions = st.taskdefs.entry(family.to_string()).or_default();
    let revision = revisions.len() + 1;
    let arn = ctx.arn("task-definition", &format!("{family}:{revision}"));
    let mut td: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    td.remove("tags");
    td.insert(
        "containerDefinitions".into(),
        Value::Array(stored_containers),
    );
    td.entry("volumes").or_insert(json!([]));
    td.entry("placementConstraints").or_insert(json!([]));
    td.insert("taskDefinitionArn".into(), json!(arn));
    td.insert("revision".into(), json!(revision));
    td.insert("status".into(), json!("ACTIVE"));
    td.insert("requiresAttributes".into(), json!([]));
    let compat = if requires.contains(&"FARGATE") {
        json!(["EC2", "FARGATE"])
    } else {
        json!(["EC2"])
    };
    td.insert("compatibilities".into(), compat);
    td.insert("registeredAt".into(), json!(ctx.now));
    td.insert("registeredBy".into(), json!(registered_by));
    let td = Value::Object(td);
    revisions.push(TaskDef { json: td.clone() });
    let out = json!({"taskDefinition": td, "tags": tags_json(&tags)});
    set_tags(st, &arn, tags);
    Ok(out)
}

/// Resolve `family`, `family:rev` or an ARN to a stored definition.
pub fn find_task_definition<'a>(st: &'a EcsState, reference: &str) -> Option<&'a TaskDef> {
    let short = reference
        .rsplit_once(":task-definition/")
        .map_or(reference, |(_, r)| r);
    match short.split_once(':') {
        Some((family, rev)) => st
            .taskdefs
            .get(family)?
            .get(rev.parse::<usize>().ok()?.checked_sub(1)?),
        None => st
            .taskdefs
            .get(short)?
            .iter()
            .rev()
            .find(|t| t.json["status"] == "ACTIVE"),
    }
}

fn td_arn(td: &TaskDef) -> String {
    td.json["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Split an image reference into (registry host, repository path, tag or digest).
pub fn parse_image(image: &str) -> (Option<String>, String, String) {
    let (host, rest) = match image.split_once('/') {
        Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => {
            (Some(h.to_string()), r.to_string())
        }
        _ => (None, image.to_string()),
    };
    if let Some((path, digest)) = rest.split_once('@') {
        return (host, path.to_string(), digest.to_string());
    }
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (host, path.to_string(), tag.to_string()),
        _ => (host, rest, "latest".to_string()),
    }
}

/// Read an image's fate from its labels (or its absence).
pub fn fate_from_labels(labels: Option<&Map<String, Value>>, image: &str) -> Fate {
    match labels {
        None => Fate::PullFails(format!(
            "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref {image}: {image}: not found"
        )),
        Some(l) => {
            let num = |k: &str| l.get(k).and_then(|v| v.as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| v.as_f64()));
            Fate::Runs {
                exit: num(LABEL_EXIT_CODE).map(|c| (c as i32, num(LABEL_EXIT_AFTER).unwrap_or(5.0))),
                unhealthy_after: num(LABEL_UNHEALTHY_AFTER),
            }
        }
    }
}

fn containers_of(td: &TaskDef, overrides: &Value) -> Vec<Container> {
    let _ = overrides;
    td.json["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Container {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            image: c["image"].as_str().unwrap_or_default().to_string(),
            essential: c["essential"].as_bool().unwrap_or(true),
            exit_code: None,
            reason: None,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn new_task(
    st: &mut EcsState,
    ctx: &Ctx,
    cluster: &str,
    td: &TaskDef,
    group: String,
    service: Option<&str>,
    deployment: Option<&str>,
    started_by: Option<String>,
    launch_type: &str,
    overrides: Value,
) -> String {
    let id = new_id();
    let containers = containers_of(td, &overrides);
    let checked = td.json["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["essential"].as_bool().unwrap_or(true))
        .find_map(|c| Some((c["name"].as_str()?.to_string(), HealthCheck::of(c)?)));
    let arn = ctx.arn("task", &format!("{cluster}/{id}"));
    let docker = if st.docker_mode {
        // The first essential container runs for real, with its overrides.
        let c = containers
            .iter()
            .find(|c| c.essential)
            .unwrap_or(&containers[0]);
        let ov = overrides["containerOverrides"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["name"].as_str() == Some(c.name.as_str()));
        let command = ov
            .and_then(|o| o["command"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut env: Vec<(String, String)> = td.json["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["name"].as_str() == Some(c.name.as_str()))
            .flat_map(|d| d["environment"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        env.extend(
            ov.and_then(|o| o["environment"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    Some((
                        e["name"].as_str()?.to_string(),
                        e["value"].as_str().unwrap_or_default().to_string(),
                    ))
                }),
        );
        st.to_run.push(RunRequest {
            task_arn: arn.clone(),
            image: c.image.clone(),
            command,
            env,
            health: checked
                .as_ref()
                .filter(|(name, _)| *name == c.name)
                .map(|(_, hc)| hc.clone()),
        });
        RealContainer::Starting
    } else {
        for c in &containers {
            if !st.fates.contains_key(&c.image) && !st.to_probe.contains(&c.image) {
                st.to_probe.push(c.image.clone());
            }
        }
        RealContainer::Simulated
    };
    st.tasks.push(Task {
        docker,
        arn,
        id: id.clone(),
        cluster: cluster.to_string(),
        td_arn: td_arn(td),
        group,
        started_by,
        service: service.map(String::from),
        deployment: deployment.map(String::from),
        last_status: "PROVISIONING".into(),
        desired_status: "RUNNING".into(),
        launch_type: launch_type.to_string(),
        created_at: ctx.now,
        pending_at: None,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        containers,
        overrides,
        cpu: td.json["cpu"].as_str().map(String::from),
        memory: td.json["memory"].as_str().map(String::from),
        health: checked.as_ref().map(|(_, hc)| Health::new(hc.clone())),
        health_container: checked.map(|(name, _)| name),
    });
    id
}

/// A task stops on its own (its container failed to start or exited): it counts as failed for
/// its deployment.
fn fail_task(
    task: &mut Task,
    now: f64,
    code: &str,
    reason: &str,
    failed_by_deployment: &mut Vec<String>,
) {
    task.last_status = "STOPPED".into();
    task.desired_status = "STOPPED".into();
    task.stopped_at = Some(now);
    task.stopping_at = Some(now);
    task.stop_code = Some(code.to_string());
    task.stopped_reason = Some(reason.to_string());
    if let Some(d) = &task.deployment {
        failed_by_deployment.push(d.clone());
    }
}

fn stop_task(t: &mut Task, now: f64, code: &str, reason: &str, to_remove: &mut Vec<String>) {
    if t.desired_status == "STOPPED" {
        return;
    }
    if let RealContainer::Started(id) = &t.docker {
        to_remove.push(id.clone());
    }
    t.desired_status = "STOPPED".into();
    t.stop_code = Some(code.to_string());
    t.stopped_reason = Some(reason.to_string());
    t.stopping_at = Some(now);
    if t.last_status != "RUNNING" {
        t.last_status = "STOPPED".into();
        t.stopped_at = Some(now);
    } else {
        t.last_status = "DEACTIVATING".into();
    }
}

/// A service event. Events of one step share a sandbox second; each gets a distinct time a
/// millisecond after the previous one, so their order survives sorting by `createdAt`.
fn event(svc: &mut Service, now: f64, msg: String) {
    let at = match svc.events.last() {
        Some((last, ..)) if *last >= now => last + 0.001,
        _ => now,
    };
    svc.events.push((
        at,
        new_id()[..8].to_string() + "-" + &new_id()[..4],
        format!("(service {}) {msg}", svc.name),
    ));
}

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

fn step(st: &mut EcsState, ctx: &Ctx) {
    let now = ctx.now;
    // Tasks move through their life cycle.
    let mut failed_by_deployment: Vec<String> = Vec::new();
    for task in st.tasks.iter_mut() {
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
                        &mut failed_by_deployment,
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
                        &mut failed_by_deployment,
                    );
                }
            }
            "PENDING" if now - task.pending_at.unwrap_or(now) >= PULL_SECS => {
                let fates: Vec<Option<Fate>> = task
                    .containers
                    .iter()
                    .map(|c| st.fates.get(&c.image).cloned())
                    .collect();
                if fates.iter().any(Option::is_none) {
                    continue; // the probe has not answered yet
                }
                if let Some((i, Some(Fate::PullFails(reason)))) = fates
                    .iter()
                    .enumerate()
                    .find(|(_, f)| matches!(f, Some(Fate::PullFails(_))))
                {
                    task.containers[i].reason = Some(reason.clone());
                    fail_task(
                        task,
                        now,
                        "TaskFailedToStart",
                        reason,
                        &mut failed_by_deployment,
                    );
                } else {
                    task.last_status = "RUNNING".into();
                    task.started_at = Some(now);
                    if let Some(h) = task.health.as_mut() {
                        h.start(now);
                    }
                }
            }
            "RUNNING" => {
                let started = task.started_at.unwrap_or(now);
                let checked_image = task
                    .containers
                    .iter()
                    .find(|c| task.health_container.as_deref() == Some(c.name.as_str()))
                    .map(|c| c.image.clone());
                if let (Some(h), Some(image)) = (task.health.as_mut(), checked_image) {
                    let after = match st.fates.get(&image) {
                        Some(Fate::Runs {
                            unhealthy_after, ..
                        }) => *unhealthy_after,
                        _ => None,
                    };
                    h.simulate(now, started, after);
                }
                let exit = task.containers.iter().enumerate().find_map(|(i, c)| {
                    match st.fates.get(&c.image) {
                        Some(Fate::Runs {
                            exit: Some((code, after)),
                            ..
                        }) if c.essential && now - started >= *after => Some((i, *code)),
                        _ => None,
                    }
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
                        &mut failed_by_deployment,
                    );
                }
            }
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
    // A service replaces a task whose container failed its health checks, and the failure
    // counts for its deployment's circuit breaker. (A standalone task runs on regardless.)
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

fn live<'a>(tasks: &'a [Task], deployment: &'a str) -> impl Iterator<Item = &'a Task> + 'a {
    tasks.iter().filter(move |t| {
        t.deployment.as_deref() == Some(deployment) && t.desired_status == "RUNNING"
    })
}

fn control(st: &mut EcsState, ctx: &Ctx, svc: &mut Service) {
    let now = ctx.now;
    if svc.deployments.is_empty() {
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

    // Circuit breaker: 0.5 × desired, clamped to 3…200 failed tasks.
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
                let id = new_deployment_id();
                svc.deployments[0].status = "ACTIVE".into();
                let d = Deployment {
                    id: id.clone(),
                    status: "PRIMARY".into(),
                    task_definition: td_arn(&td),
                    desired,
                    failed: 0,
                    rollout_state: "IN_PROGRESS".into(),
                    rollout_reason: format!(
                        "ECS deployment circuit breaker: rolling back to deployment {}.",
                        svc.history
                            .iter()
                            .rev()
                            .find(|h| h.rollout_state == "COMPLETED")
                            .map(|h| h.id.clone())
                            .unwrap_or_default()
                    ),
                    created_at: now,
                    updated_at: now,
                    settled_since: None,
                };
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

    // Start tasks for the primary deployment within maximumPercent.
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

    // Stop old deployments' tasks while minimumHealthyPercent allows.
    let min_healthy = (desired * min_pct + 99) / 100;
    // Healthy: RUNNING, and HEALTHY when the task has a health check.
    let running = |tasks: &[Task], d: &str| {
        tasks
            .iter()
            .filter(|t| {
                t.deployment.as_deref() == Some(d)
                    && t.desired_status == "RUNNING"
                    && t.last_status == "RUNNING"
                    && t.health.as_ref().is_none_or(|h| h.status == "HEALTHY")
            })
            .count() as i64
    };
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

    // Completion: the primary holds desired running tasks and is alone, for a moment.
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

impl Deployment {
    fn rollout_state_reason_set(&mut self, r: &str) {
        self.rollout_reason = r.to_string();
    }
}

fn deployment_json(st: &EcsState, svc: &Service, d: &Deployment) -> Value {
    let of = |status: &str| {
        st.tasks
            .iter()
            .filter(|t| {
                t.deployment.as_deref() == Some(d.id.as_str())
                    && t.desired_status == "RUNNING"
                    && t.last_status == status
            })
            .count()
    };
    let pending = of("PROVISIONING") + of("PENDING");
    json!({
        "id": d.id, "status": d.status, "taskDefinition": d.task_definition, "desiredCount": d.desired,
        "pendingCount": pending, "runningCount": of("RUNNING"), "failedTasks": d.failed,
        "createdAt": d.created_at, "updatedAt": d.updated_at, "launchType": svc.launch_type,
        "networkConfiguration": svc.network, "rolloutState": d.rollout_state, "rolloutStateReason": d.rollout_reason,
    })
}

fn service_json(st: &EcsState, ctx: &Ctx, svc: &Service) -> Value {
    let count = |status: &str| {
        st.tasks
            .iter()
            .filter(|t| {
                t.service.as_deref() == Some(svc.name.as_str())
                    && t.cluster == svc.cluster
                    && t.desired_status == "RUNNING"
                    && t.last_status == status
            })
            .count()
    };
    let events: Vec<Value> = svc
        .events
        .iter()
        .rev()
        .take(100)
        .map(|(at, id, m)| json!({"id": id, "createdAt": at, "message": m}))
        .collect();
    json!({
        "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": ctx.arn("cluster", &svc.cluster),
        "status": "ACTIVE", "desiredCount": svc.desired, "runningCount": count("RUNNING"),
        "pendingCount": count("PENDING") + count("PROVISIONING"), "launchType": svc.launch_type,
        "taskDefinition": svc.task_definition, "deploymentConfiguration": svc.deployment_configuration,
        "deployments": svc.deployments.iter().map(|d| deployment_json(st, svc, d)).collect::<Vec<_>>(),
        "events": events, "createdAt": svc.created_at, "networkConfiguration": svc.network,
        "deploymentController": {"type": "ECS"}, "schedulingStrategy": "REPLICA",
    })
}

fn task_json(ctx: &Ctx, t: &Task) -> Value {
    let mut v = json!({
        "taskArn": t.arn, "clusterArn": ctx.arn("cluster", &t.cluster), "taskDefinitionArn": t.td_arn,
        "lastStatus": t.last_status, "desiredStatus": t.desired_status, "createdAt": t.created_at,
        "group": t.group, "launchType": t.launch_type, "overrides": t.overrides,
        "healthStatus": t.health.as_ref().map_or("UNKNOWN", |h| h.status),
        "containers": t.containers.iter().map(|c| {
            let mut cv = json!({"containerArn": ctx.arn("container", &format!("{}/{}/{}", t.cluster, t.id, c.name)), "taskArn": t.arn, "name": c.name, "image": c.image, "lastStatus": if t.last_status == "DEACTIVATING" { "RUNNING" } else { t.last_status.as_str() }});
            if let Some(code) = c.exit_code { cv["exitCode"] = json!(code); }
            cv["healthStatus"] = json!(match &t.health { Some(h) if t.health_container.as_deref() == Some(c.name.as_str()) => h.status, _ => "UNKNOWN" });
            if let Some(r) = &c.reason { cv["reason"] = json!(r); }
            cv
        }).collect::<Vec<_>>(),
    });
    for (k, val) in [
        ("startedAt", t.started_at),
        ("stoppingAt", t.stopping_at),
        ("stoppedAt", t.stopped_at),
        ("pullStartedAt", t.pending_at),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    for (k, val) in [
        ("stopCode", &t.stop_code),
        ("stoppedReason", &t.stopped_reason),
        ("startedBy", &t.started_by),
        ("cpu", &t.cpu),
        ("memory", &t.memory),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    v
}

/// The strings of a request's list member (missing or mistyped entries are skipped).
fn str_list<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn cluster_name(body: &Value) -> String {
    let c = opt_str(body, "cluster").unwrap_or("default");
    c.rsplit_once(":cluster/").map_or(c, |(_, n)| n).to_string()
}

fn require_cluster(st: &EcsState, name: &str) -> Result<(), AwsError> {
    if st.clusters.contains_key(name) {
        Ok(())
    } else {
        Err(AwsError::client(
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    }
}

fn service_key(body: &Value, field: &str) -> Result<(String, String), AwsError> {
    let s = opt_str(body, field)
        .ok_or_else(|| AwsError::invalid_parameter(format!("{field} is required")))?;
    Ok((
        cluster_name(body),
        s.rsplit('/').next().unwrap_or(s).to_string(),
    ))
}

fn deployment_configuration(given: Option<&Value>, old: Option<&Value>) -> Value {
    let mut c = old.cloned().unwrap_or_else(|| json!({"maximumPercent": 200, "minimumHealthyPercent": 100, "deploymentCircuitBreaker": {"enable": false, "rollback": false}}));
    if let Some(Value::Object(g)) = given {
        for (k, v) in g {
            c[k] = v.clone();
        }
    }
    c
}

/// Run one ECS operation (after the caller has advanced the simulation with [`tick`]).
pub fn handle(st: &mut EcsState, ctx: &Ctx, op: &str, body: &Value, caller_arn: &str) -> OpResult {
    match op {
        "CreateCluster" => {
            let name = opt_str(body, "clusterName")
                .unwrap_or("default")
                .to_string();
            if !name_ok(&name) {
                return Err(AwsError::invalid_parameter("Cluster names can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores and hyphens."));
            }
            let tags = parse_tags(body.get("tags"))?;
            st.clusters.entry(name.clone()).or_insert(ctx.now);
            let arn = ctx.arn("cluster", &name);
            set_tags(st, &arn, tags);
            Ok(
                json!({"cluster": {"clusterArn": arn, "clusterName": name, "status": "ACTIVE", "registeredContainerInstancesCount": 0, "runningTasksCount": 0, "pendingTasksCount": 0, "activeServicesCount": 0, "tags": tags_json(tags_of(st, &arn))}}),
            )
        }
        "DescribeClusters" => {
            let names: Vec<String> = body
                .get("clusters")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_else(|| vec!["default".into()]);
            let (mut clusters, mut failures) = (vec![], vec![]);
            for n in names {
                let short = n
                    .rsplit_once(":cluster/")
                    .map_or(n.as_str(), |(_, x)| x)
                    .to_string();
                if st.clusters.contains_key(&short) {
                    let running = st
                        .tasks
                        .iter()
                        .filter(|t| t.cluster == short && t.last_status == "RUNNING")
                        .count();
                    let services = st.services.keys().filter(|(c, _)| *c == short).count();
                    let arn = ctx.arn("cluster", &short);
                    let mut c = json!({"clusterArn": arn, "clusterName": short, "status": "ACTIVE", "runningTasksCount": running, "activeServicesCount": services});
                    if wants_tags(body) {
                        c["tags"] = tags_json(tags_of(st, &arn));
                    }
                    clusters.push(c);
                } else {
                    failures.push(json!({"arn": ctx.arn("cluster", &short), "reason": "MISSING"}));
                }
            }
            Ok(json!({"clusters": clusters, "failures": failures}))
        }
        "RegisterTaskDefinition" => register_task_definition(st, ctx, body, caller_arn),
        "DescribeTaskDefinition" => {
            let r = opt_str(body, "taskDefinition")
                .ok_or_else(|| client("taskDefinition is required"))?;
            let td = find_task_definition(st, r)
                .ok_or_else(|| client("Unable to describe task definition."))?;
            // Tags only when asked for, as ECS answers.
            let mut out = json!({"taskDefinition": td.json});
            if wants_tags(body) {
                out["tags"] = tags_json(tags_of(st, &td_arn(td)));
            }
            Ok(out)
        }
        "DeregisterTaskDefinition" => {
            let r = opt_str(body, "taskDefinition")
                .ok_or_else(|| client("taskDefinition is required"))?;
            if !r.contains(':') {
                return Err(AwsError::invalid_parameter(
                    "Invalid revision number. Number: ",
                ));
            }
            let short = r.rsplit_once(":task-definition/").map_or(r, |(_, x)| x);
            let (family, rev) = short
                .split_once(':')
                .ok_or_else(|| client("Unable to describe task definition."))?;
            let td = st
                .taskdefs
                .get_mut(family)
                .and_then(|v| v.get_mut(rev.parse::<usize>().unwrap_or(0).wrapping_sub(1)))
                .ok_or_else(|| client("The specified task definition does not exist."))?;
            td.json["status"] = json!("INACTIVE");
            td.json["deregisteredAt"] = json!(ctx.now);
            Ok(json!({"taskDefinition": td.json}))
        }
        "ListTaskDefinitions" => {
            // familyPrefix is the whole family name, despite its name (the API reference says so).
            let family = opt_str(body, "familyPrefix");
            let status = opt_str(body, "status").unwrap_or("ACTIVE");
            let mut arns: Vec<String> = st
                .taskdefs
                .iter()
                .filter(|(f, _)| family.is_none_or(|x| x == f.as_str()))
                .flat_map(|(_, v)| v.iter())
                .filter(|t| t.json["status"] == status)
                .map(td_arn)
                .collect();
            if opt_str(body, "sort") == Some("DESC") {
                arns.reverse();
            }
            let (arns, next) = ecs_tags::page(arns, body, 100)?;
            let mut out = json!({"taskDefinitionArns": arns});
            if let Some(n) = next {
                out["nextToken"] = json!(n);
            }
            Ok(out)
        }

        "CreateService" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let name = opt_str(body, "serviceName")
                .ok_or_else(|| AwsError::invalid_parameter("serviceName is required"))?
                .to_string();
            if !name_ok(&name) {
                return Err(AwsError::invalid_parameter("Service names can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores and hyphens."));
            }
            let tags = parse_tags(body.get("tags"))?;
            if st.services.contains_key(&(cluster.clone(), name.clone())) {
                return Err(AwsError::invalid_parameter(
                    "Creation of service was not idempotent.",
                ));
            }
            let td_ref = opt_str(body, "taskDefinition")
                .ok_or_else(|| AwsError::invalid_parameter("taskDefinition is required"))?;
            let td = find_task_definition(st, td_ref)
                .cloned()
                .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition not found."))?;
            let launch = opt_str(body, "launchType").unwrap_or("EC2").to_string();
            if launch == "FARGATE"
                && body
                    .pointer("/networkConfiguration/awsvpcConfiguration/subnets")
                    .and_then(Value::as_array)
                    .is_none_or(|s| s.is_empty())
            {
                return Err(AwsError::invalid_parameter("Network Configuration must be provided when networkMode 'awsvpc' is specified."));
            }
            let desired = body
                .get("desiredCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let d = Deployment {
                id: new_deployment_id(),
                status: "PRIMARY".into(),
                task_definition: td_arn(&td),
                desired,
                failed: 0,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: "ECS deployment in progress.".into(),
                created_at: ctx.now,
                updated_at: ctx.now,
                settled_since: None,
            };
            let svc = Service {
                arn: ctx.arn("service", &format!("{cluster}/{name}")),
                name: name.clone(),
                cluster: cluster.clone(),
                task_definition: td_arn(&td),
                desired,
                launch_type: launch,
                network: body
                    .get("networkConfiguration")
                    .cloned()
                    .unwrap_or(Value::Null),
                deployment_configuration: deployment_configuration(
                    body.get("deploymentConfiguration"),
                    None,
                ),
                deployments: vec![d.clone()],
                history: vec![d],
                events: vec![],
                created_at: ctx.now,
                last_completed_td: None,
                steady_reported: false,
            };
            set_tags(st, &svc.arn, tags);
            let mut out = service_json(st, ctx, &svc);
            out["tags"] = tags_json(tags_of(st, &svc.arn));
            st.services.insert((cluster, name), svc);
            Ok(json!({"service": out}))
        }
        "UpdateService" => {
            let key = service_key(body, "service")?;
            require_cluster(st, &key.0)?;
            let mut svc = st.services.get(&key).cloned().ok_or_else(|| {
                AwsError::client("ServiceNotFoundException", "Service not found.")
            })?;
            if let Some(n) = body.get("desiredCount").and_then(Value::as_i64) {
                svc.desired = n;
                for d in svc.deployments.iter_mut().take(1) {
                    d.desired = n;
                }
            }
            svc.deployment_configuration = deployment_configuration(
                body.get("deploymentConfiguration"),
                Some(&svc.deployment_configuration),
            );
            if let Some(n) = body.get("networkConfiguration") {
                svc.network = n.clone();
            }
            let new_td = match opt_str(body, "taskDefinition") {
                Some(r) => Some(
                    find_task_definition(st, r)
                        .cloned()
                        .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition not found."))?,
                ),
                None => None,
            };
            let force = body
                .get("forceNewDeployment")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let changed = new_td
                .as_ref()
                .is_some_and(|td| td_arn(td) != svc.task_definition);
            if changed || force {
                let td = new_td
                    .map(|t| td_arn(&t))
                    .unwrap_or(svc.task_definition.clone());
                for d in svc.deployments.iter_mut() {
                    d.status = "ACTIVE".into();
                }
                let d = Deployment {
                    id: new_deployment_id(),
                    status: "PRIMARY".into(),
                    task_definition: td.clone(),
                    desired: svc.desired,
                    failed: 0,
                    rollout_state: "IN_PROGRESS".into(),
                    rollout_reason: "ECS deployment in progress.".into(),
                    created_at: ctx.now,
                    updated_at: ctx.now,
                    settled_since: None,
                };
                svc.task_definition = td;
                svc.deployments.insert(0, d.clone());
                svc.history.push(d);
                svc.steady_reported = false;
            }
            let out = service_json(st, ctx, &svc);
            st.services.insert(key, svc);
            Ok(json!({"service": out}))
        }
        "DescribeServices" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let (mut services, mut failures) = (vec![], vec![]);
            for s in str_list(body, "services") {
                let name = s.rsplit('/').next().unwrap_or(s);
                match st.services.get(&(cluster.clone(), name.to_string())) {
                    Some(svc) => {
                        let mut v = service_json(st, ctx, svc);
                        if wants_tags(body) {
                            v["tags"] = tags_json(tags_of(st, &svc.arn));
                        }
                        services.push(v)
                    }
                    None => failures.push(json!({"arn": ctx.arn("service", &format!("{cluster}/{name}")), "reason": "MISSING"})),
                }
            }
            Ok(json!({"services": services, "failures": failures}))
        }
        "DeleteService" => {
            let key = service_key(body, "service")?;
            require_cluster(st, &key.0)?;
            let svc = st.services.get(&key).cloned().ok_or_else(|| {
                AwsError::client("ServiceNotFoundException", "Service not found.")
            })?;
            let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
            if svc.desired > 0 && !force {
                return Err(AwsError::invalid_parameter(
                    "The service cannot be stopped while it is scaled above 0.",
                ));
            }
            for t in st.tasks.iter_mut().filter(|t| {
                t.service.as_deref() == Some(svc.name.as_str()) && t.cluster == svc.cluster
            }) {
                stop_task(
                    t,
                    ctx.now,
                    "ServiceSchedulerInitiated",
                    "Service deleted",
                    &mut st.to_remove,
                );
            }
            let mut out = service_json(st, ctx, &svc);
            out["status"] = json!("DRAINING");
            st.services.remove(&key);
            Ok(json!({"service": out}))
        }
        "ListTasks" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let desired = opt_str(body, "desiredStatus").unwrap_or("RUNNING");
            let service =
                opt_str(body, "serviceName").map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
            let family = opt_str(body, "family");
            let started_by = opt_str(body, "startedBy");
            if let Some(s) = &service {
                if !st.services.contains_key(&(cluster.clone(), s.clone())) {
                    return Err(AwsError::client(
                        "ServiceNotFoundException",
                        "Service not found.",
                    ));
                }
            }
            let arns: Vec<&str> = st
                .tasks
                .iter()
                .filter(|t| t.cluster == cluster && t.desired_status == desired)
                .filter(|t| {
                    service
                        .as_ref()
                        .is_none_or(|s| t.service.as_ref() == Some(s))
                })
                .filter(|t| {
                    family.is_none_or(|f| t.td_arn.contains(&format!("task-definition/{f}:")))
                })
                .filter(|t| started_by.is_none_or(|b| t.started_by.as_deref() == Some(b)))
                .map(|t| t.arn.as_str())
                .collect();
            Ok(json!({"taskArns": arns}))
        }
        "DescribeTasks" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let (mut tasks, mut failures) = (vec![], vec![]);
            for r in str_list(body, "tasks") {
                match st.tasks.iter().find(|t| t.arn == r || t.id == r) {
                    Some(t) => tasks.push(task_json(ctx, t)),
                    None => failures.push(json!({"arn": r, "reason": "MISSING"})),
                }
            }
            Ok(json!({"tasks": tasks, "failures": failures}))
        }
        "RunTask" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let td_ref = opt_str(body, "taskDefinition")
                .ok_or_else(|| AwsError::invalid_parameter("taskDefinition is required"))?;
            let td = find_task_definition(st, td_ref)
                .cloned()
                .ok_or_else(|| client("TaskDefinition not found."))?;
            let count = body
                .get("count")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .clamp(1, 10);
            let launch = opt_str(body, "launchType").unwrap_or("EC2").to_string();
            let overrides = body
                .get("overrides")
                .cloned()
                .unwrap_or_else(|| json!({"containerOverrides": []}));
            let family = td.json["family"].as_str().unwrap_or_default().to_string();
            let ids: Vec<String> = (0..count)
                .map(|_| {
                    new_task(
                        st,
                        ctx,
                        &cluster,
                        &td,
                        format!("family:{family}"),
                        None,
                        None,
                        opt_str(body, "startedBy").map(String::from),
                        &launch,
                        overrides.clone(),
                    )
                })
                .collect();
            let tasks: Vec<Value> = ids
                .iter()
                .filter_map(|id| st.tasks.iter().find(|t| &t.id == id))
                .map(|t| task_json(ctx, t))
                .collect();
            Ok(json!({"tasks": tasks, "failures": []}))
        }
        "StopTask" => {
            let cluster = cluster_name(body);
            require_cluster(st, &cluster)?;
            let r = opt_str(body, "task")
                .ok_or_else(|| AwsError::invalid_parameter("task is required"))?;
            let reason = opt_str(body, "reason")
                .unwrap_or("Task stopped by user")
                .to_string();
            let t = st
                .tasks
                .iter_mut()
                .find(|t| t.arn == r || t.id == r)
                .ok_or_else(|| AwsError::invalid_parameter("The referenced task was not found."))?;
            stop_task(t, ctx.now, "UserInitiated", &reason, &mut st.to_remove);
            let t = t.clone();
            Ok(json!({"task": task_json(ctx, &t)}))
        }
        "ListServiceDeployments" | "DescribeServiceDeployments" => {
            service_deployments(st, ctx, op, body)
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            ecs_tags::handle(st, ctx.region, op, body)
        }
        "ListClusters" => ecs_tags::list_clusters(st, |c| ctx.arn("cluster", c), body),
        "ListServices" => ecs_tags::list_services(st, &cluster_name(body), body),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement ECS.{other}"),
        )),
    }
}

fn service_deployment_json(ctx: &Ctx, svc: &Service, d: &Deployment) -> Value {
    let status = match (d.rollout_state.as_str(), d.status.as_str()) {
        ("COMPLETED", _) => "SUCCESSFUL",
        ("FAILED", _)
            if svc
                .history
                .iter()
                .any(|h| h.created_at >= d.created_at && h.id != d.id) =>
        {
            "ROLLBACK_SUCCESSFUL"
        }
        ("FAILED", _) => "STOPPED",
        _ => "IN_PROGRESS",
    };
    json!({
        "serviceDeploymentArn": ctx.arn("service-deployment", &format!("{}/{}/{}", svc.cluster, svc.name, d.id.trim_start_matches("ecs-svc/"))),
        "serviceArn": svc.arn, "clusterArn": ctx.arn("cluster", &svc.cluster), "status": status,
        "statusReason": d.rollout_reason, "createdAt": d.created_at, "updatedAt": d.updated_at,
        "targetServiceRevision": {"arn": d.task_definition, "requestedTaskCount": d.desired},
    })
}

fn service_deployments(st: &EcsState, ctx: &Ctx, op: &str, body: &Value) -> OpResult {
    if op == "ListServiceDeployments" {
        let key = service_key(body, "service")?;
        let svc = st
            .services
            .get(&key)
            .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
        let list: Vec<Value> = svc
            .history
            .iter()
            .rev()
            .map(|d| service_deployment_json(ctx, svc, d))
            .collect();
        return Ok(json!({"serviceDeployments": list}));
    }
    let (mut found, mut failures) = (vec![], vec![]);
    for arn in str_list(body, "serviceDeploymentArns") {
        let hit = st.services.values().find_map(|svc| {
            svc.history
                .iter()
                .find(|d| arn.ends_with(d.id.trim_start_matches("ecs-svc/")))
                .map(|d| service_deployment_json(ctx, svc, d))
        });
        match hit {
            Some(v) => found.push(v),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_pairs() {
        assert!(fargate_pair_ok(256, 512));
        assert!(!fargate_pair_ok(256, 4096));
        assert!(fargate_pair_ok(512, 3072));
        assert!(fargate_pair_ok(4096, 30720));
        assert!(fargate_pair_ok(8192, 20480));
        assert!(!fargate_pair_ok(8192, 18432));
        assert!(!fargate_pair_ok(300, 512));
    }

    #[test]
    fn image_references() {
        assert_eq!(
            parse_image("127.0.0.1:5000/team/app:v1"),
            (
                Some("127.0.0.1:5000".into()),
                "team/app".into(),
                "v1".into()
            )
        );
        assert_eq!(
            parse_image("127.0.0.1:5000/app@sha256:ab"),
            (
                Some("127.0.0.1:5000".into()),
                "app".into(),
                "sha256:ab".into()
            )
        );
        assert_eq!(
            parse_image("nginx"),
            (None, "nginx".into(), "latest".into())
        );
        assert_eq!(
            parse_image("localhost/app"),
            (Some("localhost".into()), "app".into(), "latest".into())
        );
    }

    fn ctx(now: f64) -> Ctx<'static> {
        Ctx {
            region: "us-east-1",
            account: "123456789012",
            now,
        }
    }

    fn setup(st: &mut EcsState, image: &str, fate: Fate, breaker: bool) {
        handle(
            st,
            &ctx(0.0),
            "CreateCluster",
            &json!({"clusterName": "c"}),
            "me",
        )
        .unwrap();
        handle(
            st,
            &ctx(0.0),
            "RegisterTaskDefinition",
            &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "good"}]}),
            "me",
        )
        .unwrap();
        st.fates.insert(
            "good".into(),
            Fate::Runs {
                exit: None,
                unhealthy_after: None,
            },
        );
        st.fates.insert(image.into(), fate);
        handle(st, &ctx(0.0), "CreateService", &json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web", "desiredCount": 2,
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}}}), "me").unwrap();
        tick(st, &ctx(0.0));
        tick(st, &ctx(30.0));
        handle(
            st,
            &ctx(30.0),
            "RegisterTaskDefinition",
            &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": image}]}),
            "me",
        )
        .unwrap();
        handle(
            st,
            &ctx(30.0),
            "UpdateService",
            &json!({"cluster": "c", "service": "s", "taskDefinition": "web:2"}),
            "me",
        )
        .unwrap();
    }

    fn svc(st: &EcsState, now: f64) -> Value {
        service_json(
            st,
            &ctx(now),
            &st.services[&("c".to_string(), "s".to_string())],
        )
    }

    #[test]
    fn a_rollout_completes_and_drains_the_old_deployment() {
        let mut st = EcsState::default();
        setup(
            &mut st,
            "good2",
            Fate::Runs {
                exit: None,
                unhealthy_after: None,
            },
            false,
        );
        let first = svc(&st, 30.0);
        assert_eq!(first["deployments"].as_array().unwrap().len(), 2);
        let new_id = first["deployments"][0]["id"].as_str().unwrap().to_string();
        tick(&mut st, &ctx(60.0));
        let s = svc(&st, 60.0);
        let deps = s["deployments"].as_array().unwrap();
        assert_eq!(deps.len(), 1, "{s:#}");
        assert_eq!(deps[0]["id"], new_id.as_str());
        assert_eq!(deps[0]["rolloutState"], "COMPLETED");
        assert_eq!(s["runningCount"], 2);
        let msgs: Vec<&str> = s["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains(&format!("(deployment {new_id}) deployment completed."))),
            "{msgs:?}"
        );
        assert!(msgs[0].ends_with("has reached a steady state."), "{msgs:?}");
    }

    #[test]
    fn the_circuit_breaker_fails_and_rolls_back_a_crashing_image() {
        let mut st = EcsState::default();
        setup(
            &mut st,
            "crash",
            Fate::Runs {
                exit: Some((3, 1.0)),
                unhealthy_after: None,
            },
            true,
        );
        let failing = svc(&st, 30.0)["deployments"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        tick(&mut st, &ctx(120.0));
        let s = svc(&st, 120.0);
        let deps = s["deployments"].as_array().unwrap();
        assert!(
            deps.iter().all(|d| d["id"] != failing.as_str()),
            "the failed deployment drains away: {s:#}"
        );
        assert_eq!(
            deps[0]["taskDefinition"].as_str().unwrap(),
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
        );
        assert_eq!(deps[0]["rolloutState"], "COMPLETED");
        let msgs: Vec<&str> = s["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            msgs.iter().any(|m| m.contains(&format!(
                "(deployment {failing}) deployment failed: tasks failed to start."
            ))),
            "{msgs:?}"
        );
        let stopped = st
            .tasks
            .iter()
            .filter(|t| t.stop_code.as_deref() == Some("EssentialContainerExited"))
            .count();
        assert!(
            stopped >= 3,
            "threshold is at least 3 failed tasks, saw {stopped}"
        );
        let t = st
            .tasks
            .iter()
            .find(|t| t.stop_code.as_deref() == Some("EssentialContainerExited"))
            .unwrap();
        assert_eq!(t.containers[0].exit_code, Some(3));
        assert_eq!(
            t.stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
    }

    #[test]
    fn a_missing_image_fails_to_pull_and_without_a_breaker_keeps_trying() {
        let mut st = EcsState::default();
        setup(
            &mut st,
            "missing",
            fate_from_labels(None, "127.0.0.1:1/app:nope"),
            false,
        );
        tick(&mut st, &ctx(90.0));
        let s = svc(&st, 90.0);
        assert_eq!(s["deployments"][0]["rolloutState"], "IN_PROGRESS");
        assert!(s["deployments"][0]["failedTasks"].as_i64().unwrap() >= 3);
        assert_eq!(
            s["deployments"].as_array().unwrap().len(),
            2,
            "the old deployment keeps serving"
        );
        let t = st
            .tasks
            .iter()
            .find(|t| t.stop_code.as_deref() == Some("TaskFailedToStart"))
            .unwrap();
        assert!(t
            .stopped_reason
            .as_deref()
            .unwrap()
            .starts_with("CannotPullContainerError"));
    }

    #[test]
    fn task_definitions_are_validated_as_ecs_does() {
        let mut st = EcsState::default();
        let c = ctx(0.0);
        let err = |b: Value| {
            register_task_definition(&mut st.clone_for_test(), &c, &b, "me")
                .unwrap_err()
                .message
        };
        assert!(err(json!({"family": "f", "containerDefinitions": []})).contains("required"));
        assert!(err(json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]})).contains("Duplicate"));
        assert!(err(json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "essential": false}]})).contains("essential"));
        assert!(err(json!({"family": "f", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "4096", "containerDefinitions": [{"name": "a", "image": "x"}]})).contains("No Fargate configuration"));
        let ok = register_task_definition(
            &mut st,
            &c,
            &json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}]}),
            "me",
        )
        .unwrap();
        assert_eq!(ok["taskDefinition"]["revision"], 1);
        assert_eq!(
            ok["taskDefinition"]["containerDefinitions"][0]["essential"],
            true
        );
        let again = register_task_definition(
            &mut st,
            &c,
            &json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "y"}]}),
            "me",
        )
        .unwrap();
        assert_eq!(
            again["taskDefinition"]["taskDefinitionArn"],
            "arn:aws:ecs:us-east-1:123456789012:task-definition/f:2"
        );
        assert_eq!(find_task_definition(&st, "f").unwrap().json["revision"], 2);
        assert_eq!(
            find_task_definition(&st, "f:1").unwrap().json["revision"],
            1
        );
    }

    impl EcsState {
        fn clone_for_test(&self) -> EcsState {
            EcsState {
                taskdefs: self.taskdefs.clone(),
                ..Default::default()
            }
        }
    }

    /// Tasks of the service that are RUNNING and HEALTHY (all of them have a health check).
    fn healthy(st: &EcsState) -> usize {
        st.tasks
            .iter()
            .filter(|t| {
                t.service.is_some()
                    && t.desired_status == "RUNNING"
                    && t.last_status == "RUNNING"
                    && t.health.as_ref().is_some_and(|h| h.status == "HEALTHY")
            })
            .count()
    }

    #[test]
    fn an_unhealthy_rollout_never_drops_below_minimum_healthy_and_the_breaker_fails_it() {
        let mut st = EcsState::default();
        let check = json!({"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 2});
        handle(
            &mut st,
            &ctx(0.0),
            "CreateCluster",
            &json!({"clusterName": "c"}),
            "me",
        )
        .unwrap();
        for (image, unhealthy_after) in [("good", None), ("sick", Some(0.0))] {
            st.fates.insert(
                image.into(),
                Fate::Runs {
                    exit: None,
                    unhealthy_after,
                },
            );
            handle(&mut st, &ctx(0.0), "RegisterTaskDefinition",
                &json!({"family": "web", "containerDefinitions": [{"name": "web", "image": image, "healthCheck": check}]}), "me").unwrap();
        }
        handle(&mut st, &ctx(0.0), "CreateService", &json!({"cluster": "c", "serviceName": "s", "taskDefinition": "web:1", "desiredCount": 4,
            "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200, "deploymentCircuitBreaker": {"enable": true, "rollback": true}}}), "me").unwrap();
        let mut now = 0.0;
        while now < 60.0 {
            now += 1.0;
            tick(&mut st, &ctx(now));
        }
        assert_eq!(svc(&st, now)["deployments"][0]["rolloutState"], "COMPLETED");
        assert_eq!(healthy(&st), 4);
        handle(
            &mut st,
            &ctx(now),
            "UpdateService",
            &json!({"cluster": "c", "service": "s", "taskDefinition": "web:2"}),
            "me",
        )
        .unwrap();
        let (mut lowest, mut failed_at) = (usize::MAX, None);
        while now < 400.0 && failed_at.is_none() {
            now += 1.0;
            tick(&mut st, &ctx(now));
            lowest = lowest.min(healthy(&st));
            let s = svc(&st, now);
            if s["deployments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["rolloutState"] == "FAILED")
            {
                failed_at = Some(now);
            }
        }
        assert!(
            failed_at.is_some(),
            "the breaker fails a rollout whose tasks never get healthy"
        );
        assert_eq!(
            lowest, 4,
            "minimumHealthyPercent 100 of 4: never fewer healthy tasks"
        );
        let stopped: Vec<&Task> = st
            .tasks
            .iter()
            .filter(|t| t.stopped_reason.as_deref() == Some("Task failed container health checks"))
            .collect();
        assert!(
            stopped.len() >= 3,
            "at least the breaker's threshold of unhealthy tasks was replaced"
        );
        assert!(stopped.iter().all(|t| t.td_arn.ends_with("web:2")));
        // Events: distinct, ordered times.
        let times: Vec<f64> = st.services[&("c".to_string(), "s".to_string())]
            .events
            .iter()
            .map(|e| e.0)
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    }
}

//! The ECS model: task definitions, services, deployments and tasks, and what they do.

use super::health::{Health, HealthCheck, LABEL_UNHEALTHY_AFTER};
use super::tags::{parse_tags, set_tags, tags_json};
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Image label: the container exits with this code (after `exit-after` seconds of running).
pub const LABEL_EXIT_CODE: &str = "stevedore.sandbox.exit-code";
/// Image label: seconds a container runs before it exits (default 5).
pub const LABEL_EXIT_AFTER: &str = "stevedore.sandbox.exit-after";

pub(super) const PROVISION_SECS: f64 = 1.0;
pub(super) const PULL_SECS: f64 = 2.0;
pub(super) const STOP_SECS: f64 = 2.0;
/// Seconds a primary deployment must hold its counts before ECS calls it COMPLETED.
pub(super) const SETTLE_SECS: f64 = 2.0;

/// What a container image does when run.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Pulled; runs until stopped, or exits with a code after some seconds; its health check
    /// (if the task definition has one) fails after `unhealthy_after` seconds of running.
    Runs {
        exit: Option<(i32, f64)>,
        unhealthy_after: Option<f64>,
        /// What it prints (to an awslogs stream).
        log: crate::logs::LogLines,
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
    /// The id in its service deployment's ARN.
    pub sd_id: String,
    /// A BLUE_GREEN, LINEAR or CANARY deployment's progress (`None`: a rolling update).
    pub native: Option<super::strategies::Native>,
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
    /// CreateService's loadBalancers, answered back.
    pub load_balancers: Value,
    pub deployment_configuration: Value,
    pub deployments: Vec<Deployment>,
    pub history: Vec<Deployment>,
    pub events: Vec<(f64, String, String)>,
    pub created_at: f64,
    pub last_completed_td: Option<String>,
    pub steady_reported: bool,
    /// `deploymentController.type`: ECS, CODE_DEPLOY or EXTERNAL.
    pub controller: String,
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
    /// The container's port mappings, published on loopback ports for the listeners.
    pub ports: Vec<u16>,
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
    /// RunTask's enableExecuteCommand and platformVersion, answered back as given.
    pub enable_execute_command: bool,
    pub platform_version: Option<String>,
    /// The capacity provider RunTask's strategy placed the task with.
    pub capacity_provider: Option<String>,
    /// Docker mode: what the real container printed (sandbox time read, line), read every
    /// second while it runs and at its exit; and how many stdout and stderr lines were read.
    pub docker_log: Option<Vec<(f64, String)>>,
    pub docker_log_read: (usize, usize),
    /// Docker mode: container port → the loopback address the engine published it on.
    pub published: Vec<(u16, String)>,
    /// awsvpc: the task's network interface.
    pub eni: Option<super::network::Eni>,
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
    /// CloudWatch alarm states by name (OK unless set through the control API).
    pub alarms: BTreeMap<String, String>,
    /// What lifecycle hooks' Lambda functions answer (SUCCEEDED unless scripted).
    pub lambdas: Vec<super::strategies::LambdaScript>,
    /// CodeDeploy's applications, deployment groups and deployments in this region.
    pub codedeploy: super::codedeploy::CodeDeploy,
}

/// Where an ECS resource lives, for ARNs.
pub struct Ctx<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub now: f64,
}

impl Ctx<'_> {
    pub(super) fn arn(&self, kind: &str, rest: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{kind}/{rest}", self.region, self.account)
    }
}

pub(super) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A random id in the UUID form AWS gives attachments and CodeDeploy applications.
pub(super) fn new_uuid() -> String {
    let h = new_id();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub(super) fn new_deployment_id() -> String {
    format!(
        "ecs-svc/{:019}",
        rand::random::<u64>() % 10_000_000_000_000_000_000
    )
}

pub(super) fn client(msg: impl Into<String>) -> AwsError {
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

pub(super) fn name_ok(s: &str) -> bool {
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

pub(super) fn td_arn(td: &TaskDef) -> String {
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
                log: crate::logs::LogLines::from_labels(l),
            }
        }
    }
}

pub(super) fn containers_of(td: &TaskDef, overrides: &Value) -> Vec<Container> {
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
pub(super) fn new_task(
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
        let health = checked
            .as_ref()
            .filter(|(name, _)| *name == c.name)
            .map(|(_, hc)| hc.clone());
        st.to_run.push(super::run_request::run_request(
            td,
            c,
            &overrides,
            health,
            arn.clone(),
        ));
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
        enable_execute_command: false,
        platform_version: None,
        capacity_provider: None,
        docker_log: None,
        docker_log_read: (0, 0),
        published: vec![],
        eni: None,
    });
    id
}

/// A task stops on its own (its container failed to start or exited): it counts as failed for
/// its deployment.
pub(super) fn fail_task(
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

pub(super) fn stop_task(
    t: &mut Task,
    now: f64,
    code: &str,
    reason: &str,
    to_remove: &mut Vec<String>,
) {
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
pub(super) fn event(svc: &mut Service, now: f64, msg: String) {
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

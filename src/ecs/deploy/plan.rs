//! Everything `stevedore deploy` checks and reads before its first call: the plan.

use crate::cli::DeployArgs;
use crate::ecs::taskdef::{self, Changes};
use crate::error::usage;
use crate::values::{CircuitBreaker, WaitUntil};
use anyhow::Result;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Everything validated before the first call.
#[derive(Debug)]
pub struct Plan {
    pub cluster: String,
    /// The region the cluster is looked up in (set once the settings are read).
    pub region: String,
    pub changes: Changes,
    /// A task definition given whole (file or template), already registrable.
    pub given: Option<Value>,
    pub start_from: Option<String>,
    pub desired_count: Option<i32>,
    pub force: bool,
    pub breaker: Option<CircuitBreaker>,
    pub dry_run: bool,
    pub wait_until: WaitUntil,
    pub timeout: Duration,
    pub poll: Duration,
    pub rollback: bool,
    /// `--rollback-wait full`: a rollback ECS makes is followed to its end.
    pub follow_rollback: bool,
    /// `--verify`: the command that checks a completed rollout (or the revision at a pause hook).
    pub verify: Option<String>,
    /// `--check-url`: the path each new task must answer.
    pub check: Option<super::check::Check>,
    /// `--strategy` and its settings.
    pub strategy: super::strategy::StrategyChange,
    /// The `--codedeploy-*` flags, for CODE_DEPLOY services.
    pub codedeploy: super::codedeploy_settings::Settings,
    /// Prefix lines with the service name (several services at once).
    pub prefix: bool,
    /// How many of a failing container's last lines to print (`--log-lines`).
    pub log_lines: u32,
    /// CreateService's settings, when the service may be created.
    pub create: Option<Value>,
    /// When the whole run gives up: `--timeout` after the start, hung requests included.
    pub deadline: Instant,
    /// DescribeServices answers shared by the services of this deploy.
    pub reads: crate::ecs::batch::ServiceReads,
    /// Task definitions registered in this run, by content.
    pub registered: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
    /// `--require-signature`: the key every image of a revision must be signed by (set once the
    /// region is known).
    pub require: Option<crate::sign::required::Required>,
}

impl Plan {
    /// The load balancers a service this run creates is given.
    pub fn created_load_balancers(&self) -> Vec<Value> {
        self.create
            .as_ref()
            .and_then(|c| c["loadBalancers"].as_array().cloned())
            .unwrap_or_default()
    }
}

fn split_pair<'a>(flag: &str, item: &'a str, sep: char, shape: &str) -> Result<(&'a str, &'a str)> {
    item.split_once(sep)
        .map(|(a, b)| (a.trim(), b.trim()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| usage!("{flag}: '{item}' is not {shape}"))
}

fn container_kv(flag: &str, raw: &[String]) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for item in raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (container, kv) = split_pair(flag, item, ':', "CONTAINER:NAME=VALUE")?;
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| usage!("{flag}: '{item}' is not CONTAINER:NAME=VALUE"))?;
        if k.is_empty() {
            return Err(usage!("{flag}: '{item}' has an empty NAME"));
        }
        out.push((container.to_string(), k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// A created service's `LoadBalancer`: the target group's ARN and `CONTAINER:PORT`.
fn load_balancer(target_group: &str, container: &str) -> Result<Value> {
    let tg = target_group.trim();
    if !(tg.starts_with("arn:") && tg.contains(":targetgroup/")) {
        return Err(usage!("--target-group (STEVEDORE_TARGET_GROUP): '{tg}' is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)"));
    }
    let (name, port) = split_pair("--lb-container", container.trim(), ':', "CONTAINER:PORT")?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        usage!("--lb-container (STEVEDORE_LB_CONTAINER): '{port}' is not a port (1 to 65535)")
    })?;
    Ok(json!({"targetGroupArn": tg, "containerName": name, "containerPort": port}))
}

/// The largest task-definition file read: ECS refuses definitions over 64 KiB anyway, and a
/// DescribeTaskDefinition answer around one is bigger, so 1 MiB leaves room.
const MAX_TASK_DEFINITION_FILE: u64 = 1 << 20;

/// Read a task definition file: JSON, DescribeTaskDefinition's answer or the definition itself.
fn read_task_definition_file(path: &std::path::Path) -> Result<Value> {
    let text =
        crate::validate::read_input_file(path, MAX_TASK_DEFINITION_FILE, "--task-definition-file")?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        usage!(
            "--task-definition-file: {} is not valid JSON: {e}",
            path.display()
        )
    })?;
    check_given(
        taskdef::registrable(&v),
        &format!("--task-definition-file {}", path.display()),
    )
}

fn check_given(v: Value, what: &str) -> Result<Value> {
    if v.get("family").and_then(Value::as_str).is_none()
        || v.get("containerDefinitions")
            .and_then(Value::as_array)
            .is_none_or(|c| c.is_empty())
    {
        return Err(usage!(
            "{what}: a task definition needs \"family\" and \"containerDefinitions\""
        ));
    }
    if let Some(why) = crate::ecs::taskdef_fields::unknown(&v) {
        return Err(usage!("{what}: {why}; nothing was registered"));
    }
    Ok(v)
}

fn render_template(path: &std::path::Path, vars: &[String]) -> Result<Value> {
    let text = crate::validate::read_input_file(path, crate::render::MAX_TEMPLATE, "--template")?;
    crate::render::check_shape(&text).map_err(|e| usage!("--template {}: {e}", path.display()))?;
    let mut data = serde_json::Map::new();
    for item in vars.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| usage!("--var: '{item}' is not KEY=VALUE"))?;
        data.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    // Secrets stay out: a template's output is printed by --dry-run and stored in ECS.
    data.insert("env".into(), Value::Object(crate::render::template_env()));
    let rendered = crate::render::render_str(&text, &Value::Object(data)).map_err(|e| {
        let withheld = std::env::vars()
            .map(|(k, _)| k)
            .find(|k| crate::render::is_secret_name(k) && e.contains(&format!("env.{k}")));
        let fix = match withheld {
            Some(k) => format!("{k} looks like a secret and is withheld from templates; reference secrets through the task definition's \"secrets\" (Secrets Manager or SSM), not its text"),
            None if e.contains("strict mode") => {
                let name = e.rsplit(": ").next().unwrap_or(&e);
                let name = name.split(' ').next().unwrap_or("NAME");
                format!("pass it with --var {name}=VALUE")
            }
            None => "fix the template".into(),
        };
        usage!("--template {}: {e}; {fix}", path.display())
    })?;
    let v: Value = serde_json::from_str(&rendered).map_err(|e| {
        usage!(
            "--template {}: the rendered text is not valid JSON: {e}",
            path.display()
        )
    })?;
    check_given(
        taskdef::registrable(&v),
        &format!("--template {}", path.display()),
    )
}

impl Plan {
    pub fn from_args(a: &DeployArgs) -> Result<Self> {
        if a.cluster.trim().is_empty() {
            return Err(usage!(
                "--cluster (STEVEDORE_CLUSTER): empty; name the ECS cluster"
            ));
        }
        let mut images = Vec::new();
        for item in a
            .containers
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            let (name, image) = split_pair("--container", item, '=', "CONTAINER=IMAGE")?;
            crate::image::reference::ImageRef::parse(image)
                .map_err(|e| usage!("--container {name}: {e}"))?;
            images.push((name.to_string(), image.to_string()));
        }
        if let Some(i) = &a.image {
            crate::image::reference::ImageRef::parse(i)
                .map_err(|e| usage!("--image (STEVEDORE_IMAGE): {e}"))?;
        }
        if let Some(arn) = &a.task_definition {
            if arn.starts_with("arn:") && !arn.contains(":task-definition/") {
                return Err(usage!("--task-definition (STEVEDORE_TASK_DEFINITION): '{arn}' is not a task definition ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION)"));
            }
        }
        for (flag, v) in [("--cpu", &a.cpu), ("--memory", &a.memory)] {
            if v.as_ref().is_some_and(|x| x.parse::<u32>().is_err()) {
                return Err(usage!(
                    "{flag}: '{}' is not a whole number",
                    v.as_deref().unwrap_or_default()
                ));
            }
        }
        if a.desired_count.is_some_and(|n| n < 0) {
            return Err(usage!("--desired-count: must be 0 or more"));
        }
        let (timeout, poll) = (a.timeout, a.poll_interval);
        let given = match (&a.task_definition_file, &a.template) {
            (Some(f), _) => Some(read_task_definition_file(f)?),
            (None, Some(t)) => Some(render_template(t, &a.vars)?),
            _ => None,
        };
        let mut services: Vec<&String> =
            a.services.iter().filter(|s| !s.trim().is_empty()).collect();
        services.dedup();
        if services.is_empty() {
            return Err(usage!(
                "--service (STEVEDORE_SERVICES): no service named; give one or more names, comma-separated"
            ));
        }
        let verify = a.verify.clone().filter(|c| !c.trim().is_empty());
        if verify.is_some() && a.wait_until == WaitUntil::None {
            return Err(usage!(
                "--verify runs once the rollout completes, and --wait-until none does not wait for it: use --wait-until deployed (or stable)"
            ));
        }
        let check = super::check::Check::from_args(a)?;
        let create = if a.create_service {
            if a.task_definition.is_none() && given.is_none() {
                return Err(usage!("--create-service needs the task definition to start from: --task-definition, --task-definition-file or --template"));
            }
            let mut c = json!({"launchType": a.launch_type.as_str(), "desiredCount": a.desired_count.unwrap_or(1)});
            let subnets: Vec<&String> = a.subnets.iter().filter(|s| !s.trim().is_empty()).collect();
            if !subnets.is_empty() {
                c["networkConfiguration"] = json!({"awsvpcConfiguration": {"subnets": subnets, "securityGroups": a.security_groups,
                    "assignPublicIp": if a.assign_public_ip { "ENABLED" } else { "DISABLED" }}});
            } else if a.launch_type == crate::values::LaunchType::Fargate {
                return Err(usage!("--create-service with --launch-type FARGATE needs --subnets (and usually --security-groups)"));
            }
            if let (Some(tg), Some(lb)) = (&a.target_group, &a.lb_container) {
                c["loadBalancers"] = json!([load_balancer(tg, lb)?]);
            }
            Some(c)
        } else {
            None
        };
        Ok(Plan {
            registered: Default::default(),
            require: None,
            reads: Default::default(),
            region: String::new(),
            deadline: Instant::now() + timeout,
            create,
            cluster: a.cluster.trim().to_string(),
            changes: Changes {
                images,
                image: a.image.clone(),
                env: container_kv("--env", &a.env)?,
                secrets: container_kv("--secret", &a.secrets)?,
                docker_labels: container_kv("--docker-label", &a.docker_labels)?,
                cpu: a.cpu.clone(),
                memory: a.memory.clone(),
                tags: taskdef::parse_tags(&a.task_definition_tags)
                    .map_err(|e| usage!("--tag-task-definition: {e}"))?,
            },
            given,
            start_from: a.task_definition.clone(),
            desired_count: a.desired_count,
            force: a.force_new_deployment,
            breaker: a.circuit_breaker,
            dry_run: a.dry_run,
            wait_until: a.wait_until,
            timeout,
            poll,
            rollback: a.rollback,
            follow_rollback: a.rollback_wait == crate::values::RollbackWait::Full,
            verify,
            check,
            strategy: super::strategy::StrategyChange::from_args(a)?,
            codedeploy: super::codedeploy_settings::Settings::from_args(a)?,
            prefix: services.len() > 1,
            log_lines: a.log_lines,
        })
    }
}

/// Print a line, prefixed with the service when several deploy at once.
pub(super) fn say(plan: &Plan, service: &str, line: &str) {
    if plan.prefix {
        println!("[{service}] {line}");
    } else {
        println!("{line}");
    }
}

//! `stevedore deploy`: a new task-definition revision (only when something changed), the service
//! update, and the rollout followed by its deployment id until it succeeds, fails or times out.

use super::taskdef::{self, Changes};
use super::wait::{self, Verdict, Watch};
use crate::awsjson::{ApiError, CallError, Client};
use crate::cli::{CircuitBreaker, DeployArgs, WaitUntil};
use crate::config::Settings;
use crate::error::{Outcome, EXIT_DEPLOY_FAILED, EXIT_TIMED_OUT};
use crate::usage;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one service's deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployResult {
    Deployed,
    /// Nothing to do, or a dry run.
    Unchanged(String),
    /// Updated without waiting.
    Started,
    Failed(String),
    RolledBack(String),
    TimedOut,
}

impl DeployResult {
    fn word(&self) -> &'static str {
        match self {
            DeployResult::Deployed => "deployed",
            DeployResult::Unchanged(_) => "unchanged",
            DeployResult::Started => "started",
            DeployResult::Failed(_) => "failed",
            DeployResult::RolledBack(_) => "rolled_back",
            DeployResult::TimedOut => "timed_out",
        }
    }
}

/// The report for one service.
#[derive(Debug, Clone)]
pub struct Report {
    pub service: String,
    pub task_definition: Option<String>,
    pub deployment_id: Option<String>,
    pub result: DeployResult,
    pub seconds: f64,
}

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
    /// Prefix lines with the service name (several services at once).
    pub prefix: bool,
    /// CreateService's settings, when the service may be created.
    pub create: Option<Value>,
    /// When the whole run gives up: `--timeout` after the start, hung requests included.
    pub deadline: Instant,
    /// DescribeServices answers shared by the services of this deploy.
    pub reads: super::batch::ServiceReads,
    /// Task definitions registered in this run, by content.
    pub registered: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
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
            None if e.contains("strict mode") => "pass it with --var NAME=VALUE".into(),
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
            taskdef::ImageRef::parse(image).map_err(|e| usage!("--container {name}: {e}"))?;
            images.push((name.to_string(), image.to_string()));
        }
        if let Some(i) = &a.image {
            taskdef::ImageRef::parse(i).map_err(|e| usage!("--image (STEVEDORE_IMAGE): {e}"))?;
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
        let (timeout, poll) = super::wait_flags(&a.timeout, &a.poll_interval)?;
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
        let create = if a.create_service {
            if a.task_definition.is_none() && given.is_none() {
                return Err(usage!("--create-service needs the task definition to start from: --task-definition, --task-definition-file or --template"));
            }
            let mut c =
                json!({"launchType": a.launch_type, "desiredCount": a.desired_count.unwrap_or(1)});
            let subnets: Vec<&String> = a.subnets.iter().filter(|s| !s.trim().is_empty()).collect();
            if !subnets.is_empty() {
                c["networkConfiguration"] = json!({"awsvpcConfiguration": {"subnets": subnets, "securityGroups": a.security_groups,
                    "assignPublicIp": if a.assign_public_ip { "ENABLED" } else { "DISABLED" }}});
            } else if a.launch_type == "FARGATE" {
                return Err(usage!("--create-service with --launch-type FARGATE needs --subnets (and usually --security-groups)"));
            }
            Some(c)
        } else {
            None
        };
        Ok(Plan {
            registered: Default::default(),
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
                cpu: a.cpu.clone(),
                memory: a.memory.clone(),
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
            prefix: services.len() > 1,
        })
    }
}

/// Whether an image's registry is this account's private ECR: the standard host, or the proxy
/// endpoint GetAuthorizationToken names (which is how a local endpoint shows itself).
fn in_private_ecr(registry: &str, ecr_host: &Option<String>) -> bool {
    ecr_account(registry).is_some() || ecr_host.as_deref() == Some(registry)
}

/// The account of a standard private ECR host (`<account>.dkr.ecr.<region>.amazonaws.com`),
/// so an image of another account is looked up in that account's registry.
fn ecr_account(registry: &str) -> Option<&str> {
    let (account, rest) = registry.split_once(".dkr.ecr.")?;
    let standard = rest.ends_with(".amazonaws.com") || rest.ends_with(".amazonaws.com.cn");
    (standard && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then_some(account)
}

/// Resolve tags of images in private ECR to digests (`repo@sha256:…`); a tag that does not
/// exist is an error before anything is registered.
pub(crate) async fn pin_digests(changes: &mut Changes, region: &str) -> Result<()> {
    let mut images: Vec<&mut String> = changes.images.iter_mut().map(|(_, i)| i).collect();
    if let Some(i) = changes.image.as_mut() {
        images.push(i);
    }
    for i in images.iter() {
        if taskdef::ImageRef::parse(i).is_ok_and(|r| r.digest.is_none() && r.registry.is_none()) {
            println!(
                "{i} is not in ECR (Docker Hub): it is deployed as the tag, not pinned to a digest"
            );
        }
    }
    let candidates: Vec<&mut String> = images
        .into_iter()
        .filter(|i| {
            taskdef::ImageRef::parse(i).is_ok_and(|r| r.digest.is_none() && r.registry.is_some())
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    // The proxy endpoint GetAuthorizationToken names is how a registry that is not on a
    // standard ECR host shows itself as ECR. Without it, such an image cannot be told apart from
    // one outside ECR: fail closed rather than deploy a mutable tag unannounced.
    let ecr_host = match crate::ecr::private_auth(region).await {
        Ok(a) => Some(a.host),
        Err(e) => {
            if let Some(image) = candidates.iter().find(|i| {
                taskdef::ImageRef::parse(i)
                    .ok()
                    .and_then(|r| r.registry)
                    .is_some_and(|reg| ecr_account(&reg).is_none())
            }) {
                return Err(anyhow::anyhow!(
                    "cannot pin {image} to a digest: ECR GetAuthorizationToken failed ({e:#}), so whether its registry is ECR is unknown; fix the credentials, or pass --pin-digests=false to deploy the tag as it is"
                ));
            }
            None
        }
    };
    let conf = crate::config::sdk_config(Some(region), false).await?;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    for image in candidates {
        let r = taskdef::ImageRef::parse(image).map_err(|e| usage!("{e}"))?;
        let registry = r.registry.clone().unwrap_or_default();
        if !in_private_ecr(&registry, &ecr_host) {
            println!("{image} is not in ECR: it is deployed as the tag, not pinned to a digest");
            continue;
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let out = ecr
            .describe_images()
            .set_registry_id(ecr_account(&registry).map(String::from))
            .repository_name(&r.repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&tag).build())
            .send()
            .await
            .map_err(|e| match crate::aws_error::describe(&e) {
                d if d.starts_with("ImageNotFoundException") || d.starts_with("RepositoryNotFoundException") => {
                    usage!("image {image} is not in ECR ({d}); push it first, or pass --pin-digests=false")
                }
                d => anyhow::anyhow!("ECR DescribeImages {}: {d}", r.repository),
            })?;
        let digest = out
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .context("DescribeImages answered without a digest")?;
        let pinned = format!("{}@{digest}", r.name());
        println!("pinned {image} to {digest}");
        *image = pinned;
    }
    Ok(())
}

/// `stevedore deploy`.
pub async fn run(settings: &Settings, args: DeployArgs) -> Result<()> {
    let mut plan = Plan::from_args(&args)?;
    let region = settings.require_region()?.to_string();
    plan.region = region.clone();
    // The files written at the end are checked now, so a rollout is never left unreported.
    if let Some(p) = &args.output_file {
        crate::export::check_writable(p, "--output-file (STEVEDORE_OUTPUT_FILE)")?;
    }
    if let Some(p) = args
        .bash_env
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty() && !plan.dry_run)
    {
        crate::export::check_writable(p, "BASH_ENV")?;
    }
    if args.pin_digests && !plan.dry_run {
        let left = plan.deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, pin_digests(&mut plan.changes, &region))
            .await
            .map_err(|_| {
                anyhow::Error::new(crate::error::DeadlineExceeded {
                    endpoint: "ECR".into(),
                    op: "DescribeImages (digest pinning)".into(),
                })
            })??;
    }
    let mut services: Vec<String> = args
        .services
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    services.dedup();
    plan.reads = super::batch::ServiceReads::new(&services, plan.poll);
    let plan = Arc::new(plan);
    let client = Arc::new(Client::ecs(&region).await?);
    client.set_deadline(plan.deadline);
    let mut set = tokio::task::JoinSet::new();
    for (i, service) in services.iter().enumerate() {
        let (client, plan, service) = (client.clone(), plan.clone(), service.clone());
        set.spawn(async move {
            (
                i,
                service.clone(),
                deploy_one(&client, &plan, &service).await,
            )
        });
    }
    let mut results: Vec<(usize, String, Result<Report>)> = Vec::new();
    while let Some(r) = set.join_next().await {
        results.push(r.context("a deployment task panicked")?);
    }
    results.sort_by_key(|r| r.0);
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (_, service, r) in results {
        match r {
            Ok(rep) => reports.push(rep),
            // AWS stopped answering and the deadline passed: timed out, like a slow rollout.
            Err(e) if e.chain().any(|c| c.is::<crate::error::DeadlineExceeded>()) => {
                println!("{service}: {e:#}");
                reports.push(Report {
                    service,
                    task_definition: None,
                    deployment_id: None,
                    result: DeployResult::TimedOut,
                    seconds: plan.timeout.as_secs_f64(),
                })
            }
            Err(e) => errors.push((service, e)),
        }
    }
    if services.len() == 1 && reports.is_empty() {
        return Err(errors
            .pop()
            .map(|(_, e)| e)
            .unwrap_or_else(|| anyhow::anyhow!("no result")));
    }
    write_outputs(&args, &reports)?;
    summarize(&reports, errors)
}

fn summarize(reports: &[Report], errors: Vec<(String, anyhow::Error)>) -> Result<()> {
    let many = reports.len() + errors.len() > 1;
    if many {
        println!("summary:");
    }
    let mut code = 0u8;
    let mut failures = 0;
    for r in reports {
        let td = r
            .task_definition
            .as_deref()
            .map(|t| t.rsplit('/').next().unwrap_or(t))
            .unwrap_or("-");
        let line = match &r.result {
            DeployResult::Deployed => format!(
                "{}: deployed {td} ({}) in {:.0} s",
                r.service,
                r.deployment_id.as_deref().unwrap_or("-"),
                r.seconds
            ),
            DeployResult::Unchanged(why) => format!("{}: {why}", r.service),
            DeployResult::Started => format!(
                "{}: deployment {} of {td} started (not waiting)",
                r.service,
                r.deployment_id.as_deref().unwrap_or("-")
            ),
            DeployResult::Failed(why) => format!("{}: deployment of {td} FAILED: {why}", r.service),
            DeployResult::RolledBack(why) => {
                format!("{}: deployment of {td} ROLLED BACK: {why}", r.service)
            }
            DeployResult::TimedOut => format!(
                "{}: deployment of {td} TIMED OUT after {:.0} s",
                r.service, r.seconds
            ),
        };
        match &r.result {
            DeployResult::Failed(_) | DeployResult::RolledBack(_) => {
                code = EXIT_DEPLOY_FAILED;
                failures += 1;
            }
            DeployResult::TimedOut => {
                if code != EXIT_DEPLOY_FAILED {
                    code = EXIT_TIMED_OUT;
                }
                failures += 1;
            }
            _ => {}
        }
        println!("{}{line}", if many { "  " } else { "" });
    }
    for (service, e) in &errors {
        println!("  {service}: error: {e:#}");
        code = code.max(1);
    }
    match code {
        0 => Ok(()),
        1 => Err(anyhow::anyhow!(
            "{} of {} services could not be deployed",
            errors.len(),
            reports.len() + errors.len()
        )),
        // One service: its line above is the verdict. Several: say how many, not the first again.
        c => Err(anyhow::Error::new(Outcome {
            code: c,
            message: if many {
                format!(
                    "{} of {} services did not deploy",
                    failures,
                    reports.len() + errors.len()
                )
            } else {
                String::new()
            },
        })),
    }
}

fn write_outputs(args: &DeployArgs, reports: &[Report]) -> Result<()> {
    let doc: Vec<Value> = reports
        .iter()
        .map(|r| {
            let reason = match &r.result {
                DeployResult::Failed(w) | DeployResult::RolledBack(w) | DeployResult::Unchanged(w) => Some(w.clone()),
                _ => None,
            };
            json!({"service": r.service, "taskDefinitionArn": r.task_definition, "deploymentId": r.deployment_id, "result": r.result.word(), "reason": reason, "seconds": r.seconds})
        })
        .collect();
    if let Some(path) = &args.output_file {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json!({"deployments": doc}))? + "\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(path), [r]) = (&args.bash_env, reports) {
        if !path.as_os_str().is_empty() && !args.dry_run {
            crate::export::append_bash_env(
                path,
                &[
                    (
                        "STEVEDORE_TASK_DEFINITION_ARN",
                        r.task_definition.as_deref().unwrap_or_default(),
                    ),
                    (
                        "STEVEDORE_DEPLOYMENT_ID",
                        r.deployment_id.as_deref().unwrap_or_default(),
                    ),
                    ("STEVEDORE_DEPLOY_RESULT", r.result.word()),
                ],
            )?;
        }
    }
    Ok(())
}

/// Print a line, prefixed with the service when several deploy at once.
fn say(plan: &Plan, service: &str, line: &str) {
    if plan.prefix {
        println!("[{service}] {line}");
    } else {
        println!("{line}");
    }
}

fn api_err(op: &str, e: CallError) -> anyhow::Error {
    e.into_anyhow(format!("ECS {op}"))
}

/// The service now (or as read for all of the deploy's services since `not_before`).
async fn describe_service(
    client: &Client,
    plan: &Plan,
    service: &str,
    not_before: Instant,
) -> Result<Value, CallError> {
    plan.reads
        .describe(client, &plan.cluster, service, not_before)
        .await
}

async fn deploy_one(client: &Client, plan: &Plan, service: &str) -> Result<Report> {
    let started = Instant::now();
    let cluster = plan.cluster.as_str();
    let svc = match describe_service(client, plan, service, started).await {
        Ok(v) if v.is_null() || v.get("status").and_then(Value::as_str) == Some("INACTIVE") => {
            if plan.create.is_some() {
                return create_service(client, plan, service, started).await;
            }
            return Err(anyhow::anyhow!("service {service} not found in cluster {cluster} in {}: check --service, --cluster and the region, or pass --create-service", plan.region));
        }
        Ok(v) => v,
        Err(CallError::Api(e)) if e.code == "ClusterNotFoundException" => {
            return Err(anyhow::anyhow!(
                "cluster {cluster} not found in {}: check --cluster and the region (--region, AWS_REGION, AWS_DEFAULT_REGION)",
                plan.region
            ));
        }
        Err(e) => return Err(api_err("DescribeServices", e)),
    };
    let current = svc
        .get("taskDefinition")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    // The task definition to start from, and what it becomes.
    let (base_arn, base) = match &plan.given {
        Some(v) => (None, v.clone()),
        None => {
            let from = plan.start_from.clone().unwrap_or_else(|| current.clone());
            let d = client
                .call(
                    "DescribeTaskDefinition",
                    &json!({"taskDefinition": from, "include": ["TAGS"]}),
                )
                .await
                .map_err(|e| match e {
                    CallError::Api(a) if a.code == "ClientException" => {
                        usage!("--task-definition: {from} not found ({})", a.message)
                    }
                    other => api_err("DescribeTaskDefinition", other),
                })?;
            let arn = d
                .pointer("/taskDefinition/taskDefinitionArn")
                .and_then(Value::as_str)
                .map(String::from);
            (arn, taskdef::registrable(&d))
        }
    };
    let new = taskdef::apply(&base, &plan.changes).map_err(|e| usage!("{e}"))?;
    // Compare with what the service runs, to register nothing when nothing changed.
    let running = if base_arn.as_deref() == Some(current.as_str()) {
        base.clone()
    } else {
        let d = client
            .call(
                "DescribeTaskDefinition",
                &json!({"taskDefinition": current, "include": ["TAGS"]}),
            )
            .await
            .map_err(|e| api_err("DescribeTaskDefinition", e))?;
        taskdef::registrable(&d)
    };
    let mut new = new;
    if plan.given.is_some() {
        taskdef::inherit_tags(&mut new, &running);
    }
    let unchanged_from_base = new == base;
    let td_diff = taskdef::diff(&running, &new);

    let breaker_cfg = plan.breaker.map(
        |b| json!({"enable": b != CircuitBreaker::Off, "rollback": b == CircuitBreaker::Rollback}),
    );
    let mut service_changes = Vec::new();
    let target_known = if unchanged_from_base {
        base_arn.clone()
    } else {
        None
    };
    let td_changes = target_known.as_deref() != Some(current.as_str());
    if td_changes {
        service_changes.push(format!(
            "~ taskDefinition: {current} -> {}",
            target_known
                .clone()
                .unwrap_or_else(|| "(new revision)".into())
        ));
    }
    if let Some(n) = plan.desired_count {
        if svc.get("desiredCount").and_then(Value::as_i64) != Some(i64::from(n)) {
            service_changes.push(format!(
                "~ desiredCount: {} -> {n}",
                svc.get("desiredCount").and_then(Value::as_i64).unwrap_or(0)
            ));
        }
    }
    if let Some(b) = &breaker_cfg {
        let have = svc
            .pointer("/deploymentConfiguration/deploymentCircuitBreaker")
            .cloned()
            .unwrap_or(Value::Null);
        if &have != b {
            service_changes.push(format!("~ deploymentCircuitBreaker: {have} -> {b}"));
        }
    }
    if plan.force {
        service_changes.push("+ forceNewDeployment".into());
    }

    if plan.dry_run {
        say(
            plan,
            service,
            &format!("plan for service {service} in {cluster} (dry run)"),
        );
        if td_diff.is_empty() {
            say(plan, service, "task definition: unchanged");
        } else {
            say(plan, service, "task definition:");
            for l in &td_diff {
                say(plan, service, &format!("  {l}"));
            }
        }
        if service_changes.is_empty() {
            say(plan, service, "service: unchanged");
        } else {
            say(plan, service, "service:");
            for l in &service_changes {
                say(plan, service, &format!("  {l}"));
            }
        }
        return Ok(Report {
            service: service.into(),
            task_definition: target_known,
            deployment_id: None,
            result: DeployResult::Unchanged("dry run: nothing changed".into()),
            seconds: 0.0,
        });
    }
    if service_changes.is_empty() {
        return Ok(Report {
            service: service.into(),
            task_definition: Some(current.clone()),
            deployment_id: None,
            result: DeployResult::Unchanged(format!(
                "nothing to deploy: the service already runs {}",
                current.rsplit('/').next().unwrap_or(&current)
            )),
            seconds: started.elapsed().as_secs_f64(),
        });
    }

    let target = match target_known {
        Some(arn) => arn,
        None => {
            let arn = register(client, plan, &new).await?;
            say(
                plan,
                service,
                &format!("registered {}", arn.rsplit('/').next().unwrap_or(&arn)),
            );
            for l in &td_diff {
                say(plan, service, &format!("  {l}"));
            }
            arn
        }
    };
    let mut update = json!({"cluster": cluster, "service": service, "taskDefinition": target, "forceNewDeployment": plan.force});
    if let Some(n) = plan.desired_count {
        update["desiredCount"] = json!(n);
    }
    if let Some(b) = breaker_cfg {
        update["deploymentConfiguration"] = json!({"deploymentCircuitBreaker": b});
    }
    let deployment = start_deployment(client, &update).await?;
    say(
        plan,
        service,
        &format!(
            "updated service {service}: deployment {deployment} of {}",
            target.rsplit('/').next().unwrap_or(&target)
        ),
    );
    if plan.wait_until == WaitUntil::None {
        return Ok(Report {
            service: service.into(),
            task_definition: Some(target),
            deployment_id: Some(deployment),
            result: DeployResult::Started,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let deadline = plan.deadline;
    // Events already there belong to earlier deployments: print only what is new.
    let mut watch = Watch::seeded(&svc);
    let mut result = follow(client, plan, service, &deployment, deadline, &mut watch).await?;
    if plan.rollback
        && matches!(result, DeployResult::Failed(_) | DeployResult::TimedOut)
        && current != target
    {
        let why = match &result {
            DeployResult::Failed(w) => w.clone(),
            _ => format!("no success within {:?}", plan.timeout),
        };
        say(
            plan,
            service,
            &format!(
                "rolling back to {} ({why})",
                current.rsplit('/').next().unwrap_or(&current)
            ),
        );
        let back = start_deployment(
            client,
            &json!({"cluster": cluster, "service": service, "taskDefinition": current}),
        )
        .await?;
        let again = follow(client, plan, service, &back, plan.deadline, &mut watch).await?;
        result = match again {
            DeployResult::Deployed => DeployResult::RolledBack(format!(
                "{why}; restored {}",
                current.rsplit('/').next().unwrap_or(&current)
            )),
            other => DeployResult::Failed(format!(
                "{why}; the rollback to {current} did not succeed either ({})",
                other.word()
            )),
        };
    }
    Ok(Report {
        service: service.into(),
        task_definition: Some(target),
        deployment_id: Some(deployment),
        result,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Create the service from the given task definition and follow its first deployment.
async fn create_service(
    client: &Client,
    plan: &Plan,
    service: &str,
    started: Instant,
) -> Result<Report> {
    let cluster = plan.cluster.as_str();
    let td = match (&plan.given, &plan.start_from) {
        (Some(v), _) => {
            let new = taskdef::apply(v, &plan.changes).map_err(|e| usage!("{e}"))?;
            if plan.dry_run {
                say(plan, service, &format!("plan: register a task definition of family {} and create service {service} in {cluster} (dry run)", new.get("family").and_then(Value::as_str).unwrap_or("?")));
                return Ok(Report {
                    service: service.into(),
                    task_definition: None,
                    deployment_id: None,
                    result: DeployResult::Unchanged("dry run: nothing changed".into()),
                    seconds: 0.0,
                });
            }
            register(client, plan, &new).await?
        }
        (None, Some(r)) => r.clone(),
        (None, None) => {
            return Err(usage!(
                "--create-service needs --task-definition, --task-definition-file or --template"
            ))
        }
    };
    if plan.dry_run {
        say(
            plan,
            service,
            &format!("plan: create service {service} in {cluster} with {td} (dry run)"),
        );
        return Ok(Report {
            service: service.into(),
            task_definition: Some(td),
            deployment_id: None,
            result: DeployResult::Unchanged("dry run: nothing changed".into()),
            seconds: 0.0,
        });
    }
    let mut req = plan.create.clone().unwrap_or_else(|| json!({}));
    req["cluster"] = json!(cluster);
    req["serviceName"] = json!(service);
    req["taskDefinition"] = json!(td);
    if let Some(b) = plan.breaker {
        req["deploymentConfiguration"] = json!({"deploymentCircuitBreaker": {"enable": b != CircuitBreaker::Off, "rollback": b == CircuitBreaker::Rollback}});
    }
    let out = client
        .call("CreateService", &req)
        .await
        .map_err(|e| api_err("CreateService", e))?;
    let id = out
        .pointer("/service/deployments")
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter()
                .find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))
        })
        .and_then(|d| d.get("id").and_then(Value::as_str))
        .context("CreateService answered without a PRIMARY deployment")?
        .to_string();
    say(
        plan,
        service,
        &format!(
            "created service {service} in {cluster}: deployment {id} of {}",
            td.rsplit('/').next().unwrap_or(&td)
        ),
    );
    let result = if plan.wait_until == WaitUntil::None {
        DeployResult::Started
    } else {
        follow(
            client,
            plan,
            service,
            &id,
            plan.deadline,
            &mut Watch::default(),
        )
        .await?
    };
    Ok(Report {
        service: service.into(),
        task_definition: Some(td),
        deployment_id: Some(id),
        result,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Register a task definition once per run: services deployed together from the same family
/// and the same changes share one new revision instead of racing to register two.
async fn register(client: &Client, plan: &Plan, td: &Value) -> Result<String> {
    let key = td.to_string();
    let mut done = plan.registered.lock().await;
    if let Some(arn) = done.get(&key) {
        return Ok(arn.clone());
    }
    let out = client
        .call("RegisterTaskDefinition", td)
        .await
        .map_err(|e| api_err("RegisterTaskDefinition", e))?;
    let arn = out
        .pointer("/taskDefinition/taskDefinitionArn")
        .and_then(Value::as_str)
        .context("RegisterTaskDefinition answered without an ARN")?
        .to_string();
    done.insert(key, arn.clone());
    Ok(arn)
}

/// UpdateService, returning the id of the PRIMARY deployment it created.
async fn start_deployment(client: &Client, update: &Value) -> Result<String> {
    let out = client
        .call("UpdateService", update)
        .await
        .map_err(|e| api_err("UpdateService", e))?;
    let deps = out
        .pointer("/service/deployments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    deps.iter()
        .find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))
        .and_then(|d| d.get("id").and_then(Value::as_str))
        .map(String::from)
        .context("UpdateService answered without a PRIMARY deployment")
}

/// Jitter a poll interval by up to a quarter either way (the default 4 s becomes 3–5 s).
fn jittered(d: Duration) -> Duration {
    let ms = d.as_millis() as u64;
    Duration::from_millis(rand::random_range(ms * 3 / 4..=ms * 5 / 4 + 1))
}

/// Poll DescribeServices (once per poll) until the deployment is decided or the deadline passes.
async fn follow(
    client: &Client,
    plan: &Plan,
    service: &str,
    id: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    // Reads from before this point predate the update being followed.
    let since = Instant::now();
    let mut heartbeat = wait::Heartbeat::new(since, super::HEARTBEAT);
    let mut interval = plan.poll;
    let mut failed_seen = 0;
    let mut unanswered = false;
    loop {
        let svc = match describe_service(client, plan, service, since).await {
            Ok(v) => {
                interval = plan.poll;
                v
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
        for e in watch.new_events(&svc) {
            say(plan, service, &e);
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
            report_stopped(client, plan, service, id, watch).await;
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
fn unreadable(plan: &Plan, service: &str, watch: &mut Watch, e: &crate::awsjson::CallError) {
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
async fn report_stopped(client: &Client, plan: &Plan, service: &str, id: &str, watch: &mut Watch) {
    let cluster = plan.cluster.as_str();
    let list = match client
        .call(
            "ListTasks",
            &json!({"cluster": cluster, "startedBy": id, "desiredStatus": "STOPPED"}),
        )
        .await
    {
        Ok(list) => list,
        Err(e) => return unreadable(plan, service, watch, &e),
    };
    let arns: Vec<Value> = list
        .get("taskArns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| a.as_str().is_some_and(|s| !watch.seen_stopped.contains(s)))
        .take(100)
        .cloned()
        .collect();
    if arns.is_empty() {
        return;
    }
    let tasks = match client
        .call("DescribeTasks", &json!({"cluster": cluster, "tasks": arns}))
        .await
    {
        Ok(tasks) => tasks,
        Err(e) => return unreadable(plan, service, watch, &e),
    };
    for t in tasks
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if t.get("lastStatus").and_then(Value::as_str) != Some("STOPPED") {
            continue;
        }
        if let Some(arn) = t.get("taskArn").and_then(Value::as_str) {
            watch.seen_stopped.insert(arn.to_string());
        }
        say(plan, service, &wait::stopped_task_line(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_name_their_account() {
        assert_eq!(
            ecr_account("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            Some("123456789012")
        );
        assert_eq!(
            ecr_account("999999999999.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            Some("999999999999")
        );
        assert_eq!(ecr_account("public.ecr.aws"), None);
        assert_eq!(ecr_account("evil.dkr.ecr.example.com"), None);
        assert!(in_private_ecr(
            "127.0.0.1:5000",
            &Some("127.0.0.1:5000".into())
        ));
        assert!(!in_private_ecr("ghcr.io", &Some("127.0.0.1:5000".into())));
    }
}

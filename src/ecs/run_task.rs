//! `stevedore run-task`: a one-off task from a task definition, followed until it stops; the
//! command exits with the essential container's exit code.

use crate::aws::json::{CallError, Client};
use crate::cli::RunTaskArgs;
use crate::config::Settings;
use crate::ecs::api::{self, Ecs};
use crate::ecs::task_options;
use crate::error::usage;
use crate::error::{Outcome, EXIT_TIMED_OUT};
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A command override: a JSON array of strings, or words separated by whitespace.
pub fn parse_command(text: &str) -> Result<Vec<String>, String> {
    let t = text.trim();
    if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t)
            .map_err(|e| format!("'{t}' is not a JSON array of strings: {e}"))
    } else {
        let words: Vec<String> = t.split_whitespace().map(String::from).collect();
        if words.is_empty() {
            Err("the command is empty".into())
        } else {
            Ok(words)
        }
    }
}

/// A one-off task as RunTask will be asked for it, checked before any call.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    pub cluster: String,
    pub task_definition: String,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub launch_type: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub started_by: String,
    pub group: Option<String>,
    pub platform_version: Option<String>,
    pub enable_execute_command: bool,
    pub count: u32,
    pub placement_constraints: Vec<Value>,
    pub placement_strategy: Vec<Value>,
    pub capacity_provider_strategy: Vec<Value>,
    pub tags: Vec<Value>,
    pub propagate_tags: bool,
    pub enable_ecs_managed_tags: bool,
    /// The overrides file's TaskOverride, checked.
    pub overrides: Option<Value>,
}

impl TaskRun {
    /// The task the arguments ask for: `--command` and `--env` parsed, one line per mistake.
    pub fn from_args(a: &RunTaskArgs) -> Result<TaskRun> {
        let command = a
            .command
            .as_deref()
            .map(parse_command)
            .transpose()
            .map_err(|e| usage!("--command (STEVEDORE_COMMAND): {e}"))?;
        let mut env = Vec::new();
        for item in a.env.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| usage!("--env: '{item}' is not NAME=VALUE"))?;
            env.push((k.to_string(), v.to_string()));
        }
        let started_by = a.started_by.trim();
        if started_by.is_empty()
            || started_by.len() > 128
            || !started_by
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
        {
            return Err(usage!("--started-by (STEVEDORE_STARTED_BY): '{started_by}' is not 1 to 128 letters, digits, -, _ and /, as ECS takes it"));
        }
        let group = a.group.as_deref().map(str::trim).filter(|g| !g.is_empty());
        if group.is_some_and(|g| g.chars().count() > 255) {
            return Err(usage!(
                "--group (STEVEDORE_TASK_GROUP): longer than ECS's 255 characters"
            ));
        }
        if a.launch_type.is_some() && !a.capacity_provider.is_empty() {
            return Err(usage!(
                "--launch-type and --capacity-provider: ECS takes one or the other; drop one"
            ));
        }
        let overrides = match (&a.overrides_file, a.overrides.as_deref().map(str::trim)) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| usage!("--overrides-file {}: {e}", path.display()))?;
                Some(checked_overrides(
                    &text,
                    &format!("--overrides-file {}", path.display()),
                )?)
            }
            (None, Some(text)) if !text.is_empty() => Some(checked_overrides(
                text,
                "--overrides (STEVEDORE_OVERRIDES)",
            )?),
            _ => None,
        };
        Ok(TaskRun {
            count: a.count,
            placement_constraints: task_options::placement_constraints(&a.placement_constraint)
                .map_err(|e| usage!("{e}"))?,
            placement_strategy: task_options::placement_strategy(&a.placement_strategy)
                .map_err(|e| usage!("{e}"))?,
            capacity_provider_strategy: task_options::capacity_providers(&a.capacity_provider)
                .map_err(|e| usage!("{e}"))?,
            tags: task_options::tags(&a.tags).map_err(|e| usage!("{e}"))?,
            propagate_tags: a.propagate_tags,
            enable_ecs_managed_tags: a.enable_ecs_managed_tags,
            overrides,
            started_by: started_by.to_string(),
            group: group.map(String::from),
            platform_version: a
                .platform_version
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from),
            enable_execute_command: a.enable_execute_command,
            cluster: a.cluster.clone(),
            task_definition: a.task_definition.clone(),
            command,
            env,
            launch_type: a.launch_type.map(|l| l.as_str().to_string()),
            subnets: a.subnets.clone(),
            security_groups: a.security_groups.clone(),
            assign_public_ip: a.assign_public_ip,
        })
    }

    /// The RunTask request, with `container`'s command and environment laid over the overrides.
    pub fn request(&self, container: &str) -> Result<api::RunTask, String> {
        let overrides = task_options::overrides(
            self.overrides.as_ref(),
            container,
            self.command.as_deref(),
            &self.env,
        )?;
        let network = |vpc| api::NetworkConfiguration {
            awsvpc_configuration: vpc,
        };
        Ok(api::RunTask {
            cluster: self.cluster.clone(),
            task_definition: self.task_definition.clone(),
            count: self.count,
            started_by: self.started_by.clone(),
            group: self.group.clone(),
            platform_version: self.platform_version.clone(),
            enable_execute_command: self.enable_execute_command,
            overrides,
            launch_type: self.launch_type.clone(),
            capacity_provider_strategy: self.capacity_provider_strategy.clone(),
            placement_constraints: self.placement_constraints.clone(),
            placement_strategy: self.placement_strategy.clone(),
            tags: self.tags.clone(),
            enable_ecs_managed_tags: self.enable_ecs_managed_tags,
            propagate_tags: self.propagate_tags.then(|| "TASK_DEFINITION".to_string()),
            network_configuration: (!self.subnets.is_empty()).then(|| {
                network(api::AwsVpcConfiguration {
                    subnets: self.subnets.clone(),
                    security_groups: self.security_groups.clone(),
                    assign_public_ip: if self.assign_public_ip {
                        "ENABLED"
                    } else {
                        "DISABLED"
                    }
                    .into(),
                })
            }),
        })
    }
}

/// A TaskOverride given as JSON text, checked against ECS's model; `what` names where it came from.
fn checked_overrides(text: &str, what: &str) -> Result<Value> {
    let v: Value = serde_json::from_str(text).map_err(|e| usage!("{what}: not JSON: {e}"))?;
    task_options::overrides(Some(&v), "", None, &[]).map_err(|e| usage!("{what}: {e}"))?;
    Ok(v)
}

/// The task definition to run: the described one with `image` in place (pinned to its digest
/// in private ECR) and, with `--require-signature`, every image verified and pinned; a new
/// revision when that differs from the described one, else the described revision itself.
/// `None` in a dry run that would register one (said). Nothing is registered when a check fails.
pub(crate) async fn to_run(
    ecs: &Ecs,
    region: &str,
    described: &Value,
    image: Option<&str>,
    required: Option<&crate::sign::required::Required>,
    dry_run: bool,
) -> Result<Option<String>> {
    let mut changes = crate::ecs::taskdef::Changes {
        image: image.map(String::from),
        ..Default::default()
    };
    crate::ecr::pin::pin_digests(changes.images_mut(), region).await?;
    // The whole answer: its tags go with the new revision.
    let current = crate::ecs::taskdef::registrable(described);
    let mut wanted = crate::ecs::taskdef::apply(&current, &changes).map_err(|e| usage!("{e}"))?;
    if let Some(r) = required {
        r.revision(&mut wanted)
            .await
            .context("--require-signature: nothing was registered")?;
    }
    let arn = described
        .pointer("/taskDefinition/taskDefinitionArn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if crate::ecs::taskdef::diff(&current, &wanted).is_empty() {
        return Ok(Some(arn));
    }
    let what = match changes.image.as_deref() {
        Some(i) => format!("with {i}"),
        None => "with its images pinned to the verified digests".to_string(),
    };
    let family = arn.rsplit('/').next().unwrap_or(&arn);
    let family = family.split(':').next().unwrap_or(family);
    if dry_run {
        println!("would register a revision of {family} {what}");
        return Ok(None);
    }
    let new = ecs
        .register_task_definition(&wanted)
        .await
        .map_err(|e| anyhow::anyhow!("ECS RegisterTaskDefinition: {e}"))?
        .context("RegisterTaskDefinition answered without an ARN")?;
    println!(
        "registered {} {what}",
        new.rsplit('/').next().unwrap_or(&new)
    );
    Ok(Some(new))
}

/// DescribeTaskDefinition of a `--task-definition` the user named: one that does not exist is
/// bad input (exit 2), naming it.
pub(crate) async fn given_task_definition(ecs: &Ecs, name: &str) -> Result<Value> {
    ecs.describe_task_definition(name)
        .await
        .map_err(|e| match e {
            CallError::Api(x) if x.code == "ClientException" => {
                usage!("--task-definition: {name} not found ({})", x.message)
            }
            other => anyhow::anyhow!("ECS DescribeTaskDefinition: {other}"),
        })
}

/// The container whose exit code is the task's: the one named, or the first essential one.
fn essential_container(td: &Value, family: &str, named: Option<&str>) -> Result<String> {
    let containers = td
        .pointer("/taskDefinition/containerDefinitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match named {
        Some(c) if names.contains(&c) => Ok(c.to_string()),
        Some(c) => Err(usage!(
            "--container: no container named '{c}' in {family} (it has: {})",
            names.join(", ")
        )),
        None => containers
            .iter()
            .find(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
            .and_then(|c| c.get("name").and_then(Value::as_str))
            .map(String::from)
            .context("the task definition has no essential container"),
    }
}

/// The task did not stop within `timeout` (exit 4); it was left running.
fn timed_out(id: &str, timeout: Duration, status: &str) -> anyhow::Error {
    anyhow::Error::new(Outcome {
        code: EXIT_TIMED_OUT,
        message: format!(
            "task {id} did not stop within {timeout:?} (it is still {status}; it was not stopped)"
        ),
    })
}

/// Poll the task until it stops (its container's exit code is the outcome) or `timeout` passes.
async fn wait_for_stop(
    ecs: &Ecs,
    cluster: &str,
    arn: &str,
    container: &str,
    (timeout, poll): (Duration, Duration),
    mut follower: Option<crate::ecs::logs::Follower<'_>>,
) -> Result<()> {
    let id = arn.rsplit('/').next().unwrap_or(arn);
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    let mut heartbeat = super::wait::Heartbeat::new(Instant::now(), super::HEARTBEAT);
    loop {
        let t = match ecs.describe_tasks(cluster, &[arn]).await {
            Ok(d) => d.into_iter().next().unwrap_or_default(),
            Err(CallError::Api(e)) if e.is_throttling() => {
                tokio::time::sleep(poll * 2).await;
                continue;
            }
            // The deadline passed during the call: timed out, as at the end of a poll.
            Err(e) if e.is_deadline() => {
                return Err(timed_out(id, timeout, &last));
            }
            Err(e) => return Err(anyhow::anyhow!("ECS DescribeTasks: {e}")),
        };
        let status = if t.last_status.is_empty() {
            "?".to_string()
        } else {
            t.last_status.clone()
        };
        let stopped = status == "STOPPED";
        if status != last && !stopped {
            println!("task {id}: {status}");
            last = status.clone();
            heartbeat.said(Instant::now());
        }
        // What the task printed, as it arrives; a stopped task's streams are drained before
        // its stop is said.
        let started = matches!(
            status.as_str(),
            "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" | "STOPPED"
        );
        if let Some(f) = follower.as_mut().filter(|_| started) {
            if f.poll(stopped).await {
                heartbeat.said(Instant::now());
            }
        }
        if status != last {
            println!("task {id}: {status}");
            last = status.clone();
            heartbeat.said(Instant::now());
        } else if heartbeat.due(Instant::now()) {
            println!("task {id}: still {status}");
        }
        if status == "STOPPED" {
            println!("{}", super::record::stopped_task_line(&t));
            let c = t.containers.iter().find(|c| c.name == container);
            return match c.and_then(|c| c.exit_code) {
                Some(0) => Ok(()),
                Some(code) => Err(anyhow::Error::new(Outcome {
                    code: code.clamp(1, 255) as u8,
                    message: format!("task {id}: container {container} exited with {code}"),
                })),
                None => Err(anyhow::anyhow!(
                    "task {id} stopped before {container} ran: {}",
                    t.stopped_reason.as_deref().unwrap_or("no reason given")
                )),
            };
        }
        if Instant::now() >= deadline {
            return Err(timed_out(id, timeout, &status));
        }
        tokio::time::sleep(poll.min(Duration::from_secs(30))).await;
    }
}

/// `stevedore run-task`.
pub async fn run(settings: &Settings, a: RunTaskArgs) -> Result<()> {
    let (timeout, poll) = (a.timeout, a.poll_interval);
    // Everything given is checked before the first call.
    let run = TaskRun::from_args(&a)?;
    if let Some(i) = &a.image {
        crate::image::reference::ImageRef::parse(i)
            .map_err(|e| usage!("--image (STEVEDORE_IMAGE): {e}"))?;
    }
    if let Some(p) = &a.output_file {
        crate::export::check_writable(p, "--output-file (STEVEDORE_RUN_TASK_OUTPUT)")?;
    }
    let region = settings.require_region()?.to_string();
    let credentials = crate::auth::credentials(&region, None).await?;
    let ecs = Ecs::new(Client::ecs(&region, credentials.clone())?);
    let logs = crate::ecs::logs::Logs::new(credentials);
    let td = given_task_definition(&ecs, &a.task_definition).await?;
    let container = essential_container(&td, &a.task_definition, a.container.as_deref())?;
    let required = crate::sign::required::Required::load(
        a.signature.require_signature.as_deref(),
        &a.signature.allow_unsigned,
        &region,
    )
    .await?;
    let mut run = run;
    if a.image.is_some() || required.is_some() {
        let image = a.image.as_deref();
        if let Some(arn) = to_run(&ecs, &region, &td, image, required.as_ref(), false).await? {
            run.task_definition = arn;
        }
    }
    let request = run.request(&container).map_err(|e| usage!("{e}"))?;
    let answer = ecs
        .run_task(&request)
        .await
        .map_err(|e| anyhow::anyhow!("ECS RunTask: {e}"))?;
    if let Some(path) = &a.output_file {
        crate::export::replace_private(path, format!("{answer:#}\n").as_bytes())
            .with_context(|| format!("--output-file {}", path.display()))?;
    }
    let placed: api::Placed =
        serde_json::from_value(answer).context("RunTask's answer is not ECS's shape")?;
    if let Some(f) = placed.failures.first() {
        return Err(anyhow::anyhow!(
            "ECS RunTask failed: {} ({})",
            f.reason.as_deref().unwrap_or("?"),
            f.detail.as_deref().unwrap_or("")
        ));
    }
    let arns: Vec<String> = placed
        .tasks
        .iter()
        .map(|t| t.task_arn.clone())
        .filter(|a| !a.is_empty())
        .collect();
    if arns.is_empty() {
        anyhow::bail!("RunTask answered without a task");
    }
    for arn in &arns {
        println!(
            "started task {} of {} (container {container})",
            arn.rsplit('/').next().unwrap_or(arn),
            run.task_definition
        );
    }
    // The tasks run side by side; each is followed in turn under the one deadline, and the
    // first failure is the command's.
    let deadline = Instant::now() + timeout;
    let mut first_failure = None;
    let shown: Vec<&str> = match a.logs {
        crate::ecs::logs::Which::Off => vec![],
        crate::ecs::logs::Which::Essential => vec![container.as_str()],
        crate::ecs::logs::Which::All => vec![],
    };
    for (i, arn) in arns.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let task_id = arn.rsplit('/').next().unwrap_or(arn);
        let follower = (a.logs != crate::ecs::logs::Which::Off).then(|| {
            let (streams, without) = crate::ecs::logs::streams(&td, task_id, &region, &shown);
            if i == 0 && !without.is_empty() {
                println!("{}", crate::ecs::logs::no_logs_line(&without));
            }
            crate::ecs::logs::Follower::new(&logs, streams)
        });
        let waits = (left, poll);
        // No poll or log read outlives the deadline, hung requests included.
        let waiting = wait_for_stop(&ecs, &run.cluster, arn, &container, waits, follower);
        if let Err(e) = crate::aws::deadline::scope(deadline, waiting).await {
            // The first failure is the command's (printed by the caller); later ones here.
            match first_failure {
                None => first_failure = Some(e),
                Some(_) => eprintln!("{e:#}"),
            }
        }
    }
    match first_failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_task_run_becomes_the_request_ecs_takes() {
        let run = TaskRun {
            cluster: "c1".into(),
            task_definition: "migrate:3".into(),
            command: Some(vec!["rake".into(), "db:migrate".into()]),
            env: vec![("A".into(), "1=2".into())],
            launch_type: Some("FARGATE".into()),
            subnets: vec!["subnet-1".into()],
            security_groups: vec![],
            assign_public_ip: true,
            started_by: "circleci-1234".into(),
            group: Some("migrations".into()),
            platform_version: Some("1.4.0".into()),
            enable_execute_command: true,
            count: 2,
            placement_constraints: vec![json!({"type": "distinctInstance"})],
            placement_strategy: vec![json!({"type": "random"})],
            capacity_provider_strategy: vec![],
            tags: vec![json!({"key": "team", "value": "web"})],
            propagate_tags: true,
            enable_ecs_managed_tags: true,
            overrides: Some(json!({"memory": "1024"})),
        };
        assert_eq!(
            serde_json::to_value(run.request("app").unwrap()).unwrap(),
            json!({"cluster": "c1", "taskDefinition": "migrate:3", "count": 2, "startedBy": "circleci-1234",
                "group": "migrations", "platformVersion": "1.4.0", "enableExecuteCommand": true,
                "overrides": {"memory": "1024", "containerOverrides": [{"name": "app", "command": ["rake", "db:migrate"],
                    "environment": [{"name": "A", "value": "1=2"}]}]},
                "launchType": "FARGATE",
                "placementConstraints": [{"type": "distinctInstance"}], "placementStrategy": [{"type": "random"}],
                "tags": [{"key": "team", "value": "web"}], "enableECSManagedTags": true, "propagateTags": "TASK_DEFINITION",
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": [], "assignPublicIp": "ENABLED"}}})
        );
    }

    #[test]
    fn the_named_container_or_the_first_essential_one() {
        let td = json!({"taskDefinition": {"containerDefinitions": [
            {"name": "sidecar", "essential": false}, {"name": "app"}, {"name": "log"}
        ]}});
        assert_eq!(essential_container(&td, "migrate", None).unwrap(), "app");
        assert_eq!(
            essential_container(&td, "migrate", Some("log")).unwrap(),
            "log"
        );
        let e = essential_container(&td, "migrate", Some("db")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--container: no container named 'db' in migrate (it has: sidecar, app, log)"
        );
        let none = json!({"taskDefinition": {"containerDefinitions": []}});
        assert!(essential_container(&none, "migrate", None).is_err());
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(r#"["sh", "-c", "echo 'a b'"]"#).unwrap(),
            ["sh", "-c", "echo 'a b'"]
        );
        assert_eq!(
            parse_command("rake db:migrate").unwrap(),
            ["rake", "db:migrate"]
        );
        assert!(parse_command("[1, 2]").is_err());
        assert!(parse_command("  ").is_err());
    }
}

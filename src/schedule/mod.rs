//! `stevedore schedule`: point EventBridge Scheduler schedules and EventBridge rules' ECS
//! targets at a task-definition revision. Everything named is read and checked first
//! ([`plan`]), then the revision is registered (with `--image`) and the targets written.

pub mod plan;

use crate::aws::json::{self, CallError, Client};
use crate::cli::ScheduleArgs;
use crate::config::Settings;
use crate::ecs::api::Ecs;
use crate::error::usage;
use anyhow::{Context, Result};
use plan::TargetChanges;
use serde_json::{json, Value};
use std::sync::Arc;

/// Scheduler's and EventBridge's name pattern (`[0-9a-zA-Z-_.]+`, 1 to 64 characters).
fn check_name(flag: &str, name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(usage!(
            "{flag}: '{name}' is not a name AWS accepts (1 to 64 letters, digits, -, _ and .)"
        ))
    }
}

/// What is named: schedules in a group, rules on a bus, and maybe one target id.
struct Named {
    schedules: Vec<String>,
    group: String,
    rules: Vec<String>,
    bus: String,
    target_id: Option<String>,
}

/// One schedule or rule, read and patched, ready to write.
enum Change {
    Schedule {
        name: String,
        before: Value,
        body: Value,
    },
    Rule {
        name: String,
        before: Vec<Value>,
        targets: Vec<Value>,
    },
}

/// The `EcsParameters` of a schedule's UpdateSchedule body.
fn schedule_params(v: &Value) -> &Value {
    &v["Target"]["EcsParameters"]
}

/// Read every schedule and rule named and patch it for `ch`; the first problem is a usage error
/// naming the schedule or rule.
async fn read_all(
    a: &Named,
    scheduler: &Client,
    events: &Client,
    family: &str,
    ch: &TargetChanges,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let group = a.group.as_str();
    for name in &a.schedules {
        let path = format!("/schedules/{name}?groupName={group}");
        let got = match scheduler.rest("GET", path, "GetSchedule", None).await {
            Ok(v) => v,
            Err(CallError::Api(e)) if e.code == "ResourceNotFoundException" => {
                return Err(usage!(
                    "--schedule {name}: no such schedule in group {group} ({}); check the name, --schedule-group and the region",
                    e.message
                ))
            }
            Err(e) => return Err(e.into_anyhow(format!("EventBridge Scheduler GetSchedule {name}"))),
        };
        let body = plan::schedule_update(&got, ch).map_err(|e| usage!("--schedule {name}: {e}"))?;
        changes.push(Change::Schedule {
            name: name.clone(),
            before: got,
            body,
        });
    }
    for rule in &a.rules {
        let mut targets = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = json!({"Rule": rule, "EventBusName": a.bus});
            if let Some(t) = &token {
                req["NextToken"] = json!(t);
            }
            let page = match events.call("ListTargetsByRule", &req).await {
                Ok(v) => v,
                Err(CallError::Api(e)) if e.code == "ResourceNotFoundException" => {
                    return Err(usage!(
                        "--rule {rule}: no such rule on event bus {} ({}); check the name, --event-bus and the region",
                        a.bus,
                        e.message
                    ))
                }
                Err(e) => return Err(e.into_anyhow(format!("EventBridge ListTargetsByRule {rule}"))),
            };
            targets.extend(page["Targets"].as_array().cloned().unwrap_or_default());
            token = page["NextToken"].as_str().map(String::from);
            if token.is_none() {
                break;
            }
        }
        let patched = plan::rule_targets(&targets, family, a.target_id.as_deref(), ch)
            .map_err(|e| usage!("--rule {rule}: {e}"))?;
        changes.push(Change::Rule {
            name: rule.clone(),
            before: targets,
            targets: patched,
        });
    }
    Ok(changes)
}

/// Lines saying what a change does (or would do).
fn describe(change: &Change, group: &str, bus: &str) -> Vec<String> {
    match change {
        Change::Schedule { name, before, body } => vec![format!(
            "schedule {group}/{name}: {}",
            plan::describe_change(&before["Target"]["EcsParameters"], schedule_params(body))
        )],
        Change::Rule {
            name,
            before,
            targets,
        } => targets
            .iter()
            .map(|t| {
                let old = before
                    .iter()
                    .find(|b| b["Id"] == t["Id"])
                    .map(|b| &b["EcsParameters"])
                    .unwrap_or(&Value::Null);
                format!(
                    "rule {name} (bus {bus}), target {}: {}",
                    t["Id"].as_str().unwrap_or("?"),
                    plan::describe_change(old, &t["EcsParameters"])
                )
            })
            .collect(),
    }
}

/// Write one change.
async fn write(change: &Change, scheduler: &Client, events: &Client, bus: &str) -> Result<()> {
    match change {
        Change::Schedule { name, body, .. } => {
            scheduler
                .rest(
                    "PUT",
                    format!("/schedules/{name}"),
                    "UpdateSchedule",
                    Some(body),
                )
                .await
                .map_err(|e| {
                    e.into_anyhow(format!("EventBridge Scheduler UpdateSchedule {name}"))
                })?;
        }
        Change::Rule { name, targets, .. } => {
            let out = events
                .call(
                    "PutTargets",
                    &json!({"Rule": name, "EventBusName": bus, "Targets": targets}),
                )
                .await
                .map_err(|e| e.into_anyhow(format!("EventBridge PutTargets {name}")))?;
            if out["FailedEntryCount"].as_u64().unwrap_or(0) > 0 {
                let first = &out["FailedEntries"][0];
                anyhow::bail!(
                    "EventBridge PutTargets {name}: target {} not changed: {}: {}",
                    first["TargetId"].as_str().unwrap_or("?"),
                    first["ErrorCode"].as_str().unwrap_or("?"),
                    first["ErrorMessage"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

/// `stevedore schedule`.
pub async fn run(settings: &Settings, a: ScheduleArgs) -> Result<()> {
    if a.schedules.is_empty() && a.rules.is_empty() {
        return Err(usage!(
            "schedule: name at least one --schedule (STEVEDORE_SCHEDULES) or --rule (STEVEDORE_RULES)"
        ));
    }
    for s in &a.schedules {
        check_name("--schedule", s)?;
    }
    check_name("--schedule-group", a.schedule_group.trim())?;
    for r in &a.rules {
        check_name("--rule", r)?;
    }
    if let Some(i) = &a.image {
        crate::image::reference::ImageRef::parse(i)
            .map_err(|e| usage!("--image (STEVEDORE_IMAGE): {e}"))?;
    }
    let named = Named {
        schedules: a.schedules.clone(),
        group: a.schedule_group.trim().to_string(),
        rules: a.rules.clone(),
        bus: a.event_bus.trim().to_string(),
        target_id: a.target_id.clone(),
    };
    let region = settings.require_region()?.to_string();
    let credentials = crate::auth::credentials(&region, None).await?;
    let ecs = Ecs::new(Client::ecs(&region, Arc::clone(&credentials))?);
    let scheduler = Client::new(&json::SCHEDULER, &region, Arc::clone(&credentials))?;
    let events = Client::new(&json::EVENTBRIDGE, &region, credentials)?;
    let described = crate::ecs::run_task::given_task_definition(&ecs, &a.task_definition).await?;
    let arn = described
        .pointer("/taskDefinition/taskDefinitionArn")
        .and_then(Value::as_str)
        .context("DescribeTaskDefinition answered without an ARN")?
        .to_string();
    let family = plan::family_of(&arn).to_string();
    let mut ch = TargetChanges {
        task_definition_arn: arn,
        count: a.count,
        subnets: (!a.subnets.is_empty()).then(|| a.subnets.clone()),
        security_groups: (!a.security_groups.is_empty()).then(|| a.security_groups.clone()),
        assign_public_ip: a.assign_public_ip,
        family_change: a.family_change,
    };
    let required = crate::sign::required::Required::load(
        a.signature.require_signature.as_deref(),
        &a.signature.allow_unsigned,
        &region,
    )
    .await?;
    // Everything is read and checked before anything is registered, so a bad name registers
    // nothing; with a new revision the targets are read again and patched with it.
    let mut changes = read_all(&named, &scheduler, &events, &family, &ch).await?;
    if a.image.is_some() || required.is_some() {
        let image = a.image.as_deref();
        let run = crate::ecs::run_task::to_run(
            &ecs,
            &region,
            &described,
            image,
            required.as_ref(),
            a.dry_run,
        );
        let arn = run.await?;
        ch.task_definition_arn = arn.unwrap_or_else(|| format!("{family}:<new revision>"));
        changes = read_all(&named, &scheduler, &events, &family, &ch).await?;
    }
    let (group, bus) = (named.group.as_str(), named.bus.as_str());
    for change in &changes {
        if !a.dry_run {
            write(change, &scheduler, &events, bus).await?;
        }
        let verb = if a.dry_run { "would change" } else { "changed" };
        for line in describe(change, group, bus) {
            println!("{verb} {line}");
        }
    }
    if a.dry_run {
        println!("dry run: nothing registered or changed");
    }
    Ok(())
}

//! `stevedore deploy`: a new task-definition revision (only when something changed), the service
//! update, and the rollout followed by its deployment id until it succeeds, fails or times out.

mod aftermath;
mod calls;
mod check;
mod codedeploy;
mod codedeploy_settings;
mod codedeploy_setup;
mod follow;
mod native;
mod outcome;
mod plan;
mod poller;
mod probe;
mod rollback;
mod service;
mod signed;
mod strategy;
mod verify;

use crate::aws::json::Client;
use crate::cli::DeployArgs;
use crate::config::Settings;
use crate::ecs::api::Ecs;
use crate::error::{Outcome, EXIT_DEPLOY_FAILED, EXIT_TIMED_OUT};
use anyhow::{Context, Result};
use outcome::{DeployResult, Report};
use plan::Plan;
use serde_json::{json, Value};
use service::deploy_one;
use std::sync::Arc;

/// `stevedore deploy`.
pub async fn run(settings: &Settings, args: DeployArgs) -> Result<()> {
    let mut plan = Plan::from_args(&args)?;
    let started_at = crate::auth::oidc::fmt_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).map_err(|e| {
            crate::error::usage!("--report (STEVEDORE_REPORT) {}: cannot create it ({e}): fix the path or its permissions", dir.display())
        })?;
    }
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
    let sig = &args.signature;
    let (key, allow) = (sig.require_signature.as_deref(), &sig.allow_unsigned[..]);
    signed::pin_and_load(&mut plan, &region, args.pin_digests, key, allow).await?;
    let mut services: Vec<String> = args
        .services
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    services.dedup();
    plan.reads = crate::ecs::batch::ServiceReads::new(&services, plan.poll);
    let plan = Arc::new(plan);
    let credentials = crate::auth::credentials(&region, None).await?;
    let mut ecs = Ecs::new(Client::ecs(&region, credentials.clone())?);
    if args.log_lines > 0 {
        ecs = ecs.with_logs(crate::ecs::logs::Logs::new(credentials.clone()));
    }
    let ecs = Arc::new(ecs);
    let cd = Arc::new(crate::codedeploy::api::CodeDeploy::new(Client::new(
        &crate::aws::json::CODEDEPLOY,
        &region,
        credentials.clone(),
    )?));
    let mut set = tokio::task::JoinSet::new();
    for (i, service) in services.iter().enumerate() {
        let (ecs, cd, plan, service) = (ecs.clone(), cd.clone(), plan.clone(), service.clone());
        // Each service's calls are bounded by its own deadline (a rollback moves only its own).
        set.spawn(async move {
            let deploying = deploy_one(&ecs, &cd, &plan, &service);
            let r = crate::aws::deadline::scope(plan.deadline, deploying).await;
            (i, service.clone(), r)
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
                    record: Default::default(),
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
    let bash_env = args.bash_env.as_deref().filter(|_| !args.dry_run);
    write_outputs(args.output_file.as_deref(), bash_env, &reports)?;
    if let Some(dir) = &args.report {
        write_report(dir, &plan, &reports, &started_at)?;
    }
    summarize(&reports, errors)
}

/// `--report DIR`: report.json, report.html and summary.md of this deploy.
fn write_report(
    dir: &std::path::Path,
    plan: &Plan,
    reports: &[Report],
    started_at: &str,
) -> Result<()> {
    use crate::ecs::report;
    let r = report::Report {
        schema_version: 1,
        cluster: plan.cluster.clone(),
        region: plan.region.clone(),
        started_at: started_at.to_string(),
        services: reports
            .iter()
            .map(|r| report::ServiceReport {
                service: r.service.clone(),
                result: r.result.word().replace('_', " "),
                message: match &r.result {
                    DeployResult::Unchanged(m)
                    | DeployResult::Failed(m)
                    | DeployResult::RolledBack(m) => m.clone(),
                    DeployResult::TimedOut => format!(
                        "not finished within {}",
                        crate::units::seconds(plan.timeout.as_secs_f64())
                    ),
                    DeployResult::Deployed | DeployResult::Started => String::new(),
                },
                task_definition: r.task_definition.clone(),
                deployment_id: r.deployment_id.clone(),
                seconds: (r.seconds * 10.0).round() / 10.0,
                record: r.record.clone(),
            })
            .collect(),
    };
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        // Owner-only and replaced by a rename: a link planted where a report goes is replaced,
        // never followed.
        crate::export::replace_private(&path, text.as_bytes())
            .with_context(|| format!("--report: writing {}", path.display()))
    };
    write("report.json", serde_json::to_string_pretty(&r)? + "\n")?;
    write("report.html", report::html(&r))?;
    write("summary.md", report::markdown(&r))?;
    println!("report: {}", dir.join("report.html").display());
    Ok(())
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

/// The deploy's outputs: every service's result as JSON (`--output-file`), and for a single
/// service its revision, deployment and result for later steps (`$BASH_ENV`).
fn write_outputs(
    output_file: Option<&std::path::Path>,
    bash_env: Option<&std::path::Path>,
    reports: &[Report],
) -> Result<()> {
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
    if let Some(path) = output_file {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json!({"deployments": doc}))? + "\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(path), [r]) = (bash_env, reports) {
        if !path.as_os_str().is_empty() {
            crate::export::append_bash_env(
                path,
                &[
                    (
                        crate::handoff::TASK_DEFINITION_ARN,
                        r.task_definition.as_deref().unwrap_or_default(),
                    ),
                    (
                        crate::handoff::DEPLOYMENT_ID,
                        r.deployment_id.as_deref().unwrap_or_default(),
                    ),
                    (crate::handoff::DEPLOY_RESULT, r.result.word()),
                    (crate::handoff::SERVICE_URLS, &r.record.urls.join("\n")),
                ],
            )?;
        }
    }
    Ok(())
}

//! One service's deployment: register the revision, update (or create) the service, follow it.

use super::calls::{api_err, describe_service, register, start_deployment};
use super::follow::{decide, follow};
use super::outcome::{DeployResult, Report};
use super::plan::say;
use super::plan::Plan;
use super::verify;
use crate::aws::json::CallError;
use crate::ecs::api::{self, DeploymentConfiguration, Ecs, Service, ServiceUpdate};
use crate::ecs::taskdef::{self};
use crate::ecs::wait::Watch;
use crate::error::usage;
use crate::values::{CircuitBreaker, WaitUntil};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::time::Instant;

pub(super) async fn deploy_one(
    ecs: &Ecs,
    cd: &crate::codedeploy::api::CodeDeploy,
    plan: &Plan,
    service: &str,
) -> Result<Report> {
    let started = Instant::now();
    let Some(svc) = existing_service(ecs, plan, service, started).await? else {
        return create_service(ecs, plan, service, started).await;
    };
    let current = svc.task_definition.clone();
    let codedeploy = check_controller(cd, plan, &svc).await?;
    let native = codedeploy.is_none()
        && crate::ecs::stages::NATIVE.contains(&plan.strategy.effective(&svc).as_str());

    let Revisions {
        base_arn,
        base,
        new,
        running,
    } = revisions(ecs, plan, &current).await?;
    let unchanged_from_base = new == base;
    let td_diff = taskdef::diff(&running, &new);

    let target_known = if unchanged_from_base {
        base_arn.clone()
    } else {
        None
    };
    let (mut service_changes, breaker_cfg) =
        service_changes(plan, &svc, &current, target_known.as_deref());
    if let (Some(g), false) = (&codedeploy, service_changes.is_empty()) {
        service_changes.push(super::codedeploy_setup::plan_line(g));
    }
    let short = current.rsplit('/').next().unwrap_or(&current);
    if plan.dry_run {
        print_dry_run(plan, service, &td_diff, &service_changes);
        let r = dry_run_verdict(short, service_changes.is_empty());
        return Ok(Report::quick(service, target_known, None, r, 0.0));
    }
    if service_changes.is_empty() {
        let r = DeployResult::Unchanged(format!(
            "nothing to deploy: the service already runs {short}"
        ));
        let seconds = started.elapsed().as_secs_f64();
        return Ok(Report::quick(
            service,
            Some(current.clone()),
            None,
            r,
            seconds,
        ));
    }

    let target = match target_known {
        Some(arn) => arn,
        None => register_said(ecs, plan, service, &new, &td_diff).await?,
    };
    if let Some(g) = &codedeploy {
        let mut watch = Watch::seeded(&svc);
        watch.record.diff = td_diff;
        return super::codedeploy::deploy(
            ecs, cd, plan, service, g, &target, &current, started, watch,
        )
        .await;
    }
    let deployment = update_service(ecs, plan, service, &target, breaker_cfg).await?;
    if native {
        let f = super::native::Followed::new(service, &deployment, &target, &current, &svc);
        return super::rollback::follow_native_deploy(ecs, plan, &f, started, td_diff, &svc).await;
    }
    if plan.wait_until == WaitUntil::None {
        let seconds = started.elapsed().as_secs_f64();
        let r = DeployResult::Started;
        return Ok(Report::quick(
            service,
            Some(target),
            Some(deployment),
            r,
            seconds,
        ));
    }
    let deadline = plan.deadline;
    // Events already there belong to earlier deployments: print only what is new.
    let mut watch = Watch::seeded(&svc);
    watch.record.diff = td_diff.clone();
    let decided = decide(ecs, plan, service, &deployment, deadline, &mut watch).await?;
    let mut result =
        super::aftermath::follow_ecs_rollback(ecs, plan, service, &deployment, decided, &mut watch)
            .await?;
    if result == DeployResult::Deployed {
        let subject = verify::Subject {
            cluster: &plan.cluster,
            service,
            region: &plan.region,
            task_definition: &target,
            previous_task_definition: &current,
            deployment_id: &deployment,
        };
        let lbs = &svc.load_balancers;
        result = verify::after_rollout(ecs, plan, &subject, lbs, &mut watch.record).await?;
    }
    if plan.rollback
        && matches!(result, DeployResult::Failed(_) | DeployResult::TimedOut)
        && current != target
    {
        result =
            super::rollback::roll_back(ecs, plan, service, &current, &result, &mut watch).await?;
    }
    Ok(Report {
        service: service.into(),
        task_definition: Some(target),
        deployment_id: Some(deployment),
        result,
        seconds: started.elapsed().as_secs_f64(),
        record: std::mem::take(&mut watch.record),
    })
}

/// The service as described; `None` when it does not exist and is to be created.
async fn existing_service(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    started: Instant,
) -> Result<Option<Service>> {
    let cluster = plan.cluster.as_str();
    match describe_service(ecs, plan, service, started).await {
        Ok(Some(v)) if v.status != "INACTIVE" => Ok(Some(v)),
        Ok(_) if plan.create.is_some() => Ok(None),
        Ok(_) => Err(anyhow::anyhow!("service {service} not found in cluster {cluster} in {}: check --service, --cluster and the region, or pass --create-service", plan.region)),
        Err(CallError::Api(e)) if e.code == "ClusterNotFoundException" => Err(anyhow::anyhow!(
            "cluster {cluster} not found in {}: check --cluster and the region (--region, AWS_REGION, AWS_DEFAULT_REGION)",
            plan.region
        )),
        Err(e) => Err(api_err("DescribeServices", e)),
    }
}

/// Register the new revision and say so, with its changes; its ARN.
async fn register_said(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    new: &Value,
    td_diff: &[String],
) -> Result<String> {
    let arn = register(ecs, plan, new).await?;
    let short = arn.rsplit('/').next().unwrap_or(&arn);
    say(plan, service, &format!("registered {short}"));
    for l in td_diff {
        say(plan, service, &format!("  {l}"));
    }
    Ok(arn)
}

/// What the controller and the strategy need of the service, checked before anything is
/// registered; the deployment group when CodeDeploy deploys it.
async fn check_controller(
    cd: &crate::codedeploy::api::CodeDeploy,
    plan: &Plan,
    svc: &Service,
) -> Result<Option<super::codedeploy_setup::Group>> {
    if svc.controller() == "CODE_DEPLOY" {
        super::check::rolling_only(plan.check.is_some(), &svc.service_name, "with CodeDeploy")?;
        return Ok(Some(super::codedeploy_setup::prepare(cd, plan, svc).await?));
    }
    if plan.codedeploy.any() {
        return Err(usage!("the --codedeploy-* flags are for services with the CODE_DEPLOY deployment controller; service {} uses {}", svc.service_name, svc.controller()));
    }
    plan.strategy
        .check(svc, plan.verify.is_some(), plan.check.is_some())?;
    Ok(None)
}

/// UpdateService to `target` (with the plan's count, breaker and force), said once; the new
/// deployment's id.
async fn update_service(
    ecs: &Ecs,
    plan: &Plan,
    service: &str,
    target: &str,
    breaker_cfg: Option<api::CircuitBreaker>,
) -> Result<String> {
    let mut config = DeploymentConfiguration {
        deployment_circuit_breaker: breaker_cfg,
        ..Default::default()
    };
    plan.strategy.apply(&mut config);
    let update = ServiceUpdate {
        cluster: plan.cluster.clone(),
        service: service.into(),
        task_definition: target.into(),
        force_new_deployment: Some(plan.force),
        desired_count: plan.desired_count,
        deployment_configuration: (config != DeploymentConfiguration::default()).then_some(config),
    };
    let deployment = start_deployment(ecs, &update).await?;
    say(
        plan,
        service,
        &format!(
            "updated service {service}: deployment {deployment} of {}",
            target.rsplit('/').next().unwrap_or(target)
        ),
    );
    Ok(deployment)
}

/// The task definitions of one deploy: where it starts (`base`, with its ARN when it was read
/// from ECS), what it becomes (`new`), and what the service runs now (`running`).
struct Revisions {
    base_arn: Option<String>,
    base: Value,
    new: Value,
    running: Value,
}

/// Read the starting and the running task definitions and apply the plan's changes.
async fn revisions(ecs: &Ecs, plan: &Plan, current: &str) -> Result<Revisions> {
    let current = current.to_string();
    // The task definition to start from, and what it becomes.
    let (base_arn, base) = match &plan.given {
        Some(v) => (None, v.clone()),
        None => {
            let from = plan.start_from.clone().unwrap_or_else(|| current.clone());
            let d = ecs
                .describe_task_definition(&from)
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
    let mut new = taskdef::apply(&base, &plan.changes).map_err(|e| usage!("{e}"))?;
    // Compare with what the service runs, to register nothing when nothing changed.
    let running = if base_arn.as_deref() == Some(current.as_str()) {
        base.clone()
    } else {
        let d = ecs
            .describe_task_definition(&current)
            .await
            .map_err(|e| api_err("DescribeTaskDefinition", e))?;
        taskdef::registrable(&d)
    };
    if plan.given.is_some() {
        taskdef::inherit_tags(&mut new, &running);
    }
    taskdef::set_tags(&mut new, &plan.changes.tags).map_err(|e| usage!("{e}"))?;
    super::signed::verified(plan, &mut new).await?;
    Ok(Revisions {
        base_arn,
        base,
        new,
        running,
    })
}

/// What UpdateService will change in the service (as lines for the plan), and the circuit
/// breaker setting to send. Pure: from the plan and the service as described.
fn service_changes(
    plan: &Plan,
    svc: &Service,
    current: &str,
    target_known: Option<&str>,
) -> (Vec<String>, Option<api::CircuitBreaker>) {
    let breaker_cfg = plan.breaker.map(breaker);
    let mut service_changes = Vec::new();
    if target_known != Some(current) {
        service_changes.push(format!(
            "~ taskDefinition: {current} -> {}",
            target_known.unwrap_or("(new revision)")
        ));
    }
    if let Some(n) = plan.desired_count {
        if svc.desired_count != i64::from(n) {
            service_changes.push(format!("~ desiredCount: {} -> {n}", svc.desired_count));
        }
    }
    if let Some(b) = breaker_cfg {
        let have = svc.circuit_breaker();
        if have != Some(b) {
            // As JSON, the way the service's configuration reads in the console and the CLI.
            let json = |b: Option<api::CircuitBreaker>| json!(b).to_string();
            service_changes.push(format!(
                "~ deploymentCircuitBreaker: {} -> {}",
                json(have),
                json(Some(b))
            ));
        }
    }
    service_changes.extend(plan.strategy.diff(svc));
    if plan.force {
        service_changes.push("+ forceNewDeployment".into());
    }
    (service_changes, breaker_cfg)
}

/// A dry run's verdict: the run's own "nothing to deploy" when it would change nothing.
fn dry_run_verdict(running: &str, unchanged: bool) -> DeployResult {
    DeployResult::Unchanged(if unchanged {
        format!("dry run: nothing to deploy: the service already runs {running}")
    } else {
        "dry run: nothing changed".into()
    })
}

/// Print a dry run's plan: the task-definition diff and the service's changes.
fn print_dry_run(plan: &Plan, service: &str, td_diff: &[String], service_changes: &[String]) {
    let cluster = plan.cluster.as_str();
    say(
        plan,
        service,
        &format!("plan for service {service} in {cluster} (dry run)"),
    );
    if td_diff.is_empty() {
        say(plan, service, "task definition: unchanged");
    } else {
        say(plan, service, "task definition:");
        for l in td_diff {
            say(plan, service, &format!("  {l}"));
        }
    }
    if service_changes.is_empty() {
        say(plan, service, "service: unchanged");
    } else {
        say(plan, service, "service:");
        for l in service_changes {
            say(plan, service, &format!("  {l}"));
        }
    }
    if let Some(cmd) = &plan.verify {
        say(plan, service, &format!("then verify: {cmd}"));
    }
}

/// Create the service from the given task definition and follow its first deployment.
async fn create_service(ecs: &Ecs, plan: &Plan, service: &str, started: Instant) -> Result<Report> {
    let cluster = plan.cluster.as_str();
    let td = match (&plan.given, &plan.start_from) {
        (Some(v), _) => {
            let mut new = taskdef::apply(v, &plan.changes).map_err(|e| usage!("{e}"))?;
            taskdef::set_tags(&mut new, &plan.changes.tags).map_err(|e| usage!("{e}"))?;
            super::signed::verified(plan, &mut new).await?;
            if let Some(lbs) = plan.create.as_ref().and_then(|c| c.get("loadBalancers")) {
                taskdef::check_load_balancers(&new, lbs).map_err(|e| usage!("{e}"))?;
            }
            if plan.dry_run {
                say(plan, service, &format!("plan: register a task definition of family {} and create service {service} in {cluster} (dry run)", new.get("family").and_then(Value::as_str).unwrap_or("?")));
                return Ok(Report {
                    service: service.into(),
                    task_definition: None,
                    deployment_id: None,
                    result: DeployResult::Unchanged("dry run: nothing changed".into()),
                    seconds: 0.0,
                    record: Default::default(),
                });
            }
            register(ecs, plan, &new).await?
        }
        (None, Some(r)) => super::signed::verified_revision(ecs, plan, r).await?,
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
            record: Default::default(),
        });
    }
    let mut req = plan.create.clone().unwrap_or_else(|| json!({}));
    req["cluster"] = json!(cluster);
    req["serviceName"] = json!(service);
    req["taskDefinition"] = json!(td);
    if let Some(b) = plan.breaker {
        req["deploymentConfiguration"] = json!({"deploymentCircuitBreaker": breaker(b)});
    }
    let created = ecs
        .create_service(&req)
        .await
        .map_err(|e| api_err("CreateService", e))?;
    let id = created
        .primary()
        .map(|d| d.id.clone())
        .context("CreateService answered without a PRIMARY deployment")?;
    say(
        plan,
        service,
        &format!(
            "created service {service} in {cluster}: deployment {id} of {}",
            td.rsplit('/').next().unwrap_or(&td)
        ),
    );
    let mut watch = Watch::default();
    let mut result = if plan.wait_until == WaitUntil::None {
        DeployResult::Started
    } else {
        follow(ecs, plan, service, &id, plan.deadline, &mut watch).await?
    };
    if result == DeployResult::Deployed {
        // A new service has no earlier revision to go back to: a failed check fails the deploy.
        let subject = verify::Subject {
            cluster,
            service,
            region: &plan.region,
            task_definition: &td,
            previous_task_definition: "",
            deployment_id: &id,
        };
        let lbs = plan.created_load_balancers();
        result = verify::after_rollout(ecs, plan, &subject, &lbs, &mut watch.record).await?;
    }
    Ok(Report {
        service: service.into(),
        task_definition: Some(td),
        deployment_id: Some(id),
        result,
        seconds: started.elapsed().as_secs_f64(),
        record: std::mem::take(&mut watch.record),
    })
}

/// The circuit breaker ECS is to use for a `--circuit-breaker` choice.
fn breaker(b: CircuitBreaker) -> api::CircuitBreaker {
    api::CircuitBreaker {
        enable: b != CircuitBreaker::Off,
        rollback: b == CircuitBreaker::Rollback,
    }
}

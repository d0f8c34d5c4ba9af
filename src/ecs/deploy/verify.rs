//! `--verify CMD`: the pipeline's own check of a new revision. For a rolling deployment CMD runs
//! once the rollout has completed, and when it fails the deployment counts as failed (and
//! `--rollback` puts the previous revision back); for blue/green, linear and canary it runs at
//! the pause hook (see `native`), and its exit answers the hook.

use super::outcome::DeployResult;
use super::plan::say;
use super::plan::Plan;
use crate::ecs::addresses::{self, Addresses};
use crate::ecs::api::Ecs;
use anyhow::{Context, Result};
use serde_json::Value;
use std::process::Stdio;
use std::time::Instant;

/// What CMD is told about the deployment it checks, as `STEVEDORE_VERIFY_*` variables (names of
/// their own, so a `stevedore` command inside CMD does not read them as its flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub task_definition: &'a str,
    pub previous_task_definition: &'a str,
    pub deployment_id: &'a str,
}

impl Subject<'_> {
    /// The variables CMD gets besides stevedore's own environment.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STEVEDORE_VERIFY_CLUSTER", self.cluster.into()),
            ("STEVEDORE_VERIFY_SERVICE", self.service.into()),
            ("STEVEDORE_VERIFY_REGION", self.region.into()),
            (
                "STEVEDORE_VERIFY_TASK_DEFINITION",
                self.task_definition.into(),
            ),
            (
                "STEVEDORE_VERIFY_PREVIOUS_TASK_DEFINITION",
                self.previous_task_definition.into(),
            ),
            ("STEVEDORE_VERIFY_DEPLOYMENT_ID", self.deployment_id.into()),
        ]
    }
}

/// After a rollout completed: the new tasks' addresses (when anything will use them, kept in the
/// report), then `--check-url` on each, then `--verify` told the addresses; the first failure
/// is the result.
pub async fn after_rollout(
    ecs: &Ecs,
    plan: &Plan,
    subject: &Subject<'_>,
    load_balancers: &[Value],
    record: &mut crate::ecs::report::Record,
) -> Result<DeployResult> {
    if plan.verify.is_none() && plan.check.is_none() {
        return Ok(DeployResult::Deployed);
    }
    let found = addresses_of(ecs, plan, subject, load_balancers).await;
    record.urls = found.urls();
    if let Some(check) = &plan.check {
        let r = super::probe::run(plan, subject.service, check, &found).await;
        if r != DeployResult::Deployed {
            return Ok(r);
        }
    }
    match &plan.verify {
        Some(cmd) => run(plan, cmd, subject, &found.vars()).await,
        None => Ok(DeployResult::Deployed),
    }
}

/// The new revision's tasks' addresses, said in one line; none (said why) when they cannot be
/// read, which a check then reports as its failure.
pub(super) async fn addresses_of(
    ecs: &Ecs,
    plan: &Plan,
    subject: &Subject<'_>,
    load_balancers: &[Value],
) -> Addresses {
    let td = ecs
        .describe_task_definition(subject.task_definition)
        .await
        .map(|v| v["taskDefinition"].clone())
        .unwrap_or_default();
    let found = match ecs.client().sibling(&crate::aws::json::EC2) {
        Ok(ec2) => addresses::find(
            ecs,
            &ec2,
            subject.cluster,
            subject.deployment_id,
            &td,
            load_balancers,
        )
        .await
        .map_err(|e| e.to_string()),
        Err(e) => Err(format!("{e:#}")),
    };
    match found {
        Ok(a) => {
            let urls = a.urls();
            // Tasks without addresses of their own (bridge, host) go unsaid: a check says it.
            if !urls.is_empty() {
                let line = format!("the new tasks' addresses: {}", urls.join(", "));
                say(plan, subject.service, &line);
            }
            if let Some(note) = &a.note {
                say(plan, subject.service, note);
            }
            a
        }
        Err(e) => {
            say(
                plan,
                subject.service,
                &format!("could not read the new tasks' addresses: {e}"),
            );
            Addresses::default()
        }
    }
}

/// How CMD ended, as the deployment's result: deployed when it exited 0.
pub fn verdict(cmd: &str, status: Option<i32>, timed_out: bool) -> DeployResult {
    match (timed_out, status) {
        (true, _) => DeployResult::TimedOut,
        (false, Some(0)) => DeployResult::Deployed,
        (false, Some(code)) => {
            DeployResult::Failed(format!("the verification `{cmd}` exited with code {code}"))
        }
        (false, None) => {
            DeployResult::Failed(format!("the verification `{cmd}` was ended by a signal"))
        }
    }
}

/// Run CMD with `sh -c` (its output goes straight to the job's), bounded by the deploy's
/// deadline, and turn its exit into the deployment's result.
pub async fn run(
    plan: &Plan,
    cmd: &str,
    subject: &Subject<'_>,
    extra: &[(&str, String)],
) -> Result<DeployResult> {
    say(plan, subject.service, &format!("verifying: {cmd}"));
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(subject.vars())
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        // A group of its own, so that a timeout ends what CMD started too (a `sleep` or `curl`
        // left running would hold the job's output open).
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting the --verify command with sh")?;
    let left = plan.deadline.saturating_duration_since(Instant::now());
    // Read now: once the child is waited for, tokio no longer says its id.
    let group = child.id();
    let (status, timed_out) = match tokio::time::timeout(left, child.wait()).await {
        Ok(s) => {
            // What CMD left running in the background ends with the check: it would outlive
            // the step holding the job's credentials in its environment.
            if let Some(pid) = group {
                kill_group(pid);
            }
            (s.context("waiting for the --verify command")?.code(), false)
        }
        Err(_) => {
            // The deploy's --timeout covers its verification too: a hung check ends like a
            // rollout that does not finish.
            if let Some(pid) = child.id() {
                kill_group(pid);
            }
            let _ = child.kill().await;
            (None, true)
        }
    };
    let result = verdict(cmd, status, timed_out);
    let took = format!("{:.1} s", started.elapsed().as_secs_f64());
    let line = match &result {
        DeployResult::Deployed => format!("verified in {took}"),
        DeployResult::TimedOut => format!(
            "the verification did not finish within the deploy's --timeout ({})",
            crate::validate::human_duration(plan.timeout)
        ),
        DeployResult::Failed(why) => format!("{why} after {took}"),
        _ => unreachable!("verdict gives deployed, failed or timed out"),
    };
    say(plan, subject.service, &line);
    Ok(result)
}

/// SIGKILL every process of the group `pid` leads.
fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_of_zero_verifies_anything_else_fails_or_times_out() {
        assert_eq!(verdict("curl x", Some(0), false), DeployResult::Deployed);
        assert_eq!(
            verdict("curl x", Some(7), false),
            DeployResult::Failed("the verification `curl x` exited with code 7".into())
        );
        assert!(
            matches!(verdict("c", None, false), DeployResult::Failed(w) if w.contains("signal"))
        );
        assert_eq!(verdict("c", Some(0), true), DeployResult::TimedOut);
    }

    #[test]
    fn the_command_is_told_the_deployment_under_names_no_flag_reads() {
        let s = Subject {
            cluster: "c1",
            service: "web",
            region: "us-east-1",
            task_definition: "arn:td/web:2",
            previous_task_definition: "arn:td/web:1",
            deployment_id: "ecs-svc/1",
        };
        let vars = s.vars();
        assert!(vars.iter().all(|(k, _)| k.starts_with("STEVEDORE_VERIFY_")));
        assert!(vars.contains(&(
            "STEVEDORE_VERIFY_PREVIOUS_TASK_DEFINITION",
            "arn:td/web:1".into()
        )));
        assert_eq!(vars.len(), 6);
    }
}

//! ECS's own blue/green, linear and canary deployments (`deploymentConfiguration.strategy`), on
//! the sandbox clock: the green revision scales up beside the blue one, the service deployment
//! walks through its lifecycle stages in AWS's order, Lambda and pause hooks hold a stage until
//! they succeed, production traffic shifts all at once, in linear steps or after a canary, the
//! bake time passes, and the blue tasks are cleaned up. The circuit breaker, CloudWatch alarms
//! (set through the control API), a failed hook, a pause hook answered ROLLBACK or timing out
//! with ROLLBACK, and StopServiceDeployment each roll back to the blue revision.
//!
//! Simplifications, each a sandbox choice where AWS says nothing precise: RECONCILE_SERVICE is
//! skipped (it happens only with several ACTIVE revisions); a hook runs once per stage (AWS
//! invokes traffic-shift hooks once per shift step); a failure always rolls back, since the blue
//! revision still serves; each stage lasts at least one sandbox second, so polls can see it.

use super::controller::{running, start_tasks};
use super::model::*;
use crate::awsjson::opt_str;
use serde_json::Value;

/// The lifecycle stages of a service deployment, in order (`ServiceDeploymentLifecycleStage`).
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// The strategies this module runs (`DeploymentStrategy` apart from ROLLING).
pub const NATIVE: [&str; 3] = ["BLUE_GREEN", "LINEAR", "CANARY"];

/// The stages a hook may name (`DeploymentLifecycleHookStage`).
pub(super) const HOOK_STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// A hook running in the current stage (`DeploymentLifecycleHookDetail`).
#[derive(Debug, Clone)]
pub struct Hook {
    pub hook_id: String,
    /// AWS_LAMBDA or PAUSE.
    pub target_type: String,
    pub target_arn: Option<String>,
    /// AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    pub expires_at: f64,
    /// ROLLBACK or CONTINUE.
    pub timeout_action: String,
    /// When a Lambda hook is invoked next.
    next_call: f64,
    /// Configured for PRE_PRODUCTION_TRAFFIC_SHIFT: production traffic waits for it.
    pub pre_production: bool,
}

/// What a Lambda hook's function answers, set through `PUT /_sandbox/hooks`: the `hookStatus`
/// of each invocation in turn (the last repeats), and the callBackDelaySeconds of IN_PROGRESS.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaScript {
    pub target_arn: String,
    pub answers: Vec<String>,
    #[serde(default = "thirty")]
    pub call_back_delay_seconds: f64,
    #[serde(skip)]
    pub calls: usize,
}

fn thirty() -> f64 {
    30.0
}

/// A native service deployment's progress.
#[derive(Debug, Clone)]
pub struct Native {
    pub strategy: String,
    /// The deploymentConfiguration it started with.
    pub config: Value,
    /// `ServiceDeploymentStatus`.
    pub status: String,
    pub reason: String,
    pub stage: usize,
    pub stage_started: f64,
    pub hooks: Vec<Hook>,
    /// The blue deployment's id and task definition.
    pub source: Option<(String, String)>,
    /// The green revision's share of production and test traffic, in percent.
    pub production: f64,
    pub test: f64,
    shifted_at: f64,
    pub started_at: f64,
    pub finished_at: Option<f64>,
    /// Why and when the rollback began.
    pub rollback: Option<(String, f64)>,
    /// StopServiceDeployment with ABORT: ends STOPPED rather than ROLLBACK_SUCCESSFUL.
    pub(super) abort: bool,
    pub breaker_triggered: bool,
    pub triggered_alarms: Vec<String>,
    /// Each stage entered and when, in order (CodeDeploy's lifecycle events are read off it).
    pub stage_log: Vec<(usize, f64)>,
    /// When production traffic first moved to green.
    pub shift_began: Option<f64>,
}

impl Native {
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "PENDING"
                | "IN_PROGRESS"
                | "ROLLBACK_REQUESTED"
                | "ROLLBACK_IN_PROGRESS"
                | "STOP_REQUESTED"
        )
    }

    pub fn stage_name(&self) -> &'static str {
        STAGES[self.stage]
    }

    /// Ask for a rollback (once): the next second starts it.
    pub fn fail(&mut self, reason: String, now: f64) {
        if self.status == "IN_PROGRESS" || self.status == "PENDING" {
            self.status = "ROLLBACK_REQUESTED".into();
            self.reason = reason.clone();
            self.rollback = Some((reason, now));
        }
    }
}

/// A new native deployment replacing `blue`, PENDING until the next second.
pub fn start(strategy: &str, config: &Value, blue: Option<&Deployment>, now: f64) -> Native {
    Native {
        strategy: strategy.to_string(),
        config: config.clone(),
        status: "PENDING".into(),
        reason: "Service deployment is pending.".into(),
        stage: 1,
        stage_started: now,
        hooks: vec![],
        source: blue.map(|b| (b.id.clone(), b.task_definition.clone())),
        production: 0.0,
        test: 0.0,
        shifted_at: now,
        started_at: now,
        finished_at: None,
        rollback: None,
        abort: false,
        breaker_triggered: false,
        triggered_alarms: vec![],
        stage_log: vec![],
        shift_began: None,
    }
}

/// The strategy a deployment configuration names, when it is one of [`NATIVE`].
pub fn native_strategy(config: &Value) -> Option<&'static str> {
    let s = config["strategy"].as_str()?;
    NATIVE.iter().copied().find(|n| *n == s)
}

fn new_hook_id(kind: &str) -> String {
    let prefix = if kind == "PAUSE" {
        "ecs-pause-"
    } else {
        "ecs-lambda-"
    };
    format!("{prefix}{}", &new_id()[..24])
}

/// The hooks configured for stage `name` (PRE_PRODUCTION_TRAFFIC_SHIFT's run as production
/// traffic starts to shift), as running hooks.
fn hooks_for(config: &Value, name: &str, now: f64) -> Vec<Hook> {
    config["lifecycleHooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| {
            h["lifecycleStages"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s.as_str() == Some(name)
                        || (name == "PRODUCTION_TRAFFIC_SHIFT"
                            && s.as_str() == Some("PRE_PRODUCTION_TRAFFIC_SHIFT"))
                })
        })
        .map(|h| {
            let kind = h["targetType"].as_str().unwrap_or("AWS_LAMBDA").to_string();
            let minutes = h
                .pointer("/timeoutConfiguration/timeoutInMinutes")
                .and_then(Value::as_f64)
                .unwrap_or(1440.0);
            Hook {
                hook_id: new_hook_id(&kind),
                status: if kind == "PAUSE" {
                    "AWAITING_ACTION"
                } else {
                    "IN_PROGRESS"
                }
                .into(),
                target_arn: opt_str(h, "hookTargetArn")
                    .filter(|_| kind != "PAUSE")
                    .map(String::from),
                target_type: kind,
                expires_at: now + minutes * 60.0,
                timeout_action: h
                    .pointer("/timeoutConfiguration/action")
                    .and_then(Value::as_str)
                    .unwrap_or("ROLLBACK")
                    .to_string(),
                next_call: now,
                pre_production: name == "PRODUCTION_TRAFFIC_SHIFT"
                    && h["lifecycleStages"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|s| s.as_str() == Some("PRE_PRODUCTION_TRAFFIC_SHIFT")),
            }
        })
        .collect()
}

/// One second of the hooks: Lambda functions answer when called, hooks expire.
fn run_hooks(n: &mut Native, lambdas: &mut [LambdaScript], now: f64) {
    let stage = n.stage_name();
    let mut failure = None;
    for h in n.hooks.iter_mut() {
        let open = h.status == "IN_PROGRESS" || h.status == "AWAITING_ACTION";
        if open && now >= h.expires_at {
            h.status = "TIMED_OUT".into();
            if h.timeout_action == "ROLLBACK" {
                failure = Some(format!(
                    "The {} lifecycle hook {} timed out in {stage}.",
                    h.target_type, h.hook_id
                ));
            }
            continue;
        }
        if h.target_type != "AWS_LAMBDA" || h.status != "IN_PROGRESS" || now < h.next_call {
            continue;
        }
        let arn = h.target_arn.clone().unwrap_or_default();
        let answer = match lambdas.iter_mut().find(|l| l.target_arn == arn) {
            Some(l) => {
                let a = l
                    .answers
                    .get(l.calls)
                    .or(l.answers.last())
                    .cloned()
                    .unwrap_or_else(|| "SUCCEEDED".into());
                l.calls += 1;
                h.next_call = now + l.call_back_delay_seconds.max(1.0);
                a
            }
            None => "SUCCEEDED".into(),
        };
        h.status = answer;
        if h.status == "FAILED" {
            failure = Some(format!(
                "The lifecycle hook {arn} returned FAILED in {stage}."
            ));
        }
    }
    if let Some(why) = failure {
        n.fail(why, now);
    }
}

/// One second of production traffic shifting; true once all of it is on green. A hook of
/// PRE_PRODUCTION_TRAFFIC_SHIFT holds the first shift until it has succeeded.
fn shift_production(n: &mut Native, now: f64) -> bool {
    let waiting = n
        .hooks
        .iter()
        .any(|h| h.pre_production && h.status != "SUCCEEDED" && h.status != "TIMED_OUT");
    if waiting {
        return false;
    }
    n.shift_began.get_or_insert(now);
    let c = &n.config;
    let f = |p: &str, d: f64| c.pointer(p).and_then(Value::as_f64).unwrap_or(d);
    match n.strategy.as_str() {
        "LINEAR" => {
            let (step, wait) = (
                f("/linearConfiguration/stepPercent", 10.0),
                f("/linearConfiguration/stepBakeTimeInMinutes", 6.0) * 60.0,
            );
            if n.production == 0.0 || now - n.shifted_at >= wait {
                n.production = (n.production + step).min(100.0);
                n.shifted_at = now;
            }
        }
        "CANARY" => {
            let (pct, wait) = (
                f("/canaryConfiguration/canaryPercent", 5.0),
                f("/canaryConfiguration/canaryBakeTimeInMinutes", 10.0) * 60.0,
            );
            if n.production == 0.0 {
                n.production = pct.min(100.0);
                n.shifted_at = now;
            } else if now - n.shifted_at >= wait {
                n.production = 100.0;
            }
        }
        _ => n.production = 100.0,
    }
    n.production >= 100.0
}

/// The blue/green (linear, canary) controller of one service for one second, while a native
/// deployment is active; false when none is (the rolling controller then keeps the service).
pub fn control(st: &mut EcsState, ctx: &Ctx, svc: &mut Service) -> bool {
    let Some(gi) = svc
        .deployments
        .iter()
        .position(|d| d.native.as_ref().is_some_and(Native::active))
    else {
        return false;
    };
    let now = ctx.now;
    let mut n = svc.deployments[gi].native.take().expect("native");
    let green = svc.deployments[gi].id.clone();
    match n.status.as_str() {
        "PENDING" => {
            n.status = "IN_PROGRESS".into();
            n.reason = "Service deployment in progress.".into();
            n.started_at = now;
            enter(&mut n, 1, now);
        }
        "IN_PROGRESS" => progress(st, ctx, svc, &mut n, &green),
        "ROLLBACK_REQUESTED" | "STOP_REQUESTED" => begin_rollback(st, now, svc, &mut n, &green),
        _ => {
            // Rolling back: done once the green tasks have stopped.
            if !st.tasks.iter().any(|t| {
                t.deployment.as_deref() == Some(green.as_str()) && t.last_status != "STOPPED"
            }) {
                n.status = if n.abort {
                    "STOPPED"
                } else {
                    "ROLLBACK_SUCCESSFUL"
                }
                .into();
                n.finished_at = Some(now);
            }
        }
    }
    let finished = !n.active();
    if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == green) {
        d.native = Some(n);
        d.updated_at = now;
    }
    sync_history(svc);
    if finished {
        // The drained side leaves the service's list: blue after success, green after a rollback.
        let tasks = &st.tasks;
        svc.deployments.retain(|d| {
            d.status == "PRIMARY"
                || tasks.iter().any(|t| {
                    t.deployment.as_deref() == Some(d.id.as_str()) && t.last_status != "STOPPED"
                })
        });
    }
    true
}

fn sync_history(svc: &mut Service) {
    for d in &svc.deployments {
        if let Some(h) = svc.history.iter_mut().find(|h| h.id == d.id) {
            *h = d.clone();
        }
    }
}

fn enter(n: &mut Native, stage: usize, now: f64) {
    n.stage_log.push((stage, now));
    n.stage = stage;
    n.stage_started = now;
    n.hooks = hooks_for(&n.config, STAGES[stage], now);
}

/// The circuit breaker (the green tasks that failed) and the CloudWatch alarms (until the
/// clean-up) for one second: either asks for a rollback.
fn monitor(st: &EcsState, svc: &Service, n: &mut Native, green: &str, now: f64) {
    let stage = n.stage_name();
    // The circuit breaker counts the green tasks that failed.
    let breaker = &n.config["deploymentCircuitBreaker"];
    let failed = svc
        .deployments
        .iter()
        .find(|d| d.id == green)
        .map_or(0, |d| d.failed);
    if breaker["enable"].as_bool().unwrap_or(false) && failed >= threshold(svc.desired) {
        n.breaker_triggered = true;
        n.fail(
            "ECS deployment circuit breaker: tasks failed to start.".into(),
            now,
        );
    }
    // CloudWatch alarms watch the deployment until the clean-up.
    let alarms = &n.config["alarms"];
    if alarms["enable"].as_bool().unwrap_or(false) && stage != "CLEAN_UP" {
        let fired: Vec<String> = alarms["alarmNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|a| st.alarms.get(*a).is_some_and(|s| s == "ALARM"))
            .map(String::from)
            .collect();
        if !fired.is_empty() {
            n.fail(
                format!("CloudWatch alarm(s) in ALARM: {}.", fired.join(", ")),
                now,
            );
            n.triggered_alarms = fired;
        }
    }
}

/// One second of an IN_PROGRESS deployment: the monitors, the hooks, the stage's own work.
fn progress(st: &mut EcsState, ctx: &Ctx, svc: &mut Service, n: &mut Native, green: &str) {
    let now = ctx.now;
    let stage = n.stage_name();
    monitor(st, svc, n, green, now);
    run_hooks(n, &mut st.lambdas, now);
    if n.status != "IN_PROGRESS" {
        return;
    }
    let desired = svc.desired;
    let done = match stage {
        "SCALE_UP" => {
            start_tasks(st, ctx, svc, 200);
            // Scaled up once the green tasks have held the desired count for a moment (a
            // crash-looping image is running for a second now and then, never settled).
            let full = running(&st.tasks, green) == desired;
            let settle = if st.settle_secs > 0.0 {
                st.settle_secs
            } else {
                SETTLE_SECS
            };
            let d = svc
                .deployments
                .iter_mut()
                .find(|d| d.id == green)
                .expect("green");
            if !full {
                d.settled_since = None;
            }
            full && now - *d.settled_since.get_or_insert(now) >= settle
        }
        "TEST_TRAFFIC_SHIFT" => {
            n.test = 100.0;
            true
        }
        "PRODUCTION_TRAFFIC_SHIFT" => shift_production(n, now),
        "BAKE_TIME" => {
            let bake = n.config["bakeTimeInMinutes"].as_f64().unwrap_or(0.0);
            now - n.stage_started >= bake * 60.0
        }
        "CLEAN_UP" => {
            let blue: Vec<String> = svc
                .deployments
                .iter()
                .filter(|d| d.id != green)
                .map(|d| d.id.clone())
                .collect();
            let reason = format!("Scaling activity initiated by (deployment {green})");
            let mut stopped = 0;
            for t in st.tasks.iter_mut().filter(|t| {
                t.deployment.as_ref().is_some_and(|d| blue.contains(d))
                    && t.desired_status == "RUNNING"
            }) {
                stop_task(
                    t,
                    now,
                    "ServiceSchedulerInitiated",
                    &reason,
                    &mut st.to_remove,
                );
                stopped += 1;
            }
            if stopped > 0 {
                event(svc, now, format!("has stopped {stopped} running tasks."));
            }
            !st.tasks.iter().any(|t| {
                t.deployment.as_ref().is_some_and(|d| blue.contains(d))
                    && t.last_status != "STOPPED"
            })
        }
        _ => true,
    };
    let hooks_done = n.hooks.iter().all(|h| {
        h.status == "SUCCEEDED" || (h.status == "TIMED_OUT" && h.timeout_action == "CONTINUE")
    });
    if !(done && hooks_done && now - n.stage_started >= 1.0) {
        return;
    }
    if n.stage + 1 < STAGES.len() {
        enter(n, n.stage + 1, now);
        return;
    }
    n.status = "SUCCESSFUL".into();
    n.reason = "Service deployment completed successfully.".into();
    n.finished_at = Some(now);
    if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == green) {
        d.rollout_state = "COMPLETED".into();
        d.rollout_reason = format!("ECS deployment {green} completed.");
        svc.last_completed_td = Some(d.task_definition.clone());
    }
    event(
        svc,
        now,
        format!("(deployment {green}) deployment completed."),
    );
}

/// The circuit breaker's threshold: half the desired count, 3 to 200 tasks.
pub fn threshold(desired: i64) -> i64 {
    ((desired as f64 * 0.5).ceil() as i64).clamp(3, 200)
}

/// Traffic back to blue, blue PRIMARY again, the green tasks stopped.
fn begin_rollback(st: &mut EcsState, now: f64, svc: &mut Service, n: &mut Native, green: &str) {
    // ABORT leaves nothing to follow: STOPPED at once, the green tasks stopping.
    n.status = if n.abort {
        "STOPPED"
    } else {
        "ROLLBACK_IN_PROGRESS"
    }
    .into();
    n.production = 0.0;
    n.test = 0.0;
    let reason = n.reason.clone();
    if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == green) {
        d.status = "ACTIVE".into();
        d.rollout_state = "FAILED".into();
        d.rollout_reason = reason.clone();
    }
    if let Some((blue, td)) = &n.source {
        if let Some(i) = svc.deployments.iter().position(|d| d.id == *blue) {
            let mut b = svc.deployments.remove(i);
            b.status = "PRIMARY".into();
            svc.deployments.insert(0, b);
            svc.task_definition = td.clone();
        }
    }
    let why = format!("Scaling activity initiated by rollback of (deployment {green})");
    for t in st
        .tasks
        .iter_mut()
        .filter(|t| t.deployment.as_deref() == Some(green))
    {
        stop_task(t, now, "ServiceSchedulerInitiated", &why, &mut st.to_remove);
    }
    event(
        svc,
        now,
        format!("(deployment {green}) deployment failed: {reason}"),
    );
    if n.abort {
        n.finished_at = Some(now);
    }
}

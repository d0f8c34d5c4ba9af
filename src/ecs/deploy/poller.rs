//! The one loop every deployment is followed by, whatever its controller: it polls (jittered),
//! waits out transient failures until the deadline, slows down when throttled, keeps the
//! heartbeat, and ends at the deadline. What a poll reads and what it means is the
//! [`Controller`]'s: rolling (`follow`), ECS's native strategies (`native`), CodeDeploy
//! (`codedeploy`), and the rollbacks after them.

use super::outcome::DeployResult;
use super::plan::say;
use super::plan::Plan;
use crate::aws::json::{ApiError, CallError};
use crate::ecs::wait::{Heartbeat, Watch};
use anyhow::Result;
use std::time::{Duration, Instant};

/// How one deployment controller is followed: one read per poll, and a judgement of it.
pub(super) trait Controller {
    /// What one read returns.
    type State;
    /// The service that runs the deployment, and carries it on while reads fail ("ECS").
    const SERVICE: &'static str;
    /// The call a read makes, as a failure names it ("DescribeServices").
    const READ: &'static str;

    /// Read the deployment once.
    async fn read(&mut self) -> Result<Self::State, CallError>;

    /// Print and record what is new in `state`, act where the deployment waits for us, and
    /// decide: `Decided` ends the follow with its result.
    async fn judge(&mut self, state: Self::State, watch: &mut Watch) -> Result<Judged>;

    /// What the heartbeat says after `so_far` of silence ("still following deployment …").
    fn heartbeat(&self, so_far: &str) -> String;
}

/// What one poll's judgement found.
pub(super) enum Judged {
    /// Still going; `said` when the poll printed something (the heartbeat waits then).
    Going {
        said: bool,
    },
    Decided(DeployResult),
}

/// Follow `c` until it decides or the deadline passes (this deployment's own: whatever another
/// service's follower waits for, a shared read lock included, does not hold it).
pub(super) async fn follow<C: Controller>(
    c: &mut C,
    plan: &Plan,
    service: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let polling = polls(c, plan, service, deadline, watch);
    crate::aws::deadline::bounded(deadline, polling, || Ok(DeployResult::TimedOut)).await
}

async fn polls<C: Controller>(
    c: &mut C,
    plan: &Plan,
    service: &str,
    deadline: Instant,
    watch: &mut Watch,
) -> Result<DeployResult> {
    let since = Instant::now();
    let mut heartbeat = Heartbeat::new(since, crate::ecs::HEARTBEAT);
    let mut interval = plan.poll;
    let mut unanswered = false;
    loop {
        match c.read().await {
            Ok(state) => {
                interval = plan.poll;
                match c.judge(state, watch).await? {
                    Judged::Decided(r) => return Ok(r),
                    Judged::Going { said: true } => heartbeat.said(Instant::now()),
                    Judged::Going { said: false } => {
                        if heartbeat.due(Instant::now()) {
                            let so_far = Duration::from_secs(since.elapsed().as_secs());
                            let line = c.heartbeat(&crate::validate::human_duration(so_far));
                            say(plan, service, &line);
                        }
                    }
                }
            }
            Err(e) if e.is_deadline() => return Ok(DeployResult::TimedOut),
            // A transient failure (5xx, a cut connection) after the client's own retries: the
            // deployment goes on regardless, so keep following it until the deadline.
            Err(e @ CallError::Transport(_))
            | Err(e @ CallError::Api(ApiError { status: 500.., .. })) => {
                if !unanswered {
                    unanswered = true;
                    say(plan, service, &unanswered_line(C::READ, C::SERVICE, &e));
                }
            }
            Err(CallError::Api(e)) if e.is_throttling() => {
                interval = slower(interval);
                let line = format!("throttled; polling every {} ms", interval.as_millis());
                say(plan, service, &line);
            }
            Err(e) => return Err(e.into_anyhow(format!("{} {}", C::SERVICE, C::READ))),
        }
        if !pause(interval, deadline).await {
            return Ok(DeployResult::TimedOut);
        }
    }
}

/// Said once when reads fail: the deployment is not ours to lose by it.
fn unanswered_line(read: &str, service: &str, e: &CallError) -> String {
    format!("{read} failed ({e}); the rollout goes on in {service}, still following it until the deadline")
}

/// The poll interval after a throttling answer: doubled, at most 30 s.
fn slower(interval: Duration) -> Duration {
    (interval * 2).min(Duration::from_secs(30))
}

/// Jitter a poll interval by up to a quarter either way (the default 4 s becomes 3–5 s).
pub(super) fn jittered(d: Duration) -> Duration {
    let ms = d.as_millis() as u64;
    Duration::from_millis(rand::random_range(ms * 3 / 4..=ms * 5 / 4 + 1))
}

/// Sleep one jittered poll, but not past the deadline; false once it has passed.
pub(super) async fn pause(interval: Duration, deadline: Instant) -> bool {
    let d = jittered(interval);
    tokio::time::sleep(
        d.min(deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10)),
    )
    .await;
    Instant::now() < deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_doubles_the_interval_up_to_30_s() {
        assert_eq!(slower(Duration::from_secs(4)), Duration::from_secs(8));
        assert_eq!(slower(Duration::from_secs(20)), Duration::from_secs(30));
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(4));
            assert!(
                j >= Duration::from_secs(3) && j <= Duration::from_millis(5001),
                "{j:?}"
            );
        }
    }

    #[test]
    fn a_failed_read_says_who_carries_the_deployment_on() {
        let e = CallError::Transport(anyhow::anyhow!("connection reset"));
        assert_eq!(
            unanswered_line("GetDeployment", "CodeDeploy", &e),
            format!("GetDeployment failed ({e}); the rollout goes on in CodeDeploy, still following it until the deadline")
        );
    }
}

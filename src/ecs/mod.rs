//! ECS: new task-definition revisions, service updates followed to their end, one-off tasks.

pub mod addresses;
pub mod api;
pub mod batch;
pub mod deploy;
pub mod diff;
pub mod hooks;
pub mod logs;
pub mod record;
pub mod report;
pub mod run_task;
pub mod stages;
pub mod task_options;
pub mod taskdef;
pub mod taskdef_fields;
pub mod timeline;
pub mod wait;

use std::time::Duration;

/// The shortest `--timeout`: a shorter one would update a service and give up at once.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest `--timeout`: a day, far beyond any CircleCI job's limit.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// The shortest `--poll-interval`: five calls a second at most, well within ECS's rate limits.
pub const MIN_POLL: Duration = Duration::from_millis(200);
/// A wait that has printed nothing for this long says it is still waiting: CircleCI ends a
/// step after 10 minutes without output, and a reader of a live log wants a sign of life well
/// before that.
pub const HEARTBEAT: Duration = Duration::from_secs(60);
/// The longest `--poll-interval`.
pub const MAX_POLL: Duration = Duration::from_secs(300);

/// `--timeout` of a command that waits, as clap reads it: the CLI's one duration grammar
/// ([`crate::validate::duration`]) within the bounds above.
pub fn timeout_flag(text: &str) -> Result<Duration, String> {
    crate::validate::bounded_duration(text, MIN_TIMEOUT, MAX_TIMEOUT, "STEVEDORE_TIMEOUT")
}

/// `--poll-interval` of a command that waits, as clap reads it.
pub fn poll_flag(text: &str) -> Result<Duration, String> {
    crate::validate::bounded_duration(text, MIN_POLL, MAX_POLL, "STEVEDORE_POLL_INTERVAL")
}

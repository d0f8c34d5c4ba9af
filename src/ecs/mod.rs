//! ECS: new task-definition revisions, service updates followed to their end, one-off tasks.

pub mod deploy;
pub mod run_task;
pub mod taskdef;
pub mod wait;

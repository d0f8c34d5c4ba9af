//! stevedore: ship container images to Amazon ECR and deploy them to ECS from CircleCI.
//!
//! Layers, bottom up: `aws` (signed JSON client, SDK configuration, errors, credentials) and the
//! shared helpers (`config`, `error`, `export`, `relay`, `units`, `validate`); one folder per domain
//! (`auth`, `ecr`, `image`, `attest`, `sign`, `ecs`, `codedeploy`, `schedule`, `iam`,
//! `doctor`), each a plan, the calls and a report; `cli`
//! (arguments) and `dispatch` (argument → command) on top.

pub mod attest;
pub mod auth;
pub mod cli;
pub mod codedeploy;
pub mod dispatch;
pub mod doctor;
pub mod ecr;
pub mod ecs;
pub mod error;
pub mod iam;
pub mod image;
pub mod orb;
pub mod render;
pub mod schedule;
pub mod sign;

pub use dispatch::main_entry;
// The layers below, as crates of their own (Cargo refuses an import upward): their modules keep
// the paths they had here (`crate::config`, `crate::aws::json`).
pub use stevedore_aws as aws;
pub use stevedore_base::{config, export, handoff, relay, units, validate, values};

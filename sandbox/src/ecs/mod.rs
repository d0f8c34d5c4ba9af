//! ECS: clusters, task definitions, services with the rolling-update deployment controller
//! simulated on the sandbox clock, the deployment circuit breaker, tasks that fail the way they
//! fail on ECS, and one-off tasks.
//!
//! The simulation is advanced lazily, in one-second steps of sandbox time, whenever a request
//! arrives; a task's fate (does its image exist? does it ask to crash?) is read from the real
//! registry by a probe that runs outside the state lock.
//!
//! Split as moto splits a service: `model` (the state and what it does), `controller` (the
//! rollout clock: what a second of sandbox time does to services and tasks) and `api` (request
//! parameters in, response shapes out, as the ECS API model defines them).

pub mod api;
pub mod codedeploy;
pub mod codedeploy_api;
pub mod controller;
pub mod health;
pub mod model;
pub mod network;
mod run_request;
pub mod services;
pub mod shapes;
pub mod strategies;
pub mod strategies_api;
pub mod tags;
pub mod tasks;

pub use api::handle;
pub use controller::tick;
pub use model::*;

#[cfg(test)]
mod strategies_tests;
#[cfg(test)]
mod tests;

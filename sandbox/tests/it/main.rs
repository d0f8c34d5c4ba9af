//! Integration tests of the sandbox: one binary, so the suite links once.

mod crosscheck;
mod harness;
mod kms;
mod scenarios;
mod scenarios_blue_green;
mod service_deployments;

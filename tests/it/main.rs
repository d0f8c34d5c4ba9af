//! Integration tests of the `stevedore` binary: one test binary, so the suite links once.

mod auth;
mod codedeploy;
mod deploy;
mod doctor;
mod ecr;
mod fuzz;
mod hardening;
mod harness;
mod iam;
mod index;
mod input;
mod logs;
mod migrating;
mod orb;
mod output;
mod parity;
mod push;
mod report;
mod run_task;
mod sandbox;
mod schedule;
mod secrets;
mod signing;
mod strategies;
mod verify;
mod wording;

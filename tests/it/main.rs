//! Integration tests of the `stevedore` binary: one test binary, so the suite links once, and
//! `make test` runs each test in its own process (cargo-nextest), many at once. Grouped by area;
//! `cargo nextest run --test it -E 'test(/^deploy::/)'` runs one module.

mod harness; // the binary with a clean environment; the sandbox, moto and fakes, always stopped

// Credentials and set-up
mod auth; // `auth`, `whoami`: OIDC and access keys against moto's and a scripted STS
mod doctor; // `doctor`: each broken set-up named with its fix
mod iam; // `iam policy/trust/bootstrap`, proven by the sandbox's IAM evaluation
mod sandbox; // real OIDC verification, trust policies, the README's sandbox examples

// Images
mod ecr; // `ecr` against moto, read back with boto3
mod index; // `index`: multi-architecture images in the sandbox's registry
mod push; // `push` against the real registries, read back with skopeo
mod signing; // signed and attested pushes (KMS, referrers API), verified at deploy
mod signing_setup; // the permission to sign, keys, BuildKit indexes signed whole

// Deploys
mod codedeploy; // CODE_DEPLOY services: lifecycle events, ready and termination waits
mod deploy; // rolling deploys and run-task: verdicts, rollbacks, deadlines
mod logs; // CloudWatch Logs: run-task's output, a failing container's last lines
mod parity; // the aws-ecs orb's parameters, given a home
mod report; // `--report`: report.json against its schema, the HTML rendered by chromium
mod run_task; // RunTask's options
mod schedule; // EventBridge Scheduler and rules
mod strategies; // ECS-native blue/green, linear and canary, pause and lifecycle hooks
mod verify; // `--verify CMD` and `--check-url` on the new revision

// The orb and the flows users copy
mod migrating; // the migration guide's "after" configs, run whole
mod orb; // packed orb jobs run step by step as CircleCI does
mod tutorials; // tutorial flows as people write them

// Promises and what users read
mod fuzz; // property tests over untrusted input
mod hardening; // one regression test per finding of issue 12
mod input; // bad input: exit 2, one line, nothing created
mod output; // no escape codes off a terminal, NO_COLOR
mod promises; // the README's security promises, each tried
mod secrets; // canary secrets never printed
mod wording; // `--help` and output snapshots (insta)

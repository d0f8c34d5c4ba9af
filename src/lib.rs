//! stevedore: ship container images to Amazon ECR and deploy them to ECS from CircleCI.

pub mod auth;
pub mod aws_error;
pub mod cli;
pub mod config;
pub mod docker_config;
pub mod ecr;
pub mod error;
pub mod export;
pub mod oidc;
pub mod policy;
pub mod render;
pub mod validate;

use clap::Parser;
use std::process::ExitCode;

/// Parse the command line, run it, print any error as one chain, and map it to an exit code.
pub fn main_entry() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stevedore: cannot start the async runtime: {e}");
            return ExitCode::from(error::EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stevedore: {e:#}");
            ExitCode::from(error::exit_code(&e))
        }
    }
}

/// Run one parsed command.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let settings = config::Settings::resolve(config::Sources::from_env(cli.region.clone()))?;
    match cli.command {
        cli::Command::Auth(a) => auth::run_auth(&settings, a).await,
        cli::Command::Whoami(a) => auth::run_whoami(&settings, a).await,
        cli::Command::Ecr(cli::EcrCommand::EnsureRepo(a)) => {
            ecr::run_ensure_repo(&settings, a).await
        }
        cli::Command::Ecr(cli::EcrCommand::Login(a)) => ecr::run_login(&settings, a).await,
        cli::Command::Ecr(cli::EcrCommand::Uri(a)) => ecr::run_uri(&settings, a),
    }
}

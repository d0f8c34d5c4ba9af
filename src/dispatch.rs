//! From the command line to a command: parse, run on a runtime, and map the outcome to an exit code.

use crate::{auth, cli, config, doctor, ecr, ecs, error, iam, image};
use clap::Parser;
use std::process::ExitCode;

/// Parse the command line, run it, print any error as one chain, and map it to an exit code.
pub fn main_entry() -> ExitCode {
    drop_empty_flag_variables();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_exit(e),
    };
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
            let said = e
                .downcast_ref::<error::Outcome>()
                .is_some_and(|o| o.message.is_empty());
            if !said {
                eprintln!("stevedore: {e:#}");
            }
            ExitCode::from(error::exit_code(&e))
        }
    }
}

/// CircleCI passes an orb parameter left at "" as an empty variable; clap would read that as a
/// flag given without a value. Treat empty as unset: remove them before parsing.
fn drop_empty_flag_variables() {
    fn walk(cmd: &clap::Command, names: &mut Vec<std::ffi::OsString>) {
        names.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_env().map(|e| e.to_os_string())),
        );
        for sub in cmd.get_subcommands() {
            walk(sub, names);
        }
    }
    let mut names = Vec::new();
    walk(&<cli::Cli as clap::CommandFactory>::command(), &mut names);
    for name in names {
        if std::env::var_os(&name).is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
            // Safe here: called first thing in main, before any other thread exists.
            std::env::remove_var(&name);
        }
    }
}

/// Help and version go out as clap prints them; errors become one line, exit code 2.
fn usage_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .collect();
    eprintln!(
        "stevedore: {} (see --help)",
        line.join("; ").trim_start_matches("error: ")
    );
    ExitCode::from(error::EXIT_USAGE)
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
        cli::Command::Push(a) => image::push::run(&settings, a).await,
        cli::Command::Deploy(a) => ecs::deploy::run(&settings, *a).await,
        cli::Command::RunTask(a) => ecs::run_task::run(&settings, a).await,
        cli::Command::Iam(cli::IamCommand::Trust(a)) => iam::run_trust(&settings, a),
        cli::Command::Iam(cli::IamCommand::Policy(a)) => iam::run_policy(&settings, a),
        cli::Command::Doctor(a) => doctor::run(&settings, a).await,
        cli::Command::Bootstrap(a) => iam::run_bootstrap(&settings, a),
    }
}

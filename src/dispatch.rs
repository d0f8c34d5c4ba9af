//! From the command line to a command: parse, run on a runtime, and map the outcome to an exit code.

use crate::error::usage;
use crate::{auth, cli, config, doctor, ecr, ecs, error, export, iam, image, orb};
use anyhow::Context;
use std::process::ExitCode;

/// Parse the command line, run it, print any error as one chain, and map it to an exit code.
pub fn main_entry() -> ExitCode {
    drop_empty_flag_variables();
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return usage_exit(e),
    };
    // An orb step changes the environment first, while this is the only thread.
    let step = match &cli.command {
        cli::Command::Orb(o) => match prepare_step(o.step) {
            Ok(prepared) => Some(prepared),
            Err(e) => return failure(e),
        },
        _ => None,
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
    let result = match step {
        Some((plan, _work)) => run_step(&runtime, plan),
        None => runtime.block_on(run(cli)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(e),
    }
}

/// Print an error once (an [`error::Outcome`] without a message was said already) and map it
/// to its exit code.
fn failure(e: anyhow::Error) -> ExitCode {
    let said = e
        .downcast_ref::<error::Outcome>()
        .is_some_and(|o| o.message.is_empty());
    if !said {
        // An error can carry what a remote said (a registry's body, an API's message): escaped,
        // so it cannot write terminal commands or a line of its own into the job's log.
        eprintln!("stevedore: {}", crate::relay::escape(&format!("{e:#}")));
    }
    ExitCode::from(error::exit_code(&e))
}

/// Plan an orb step and apply its variables (and `$BASH_ENV` lines); the scratch directory
/// lives as long as the step.
fn prepare_step(step: orb::Step) -> anyhow::Result<(orb::StepPlan, tempfile::TempDir)> {
    let work = tempfile::tempdir().context("creating a scratch directory for the step")?;
    let env = |k: &str| std::env::var(k).ok();
    let machine = orb::Machine::detect(step, &env);
    let plan = orb::plan(step, &env, work.path(), &machine)?;
    for (k, v) in &plan.set {
        // Safe here: called before the runtime starts, while this is the only thread.
        if v.is_empty() {
            std::env::remove_var(k);
        } else {
            std::env::set_var(k, v);
        }
    }
    if !plan.bash_env.is_empty() {
        let path = config::env_var("BASH_ENV").ok_or_else(|| {
            usage!("BASH_ENV is not set: the orb's steps hand values on through it (CircleCI sets it in every job)")
        })?;
        let vars: Vec<(&str, &str)> = plan
            .bash_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        export::append_bash_env(std::path::Path::new(&path), &vars)?;
    }
    Ok((plan, work))
}

/// Run an orb step's actions in order; the first failure ends it.
fn run_step(runtime: &tokio::runtime::Runtime, plan: orb::StepPlan) -> anyhow::Result<()> {
    for action in plan.actions {
        match action {
            orb::Action::Stevedore(args) => {
                let argv = std::iter::once("stevedore".to_string()).chain(args);
                let cli =
                    cli::parse_from(argv).map_err(|e| usage!("{} (see --help)", clap_line(&e)))?;
                runtime.block_on(run(cli))?;
            }
            orb::Action::SkipIfTagsExist { repo, tags, public } => {
                let settings = config::Settings::resolve(config::Sources::from_env(None))?;
                let all = runtime.block_on(crate::image::exists::all_tags_exist(
                    &settings, public, &repo, &tags,
                ))?;
                if all {
                    println!("every tag exists in {repo}: the build and push are skipped");
                    return Ok(());
                }
            }
            orb::Action::DockerLogin {
                host,
                username_var,
                password_var,
            } => docker_login(&host, &username_var, &password_var)?,
            orb::Action::CachedBuild {
                repo,
                public,
                tag,
                buildx,
                args,
            } => {
                let settings = config::Settings::resolve(config::Sources::from_env(None))?;
                let cache_ref = runtime
                    .block_on(crate::image::cache::prepare(&settings, public, &repo, &tag))?;
                let flags = if buildx {
                    crate::image::cache::buildx_args(&cache_ref)
                } else {
                    // The first build has no cache yet: a failed pull is not an error.
                    if run_program(
                        "docker",
                        &["pull".into(), "--quiet".into(), cache_ref.clone()],
                    )
                    .is_err()
                    {
                        println!("no build cache at {cache_ref} yet; building without it");
                    }
                    crate::image::cache::classic_args(&cache_ref)
                };
                run_program("docker", &crate::image::cache::with_cache(&args, flags))?;
            }
            orb::Action::Program(program, args) => run_program(&program, &args)?,
            orb::Action::Say(line) => println!("{line}"),
        }
    }
    Ok(())
}

/// Run a program with the step's output; its failure is the step's, with its exit code.
fn run_program(program: &str, args: &[String]) -> anyhow::Result<()> {
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .map_err(|e| usage!("cannot run {program} ({e}): install it in the job's image"))?;
    if !status.success() {
        return Err(error::Outcome {
            code: status
                .code()
                .map_or(error::EXIT_FAILURE, |c| c.clamp(1, 255) as u8),
            message: format!(
                "{program} {} failed ({status})",
                args.first().map_or("", String::as_str)
            ),
        }
        .into());
    }
    Ok(())
}

/// `docker login HOST` as the user and with the password in the named variables.
fn docker_login(host: &str, username_var: &str, password_var: &str) -> anyhow::Result<()> {
    let user = config::env_var(username_var).unwrap_or_default();
    let password = std::env::var(password_var).unwrap_or_default();
    crate::ecr::login::docker_login_as(host, &user, &password).map_err(|e| match e {
        crate::ecr::login::DockerLoginError::Spawn(e) => {
            usage!("cannot run docker ({e}): install it in the job's image")
        }
        other => error::Outcome {
            code: error::EXIT_FAILURE,
            message: format!(
                "{other} (as {username_var}): check {username_var} and {password_var}"
            ),
        }
        .into(),
    })
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
    walk(&cli::command(), &mut names);
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
    eprintln!("stevedore: {} (see --help)", clap_line(&e));
    ExitCode::from(error::EXIT_USAGE)
}

/// A clap error as one line, without its usage and hint lines.
fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .collect();
    line.join("; ").trim_start_matches("error: ").to_string()
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
        cli::Command::Ecr(cli::EcrCommand::Tag(a)) => crate::image::retag::run(&settings, a).await,
        cli::Command::Push(a) => image::push::run(&settings, a).await,
        cli::Command::Index(a) => image::index::run(&settings, a).await,
        cli::Command::Verify(a) => crate::sign::verify::run(&settings, a).await,
        cli::Command::Deploy(a) => ecs::deploy::run(&settings, *a).await,
        cli::Command::RunTask(a) => ecs::run_task::run(&settings, a).await,
        cli::Command::Continue(a) => ecs::hooks::run(&settings, a, false).await,
        cli::Command::Rollback(a) => ecs::hooks::run(&settings, a, true).await,
        cli::Command::Schedule(a) => crate::schedule::run(&settings, a).await,
        cli::Command::Iam(cli::IamCommand::Trust(a)) => iam::run_trust(&settings, a),
        cli::Command::Iam(cli::IamCommand::Policy(a)) => iam::run_policy(&settings, *a),
        cli::Command::Doctor(a) => doctor::run(&settings, a).await,
        cli::Command::Bootstrap(a) => iam::run_bootstrap(&settings, a),
        cli::Command::Orb(o) => Err(anyhow::anyhow!(
            "the orb step {:?} runs from the command line (main_entry), not from run",
            o.step
        )),
    }
}

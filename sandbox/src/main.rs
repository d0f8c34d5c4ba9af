//! `stevedore-sandbox up` starts the local AWS; `stevedore-sandbox token` mints OIDC tokens for it.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use stevedore_sandbox::{jwt, registry, server, state};

/// A local AWS (STS, ECR, ECR Public, ECS) over a real registry, for stevedore's tests and demo.
#[derive(Parser)]
#[command(name = "stevedore-sandbox", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox; prints the `export` lines a shell needs, then serves until interrupted.
    Up {
        /// Port for the AWS endpoint (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Directory for keys, certificates and registry storage (a temporary one by default).
        #[arg(long, env = "STEVEDORE_SANDBOX_DIR")]
        dir: Option<PathBuf>,
        /// JSON configuration (account, region, roles, clock speed…).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Sandbox seconds per real second.
        #[arg(long)]
        clock_speed: Option<f64>,
        /// Run without the registries (control plane only).
        #[arg(long)]
        no_registry: bool,
        /// ECS clusters to create at start; repeat.
        #[arg(long = "cluster")]
        clusters: Vec<String>,
        /// Run tasks as real containers: auto (when `docker info` answers), on, or off.
        #[arg(long, env = "STEVEDORE_SANDBOX_DOCKER", default_value = "auto", value_parser = ["auto", "on", "off"])]
        docker: String,
    },
    /// Mint a CircleCI-shaped OIDC token signed by the sandbox's issuer key.
    Token {
        /// The sandbox's directory (as printed by `up`).
        #[arg(long, env = "STEVEDORE_SANDBOX_DIR")]
        dir: PathBuf,
        /// Organisation id (iss, and the default audience).
        #[arg(long, default_value = "org-sandbox")]
        org: String,
        /// Audience; defaults to the organisation id.
        #[arg(long)]
        aud: Option<String>,
        /// Subject; defaults to org/<org>/project/<project>/user/<user>[/vcs-origin/<origin>/vcs-ref/<ref>].
        #[arg(long)]
        sub: Option<String>,
        #[arg(long, default_value = "proj-sandbox")]
        project: String,
        #[arg(long, default_value = "user-sandbox")]
        user: String,
        /// e.g. github.com/acme/app (v2 tokens).
        #[arg(long)]
        vcs_origin: Option<String>,
        /// e.g. refs/heads/main (v2 tokens).
        #[arg(long)]
        vcs_ref: Option<String>,
        /// Seconds until expiry (negative for an expired token).
        #[arg(long, default_value_t = 3600, allow_hyphen_values = true)]
        ttl: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stevedore-sandbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Token {
            dir,
            org,
            aud,
            sub,
            project,
            user,
            vcs_origin,
            vcs_ref,
            ttl,
        } => {
            let issuer = jwt::Issuer::load_or_create(&dir)?;
            let mut subject =
                sub.unwrap_or_else(|| format!("org/{org}/project/{project}/user/{user}"));
            if let (Some(o), Some(r)) = (vcs_origin, vcs_ref) {
                subject = format!("{subject}/vcs-origin/{o}/vcs-ref/{r}");
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            println!(
                "{}",
                issuer.sign(&jwt::circleci_claims(
                    &org,
                    aud.as_deref().unwrap_or(&org),
                    &subject,
                    now,
                    ttl
                ))?
            );
            Ok(())
        }
        Command::Up {
            port,
            dir,
            config,
            clock_speed,
            no_registry,
            clusters,
            docker,
        } => {
            up(
                port,
                dir,
                config,
                clock_speed,
                no_registry,
                clusters,
                &docker,
            )
            .await
        }
    }
}

/// The sandbox's configuration: the file given (checked), or the defaults.
fn load_config(
    config: Option<&std::path::Path>,
    clock_speed: Option<f64>,
) -> Result<state::Config> {
    let mut cfg: state::Config = match config {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{} is not a valid sandbox configuration", p.display()))?,
        None => state::Config::default(),
    };
    if let Some(s) = clock_speed {
        cfg.clock_speed = s;
    }
    for (name, role) in &cfg.roles {
        if let Some(policy) = &role.permissions_policy {
            stevedore_sandbox::iam::check_policy(policy)
                .map_err(|why| anyhow::anyhow!("role {name}'s permissions_policy: {why}"))?;
        }
    }
    Ok(cfg)
}

/// Docker mode: the engine, logged in to the registries, when asked for and available.
async fn start_docker(
    docker_mode: &str,
    no_registry: bool,
    dir: &std::path::Path,
    private: &Option<registry::Registry>,
    public: &Option<registry::Registry>,
) -> Result<Option<stevedore_sandbox::docker::Docker>> {
    let docker = match docker_mode {
        "off" => None,
        _ if no_registry => None,
        mode => match stevedore_sandbox::docker::Docker::detect(dir).await {
            Some(d) => Some(d),
            None if mode == "on" => anyhow::bail!("--docker on, but `docker info` does not answer"),
            None => None,
        },
    };
    if let Some(d) = &docker {
        let auths: Vec<(String, String)> = [private, public]
            .into_iter()
            .flatten()
            .map(|r| (r.host.clone(), r.auth_token()))
            .collect();
        d.login(&auths)?;
    }
    Ok(docker)
}

/// The `export` lines a shell (or a test) needs to talk to the sandbox.
fn exports(
    addr: &std::net::SocketAddr,
    cfg: &state::Config,
    tls: &stevedore_sandbox::tls::Tls,
    dir: &std::path::Path,
    private: &Option<registry::Registry>,
    public: &Option<registry::Registry>,
    docker: bool,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
        ("AWS_ACCESS_KEY_ID", cfg.admin_access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", cfg.admin_secret_access_key.clone()),
        ("AWS_DEFAULT_REGION", cfg.region.clone()),
        ("AWS_ACCOUNT_ID", cfg.account_id.clone()),
        ("AWS_ECR_PUBLIC_REGISTRY_ALIAS", cfg.public_alias.clone()),
        ("AWS_CA_BUNDLE", tls.ca_pem.display().to_string()),
        ("STEVEDORE_SANDBOX_URL", format!("http://{addr}")),
        ("STEVEDORE_SANDBOX_DIR", dir.display().to_string()),
        (
            "STEVEDORE_SANDBOX_REGISTRY",
            private.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
        ),
        (
            "STEVEDORE_SANDBOX_PUBLIC_REGISTRY",
            public.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
        ),
        (
            "STEVEDORE_SANDBOX_TASKS",
            if docker {
                "docker".to_string()
            } else {
                "simulated".to_string()
            },
        ),
        // stevedore's own overrides of the registry hosts (in AWS, the account's private
        // registry host and public.ecr.aws), so `stevedore ecr uri` names the sandbox's.
        (
            "STEVEDORE_PRIVATE_REGISTRY_HOST",
            private.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
        ),
        (
            "STEVEDORE_PUBLIC_REGISTRY_HOST",
            public.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
        ),
    ]
}

async fn up(
    port: u16,
    dir: Option<PathBuf>,
    config: Option<PathBuf>,
    clock_speed: Option<f64>,
    no_registry: bool,
    clusters: Vec<String>,
    docker_mode: &str,
) -> Result<()> {
    let temp = match &dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("stevedore-sandbox-")
                .tempdir()?,
        ),
    };
    let dir = dir.unwrap_or_else(|| {
        temp.as_ref()
            .map(|t| t.path().to_path_buf())
            .unwrap_or_default()
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cfg = load_config(config.as_deref(), clock_speed)?;
    let issuer = jwt::Issuer::load_or_create(&dir)?;
    let tls = stevedore_sandbox::tls::ensure_tls(&dir)?;
    let shared = stevedore_sandbox::proxy::Shared::default();
    let (private, public) = if no_registry {
        (None, None)
    } else {
        let (private_dir, public_dir) = (dir.join("registry"), dir.join("registry-public"));
        let (a, b) = tokio::join!(
            registry::Registry::start(&private_dir, &tls, shared.clone(), false),
            registry::Registry::start(&public_dir, &tls, shared.clone(), true)
        );
        (Some(a?), Some(b?))
    };
    let docker = start_docker(docker_mode, no_registry, &dir, &private, &public).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .context("binding the API port")?;
    let addr = listener.local_addr()?;
    let exports = exports(&addr, &cfg, &tls, &dir, &private, &public, docker.is_some());
    let mut state = state::State::new(cfg);
    state.ecs.docker_mode = docker.is_some();
    if docker.is_some() {
        // Real containers live in real time: a rollout completes only after its tasks have run
        // for three real seconds, so an app that crashes on start fails the rollout.
        state.ecs.settle_secs = 3.0 * state.clock.speed();
    }
    let home = state.config.region.clone();
    for c in clusters {
        let now = state.clock.now();
        state.ecs.region(&home).clusters.insert(c, now);
    }
    let app = Arc::new(stevedore_sandbox::app::App::new(
        state,
        issuer,
        private,
        public,
        shared,
        docker.clone(),
    ));
    {
        let mut out = std::io::stdout().lock();
        for (k, v) in &exports {
            writeln!(out, "export {k}='{v}'")?;
        }
        writeln!(out, "# stevedore-sandbox ready")?;
        out.flush()?;
    }
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    axum::serve(listener, server::router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await?;
    if let Some(d) = &docker {
        d.cleanup().await;
    }
    // Stop the registries before the temporary directory goes, also when a task (a listener, a
    // container follower) still holds the app.
    match Arc::try_unwrap(app) {
        Ok(app) => {
            for r in [app.registry, app.public_registry].into_iter().flatten() {
                r.stop().await;
            }
        }
        Err(app) => {
            for r in [&app.registry, &app.public_registry].into_iter().flatten() {
                r.kill();
            }
        }
    }
    if let Some(t) = temp {
        // A registry just killed may still be closing its files: try again for a few seconds.
        let path = t.path().to_path_buf();
        drop(t);
        for _ in 0..50 {
            if !path.exists() || std::fs::remove_dir_all(&path).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

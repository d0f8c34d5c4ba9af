//! Command-line interface. Every flag can also be set by the `STEVEDORE_*` variable shown in
//! `--help`: that is how the orb passes its parameters. Booleans accept true/false/1/0/yes/no.

mod ecr;
mod ecs;
mod values;

pub use ecr::*;
pub use ecs::*;
pub use stevedore_base::values::*;
pub use values::*;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// The command line as stevedore reads it: [`Cli`] with every switch made a [`switch`].
pub fn command() -> clap::Command {
    with_switches(Cli::command())
}

/// Parse `argv` (its first item is the program's name) with [`command`].
pub fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut matches = command().try_get_matches_from(argv)?;
    Cli::from_arg_matches_mut(&mut matches)
}

/// `cmd` and its subcommands with every `bool` flag that has an environment variable made a
/// [`switch`].
fn with_switches(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(switch).mut_subcommands(with_switches)
}

/// The one shape of a boolean flag: `--x` alone means true, `--x=false` (or `STEVEDORE_X=no`)
/// false, the way the orb passes a boolean parameter; false unless a default is declared.
/// Applied to a `bool` field (a set-true flag) that has an `env`, so its declaration is just
/// `#[arg(long, env = "STEVEDORE_X")]`; a flag without a variable stays a plain flag.
fn switch(arg: clap::Arg) -> clap::Arg {
    if !matches!(arg.get_action(), ArgAction::SetTrue) || arg.get_env().is_none() {
        return arg;
    }
    let default = arg.get_default_values().is_empty();
    let arg = arg
        .action(ArgAction::Set)
        .num_args(0..=1)
        .default_missing_value("true")
        .value_parser(BoolishValueParser::new());
    if default {
        arg.default_value("false")
    } else {
        arg
    }
}

/// Ship container images to Amazon ECR and deploy them to ECS, authenticated by CircleCI OIDC.
#[derive(Debug, Parser)]
#[command(name = "stevedore", version, about, max_term_width = 100)]
pub struct Cli {
    /// AWS region; defaults to AWS_REGION, then AWS_DEFAULT_REGION, then the AWS profile.
    #[arg(long, global = true, env = "STEVEDORE_REGION")]
    pub region: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Assume an IAM role with the job's CircleCI OIDC token and export the credentials.
    Auth(AuthArgs),
    /// Print the identity the current credentials belong to.
    Whoami(WhoamiArgs),
    /// ECR repositories, registry login and image addresses.
    #[command(subcommand)]
    Ecr(EcrCommand),
    /// Push an image (OCI layout, docker save archive, or the Docker engine's) to ECR or ECR Public.
    Push(PushArgs),
    /// Check an image's signature (cosign's layout) against a KMS key or a PEM public key, and
    /// optionally that its SLSA provenance names the expected repository and branch. Exit 1 when
    /// it does not hold, saying why (no signature, another key, altered, image changed).
    Verify(VerifyArgs),
    /// Make one multi-architecture image (an OCI image index) from per-architecture images
    /// already in the repository, reading only their manifests and configs.
    ///
    /// Build each architecture natively (an amd64 and an arm64 machine), push each by its own
    /// tag, then name them here. Exit 2 when a manifest is missing, in another repository, or a
    /// platform of --platforms has no image.
    Index(IndexArgs),
    /// Register a new task-definition revision, update the service, and follow the rollout to its end.
    Deploy(Box<DeployArgs>),
    /// Let a blue/green, linear or canary deployment waiting at its pause hook go on
    /// (ContinueServiceDeployment CONTINUE). Exit 2 when nothing waits.
    Continue(HookArgs),
    /// Roll back a blue/green, linear or canary deployment in progress: the pause hook it waits
    /// at is answered ROLLBACK, or else the deployment is stopped with a rollback.
    Rollback(HookArgs),
    /// Run a one-off task (a migration), wait for it to stop, and exit with its exit code.
    ///
    /// Exit codes: once the task ran, its container's code, whatever it is (a migration's 2 stays
    /// 2; the last line says "container … exited with 2"). Before a task starts, stevedore's own:
    /// 2 bad input (naming the flag), 1 AWS refused; 4 if the task did not stop within --timeout.
    RunTask(RunTaskArgs),
    /// Point scheduled tasks at a task-definition revision: EventBridge Scheduler schedules and
    /// EventBridge rules' ECS targets, every other field of the target kept.
    ///
    /// Everything named is read and checked first; nothing is registered or changed when one
    /// schedule or rule is missing or has no ECS target (exit 2).
    Schedule(ScheduleArgs),
    /// IAM set-up help.
    #[command(subcommand)]
    Iam(IamCommand),
    /// Print a CloudFormation template that creates the OIDC provider, the CI role (trust and
    /// least-privilege policies) and the ECR repository with a lifecycle policy.
    Bootstrap(BootstrapArgs),
    /// Check the set-up in order (token, role, variables, repository, service, task roles,
    /// permissions) and stop at the first problem with the fix.
    Doctor(DoctorArgs),
    /// One orb step, with its parameters from the STEVEDORE_* variables CircleCI sets (the orb's
    /// scripts call this; see `stevedore orb --help`).
    #[command(hide = true)]
    Orb(OrbArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST, in ECR or ECR Public.
    #[arg(env = "STEVEDORE_IMAGE")]
    pub image: String,

    /// The key: awskms:///ARN-or-alias (its public key read with kms:GetPublicKey) or a PEM
    /// public key file.
    #[arg(long, env = "STEVEDORE_VERIFY_KEY", value_name = "KEY")]
    pub key: String,

    /// Also require a SLSA provenance attestation, signed by the same key, naming this
    /// repository (as CIRCLE_REPOSITORY_URL had it).
    #[arg(long, env = "STEVEDORE_PROVENANCE_REPOSITORY", value_name = "URL")]
    pub provenance_repository: Option<String>,

    /// Also require a signed SLSA provenance attestation naming this branch.
    #[arg(long, env = "STEVEDORE_PROVENANCE_BRANCH", value_name = "NAME")]
    pub provenance_branch: Option<String>,
}

#[derive(Debug, Args)]
pub struct OrbArgs {
    /// The step to run.
    #[arg(value_enum)]
    pub step: crate::orb::Step,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub trust: IamTrustArgs,

    #[command(flatten)]
    pub policy: IamPolicyArgs,

    /// Name of the CI role the stack creates.
    #[arg(long, env = "STEVEDORE_ROLE_NAME", default_value = "stevedore-ci")]
    pub role_name: String,

    /// Lifecycle policy of the repository: keep the newest N images.
    #[arg(long, env = "STEVEDORE_KEEP_LAST", default_value_t = 30)]
    pub keep_last: u32,

    /// Lifecycle policy of the repository: expire untagged images after N days.
    #[arg(long, env = "STEVEDORE_EXPIRE_UNTAGGED_DAYS", default_value_t = 7)]
    pub expire_untagged_days: u32,

    /// Write the template here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also create an ECC_NIST_P256 KMS key for `push --sign` (alias/ROLE-NAME-signing), the
    /// role allowed kms:Sign and kms:GetPublicKey on it and nothing else.
    #[arg(long)]
    pub create_signing_key: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Role to assume, as for `stevedore auth`.
    #[arg(long, env = "STEVEDORE_ROLE_ARN", conflicts_with = "role_name")]
    pub role_arn: Option<String>,

    /// Role name in AWS_ACCOUNT_ID, instead of --role-arn.
    #[arg(long, env = "STEVEDORE_ROLE_NAME")]
    pub role_name: Option<String>,

    /// Audience of a minted OIDC token (default: CIRCLE_ORGANIZATION_ID).
    #[arg(long, env = "STEVEDORE_OIDC_AUDIENCE")]
    pub audience: Option<String>,

    /// Repository the job pushes to.
    #[arg(long, env = "STEVEDORE_REPO")]
    pub repo: Option<String>,

    /// The repository is in ECR Public.
    #[arg(long, env = "STEVEDORE_PUBLIC")]
    pub public: bool,

    /// A missing repository is fine: the job creates it.
    #[arg(long, env = "STEVEDORE_CREATE_REPO")]
    pub create_repo: bool,

    /// ECS cluster of the services.
    #[arg(long, env = "STEVEDORE_CLUSTER")]
    pub cluster: Option<String>,

    /// Service the job deploys; repeat or comma-separate.
    #[arg(
        long = "service",
        env = "STEVEDORE_SERVICES",
        value_delimiter = ',',
        requires = "cluster"
    )]
    pub services: Vec<String>,

    /// The KMS key the push signs with (awskms:///ARN-or-alias): checks the role may sign with
    /// it (a Sign call with DryRun, which signs nothing).
    #[arg(long, env = "STEVEDORE_SIGN", value_name = "awskms:///ARN-OR-ALIAS")]
    pub signing_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Print the trust policy that lets CircleCI's OIDC tokens for a project assume the CI role.
    Trust(IamTrustArgs),
    /// Print the least-privilege permissions policy the CI role needs for what stevedore does.
    Policy(Box<IamPolicyArgs>),
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Repository the role pushes to (and creates); repeat or comma-separate.
    #[arg(long = "repo", env = "STEVEDORE_REPO", value_delimiter = ',')]
    pub repos: Vec<String>,

    /// The repositories are in ECR Public.
    #[arg(long, env = "STEVEDORE_PUBLIC")]
    pub public: bool,

    /// ECS cluster name of the services and one-off tasks.
    #[arg(long, env = "STEVEDORE_CLUSTER")]
    pub cluster: Option<String>,

    /// Service the role deploys; repeat or comma-separate.
    #[arg(long = "service", env = "STEVEDORE_SERVICES", value_delimiter = ',')]
    pub services: Vec<String>,

    /// Task role of the task definitions (name or ARN): the role must be allowed to pass it.
    #[arg(long = "task-role", value_delimiter = ',')]
    pub task_roles: Vec<String>,

    /// Execution role of the task definitions (name or ARN).
    #[arg(long = "execution-role", value_delimiter = ',')]
    pub execution_roles: Vec<String>,

    /// Task-definition family the role may run as a one-off task (`stevedore run-task`).
    #[arg(long = "run-task-family", value_delimiter = ',')]
    pub run_task_families: Vec<String>,

    /// EventBridge Scheduler schedule the role points at new revisions (`stevedore schedule
    /// --schedule`); repeat or comma-separate.
    #[arg(long = "schedule", value_delimiter = ',')]
    pub schedules: Vec<String>,

    /// The schedules' group.
    #[arg(long, default_value = "default")]
    pub schedule_group: String,

    /// EventBridge rule whose ECS targets the role changes (`stevedore schedule --rule`);
    /// repeat or comma-separate.
    #[arg(long = "rule", value_delimiter = ',')]
    pub rules: Vec<String>,

    /// The rules' event bus.
    #[arg(long, default_value = "default")]
    pub event_bus: String,

    /// The role the schedules and rules run their tasks with (name or ARN): writing a target
    /// passes it to EventBridge.
    #[arg(long = "schedule-role", value_delimiter = ',')]
    pub schedule_roles: Vec<String>,

    /// CloudWatch Logs group the tasks write to (awslogs-group): the role may read it, for
    /// run-task's output and a failed deploy's last lines; repeat or comma-separate.
    #[arg(long = "log-group", value_delimiter = ',')]
    pub log_groups: Vec<String>,

    /// Also allow `deploy --create-service`.
    #[arg(long)]
    pub create_service: bool,

    /// The services deploy with ECS's blue/green, linear or canary strategy: adds reading their
    /// service deployments and acting on them (a pause hook's answer, a rollback).
    #[arg(long)]
    pub service_deployments: bool,

    /// The services deploy through CodeDeploy (the CODE_DEPLOY controller) with the groups the
    /// ECS console names, AppECS-CLUSTER-SERVICE/DgpECS-CLUSTER-SERVICE: adds creating,
    /// following and stopping their deployments.
    #[arg(long)]
    pub codedeploy: bool,

    /// A CodeDeploy APPLICATION/DEPLOYMENT-GROUP the role deploys through, when not the
    /// console's names; repeat or comma-separate.
    #[arg(
        long = "codedeploy-group",
        value_delimiter = ',',
        value_name = "APPLICATION/GROUP"
    )]
    pub codedeploy_groups: Vec<String>,

    /// Also allow `ecr ensure-repo --repository-policy` (it decides who may pull and push).
    #[arg(long)]
    pub repository_policy: bool,

    /// The KMS key (its ARN) `push --sign` signs with: adds kms:Sign on that key only; repeat
    /// or comma-separate.
    #[arg(long = "signing-key", value_delimiter = ',', value_name = "KEY-ARN")]
    pub signing_keys: Vec<String>,

    /// The KMS key (its ARN) `deploy --require-signature` and `verify` check signatures with:
    /// adds kms:GetPublicKey on that key; name the repositories read with --repo.
    #[arg(long = "verify-key", value_delimiter = ',', value_name = "KEY-ARN")]
    pub verify_keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct IamTrustArgs {
    /// CircleCI organization id (the OIDC issuer and audience).
    #[arg(long, env = "CIRCLE_ORGANIZATION_ID")]
    pub org_id: String,

    /// CircleCI project id whose jobs may assume the role.
    #[arg(long, env = "CIRCLE_PROJECT_ID")]
    pub project_id: String,

    /// Admit only jobs of this branch (matched through the v2 token's vcs-ref).
    #[arg(long, env = "STEVEDORE_TRUST_BRANCH")]
    pub branch: Option<String>,

    /// With --branch: the repository origin, e.g. github.com/acme/app (default: any).
    #[arg(long, env = "STEVEDORE_TRUST_VCS_ORIGIN", requires = "branch")]
    pub vcs_origin: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Role to assume. Defaults to AWS_ROLE_ARN.
    #[arg(long, env = "STEVEDORE_ROLE_ARN", conflicts_with = "role_name")]
    pub role_arn: Option<String>,

    /// Role name in AWS_ACCOUNT_ID, instead of a full ARN.
    #[arg(long, env = "STEVEDORE_ROLE_NAME")]
    pub role_name: Option<String>,

    /// Role session name; defaults to <CIRCLE_PROJECT_REPONAME>-<CIRCLE_BUILD_NUM>, sanitised for STS.
    #[arg(long, env = "STEVEDORE_SESSION_NAME")]
    pub session_name: Option<String>,

    /// How long the credentials last: seconds, or with a unit (900s, 45m, 1h); 15 min to 12 h.
    #[arg(long, env = "STEVEDORE_SESSION_DURATION", default_value = "1h", value_parser = values::session_duration)]
    pub duration: i32,

    /// Write the credentials to this profile of the AWS shared files instead of $BASH_ENV.
    #[arg(long, env = "STEVEDORE_PROFILE_NAME")]
    pub profile_name: Option<String>,

    /// File that later CircleCI steps source; credentials are appended as `export` lines.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,

    /// Audience to request when minting a token with the `circleci` agent.
    #[arg(long, env = "STEVEDORE_OIDC_AUDIENCE")]
    pub audience: Option<String>,

    /// Which credentials to use. auto: a named role with the OIDC token when there is one, the
    /// access keys when no role is named (a context brings a token even to jobs that use keys).
    #[arg(long, env = "STEVEDORE_CREDENTIALS", value_enum, default_value_t)]
    pub credentials: CredentialsMode,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Print JSON instead of lines.
    #[arg(long, env = "STEVEDORE_JSON")]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn booleans_accept_the_forms_circleci_sends() {
        for (v, want) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("false", false),
            ("0", false),
            ("no", false),
        ] {
            let cli = parse_from([
                "stevedore",
                "ecr",
                "uri",
                "--repo",
                "app",
                &format!("--public={v}"),
            ])
            .unwrap();
            let Command::Ecr(EcrCommand::Uri(u)) = cli.command else {
                panic!()
            };
            assert_eq!(u.target.public, want, "{v}");
        }
        let cli = parse_from(["stevedore", "ecr", "uri", "--repo", "app", "--public"]).unwrap();
        let Command::Ecr(EcrCommand::Uri(u)) = cli.command else {
            panic!()
        };
        assert!(u.target.public);
        assert!(
            parse_from(["stevedore", "ecr", "uri", "--repo", "app", "--public=maybe"]).is_err()
        );
    }

    #[test]
    fn every_switch_has_one_shape_and_its_declared_default() {
        let deploy = |extra: &[&str]| {
            let argv = ["stevedore", "deploy", "--cluster", "c", "--service", "s"];
            match parse_from(argv.iter().chain(extra)).unwrap().command {
                Command::Deploy(d) => d,
                _ => panic!(),
            }
        };
        let d = deploy(&[]);
        assert!(d.pin_digests, "declared default true");
        assert!(!d.dry_run && !d.rollback, "undeclared default false");
        let d = deploy(&["--pin-digests=false", "--dry-run", "--rollback", "true"]);
        assert!(!d.pin_digests && d.dry_run && d.rollback);
        // A flag without a variable stays a plain flag: no value.
        let iam = [
            "stevedore",
            "iam",
            "policy",
            "--repo",
            "r",
            "--create-service",
        ];
        assert!(parse_from(iam).is_ok());
        assert!(parse_from(["stevedore", "iam", "policy", "--create-service=true"]).is_err());
        // Every flag with a variable that is a bool reads like the others.
        fn walk(cmd: &clap::Command, n: &mut usize) {
            for a in cmd.get_arguments().filter(|a| a.get_env().is_some()) {
                if matches!(a.get_action(), ArgAction::SetTrue) {
                    panic!("{} is a set-true flag with a variable", a.get_id());
                }
                if a.get_num_args() == Some((0..=1).into()) {
                    *n += 1;
                }
            }
            cmd.get_subcommands().for_each(|s| walk(s, n));
        }
        let mut switches = 0;
        walk(&command(), &mut switches);
        assert!(switches >= 15, "{switches} switches");
    }
}

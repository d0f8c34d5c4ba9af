//! Command-line interface. Every flag can also be set by the `STEVEDORE_*` variable shown in
//! `--help`: that is how the orb passes its parameters. Booleans accept true/false/1/0/yes/no.

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// Register a new task-definition revision, update the service, and follow the rollout to its end.
    Deploy(Box<DeployArgs>),
    /// Run a one-off task (a migration), wait for it to stop, and exit with its exit code.
    RunTask(RunTaskArgs),
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
    #[arg(long, env = "STEVEDORE_PUBLIC", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub public: bool,

    /// A missing repository is fine: the job creates it.
    #[arg(long, env = "STEVEDORE_CREATE_REPO", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
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
}

#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Print the trust policy that lets CircleCI's OIDC tokens for a project assume the CI role.
    Trust(IamTrustArgs),
    /// Print the least-privilege permissions policy the CI role needs for what stevedore does.
    Policy(IamPolicyArgs),
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Repository the role pushes to (and creates); repeat or comma-separate.
    #[arg(long = "repo", env = "STEVEDORE_REPO", value_delimiter = ',')]
    pub repos: Vec<String>,

    /// The repositories are in ECR Public.
    #[arg(long, env = "STEVEDORE_PUBLIC", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
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

    /// Also allow `deploy --create-service`.
    #[arg(long)]
    pub create_service: bool,

    /// Also allow `ecr ensure-repo --repository-policy` (it decides who may pull and push).
    #[arg(long)]
    pub repository_policy: bool,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WaitUntil {
    /// The new deployment's rollout COMPLETED.
    Deployed,
    /// Deployed, and the old tasks drained.
    Stable,
    /// Do not wait.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CircuitBreaker {
    Off,
    On,
    Rollback,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "STEVEDORE_CLUSTER")]
    pub cluster: String,

    /// Service to deploy; repeat or comma-separate to deploy several at once.
    #[arg(
        long = "service",
        env = "STEVEDORE_SERVICES",
        value_delimiter = ',',
        required = true
    )]
    pub services: Vec<String>,

    /// CONTAINER=IMAGE: the new image of a named container; repeat or comma-separate.
    #[arg(
        long = "container",
        env = "STEVEDORE_CONTAINER_IMAGES",
        value_delimiter = ','
    )]
    pub containers: Vec<String>,

    /// An image for every container whose image comes from the same repository.
    #[arg(long, env = "STEVEDORE_IMAGE")]
    pub image: Option<String>,

    /// CONTAINER:NAME=VALUE environment variable to set; repeat (one per line in the variable).
    #[arg(long = "env", env = "STEVEDORE_ENV", value_delimiter = '\n')]
    pub env: Vec<String>,

    /// CONTAINER:NAME=ARN secret (Secrets Manager or SSM parameter) to set; repeat.
    #[arg(long = "secret", env = "STEVEDORE_SECRETS", value_delimiter = '\n')]
    pub secrets: Vec<String>,

    /// Task CPU units (e.g. 256, 1024).
    #[arg(long, env = "STEVEDORE_CPU")]
    pub cpu: Option<String>,

    /// Task memory in MiB (e.g. 512, 2048).
    #[arg(long, env = "STEVEDORE_MEMORY")]
    pub memory: Option<String>,

    /// Start from this task definition (family, family:revision or ARN) instead of the service's.
    #[arg(long, env = "STEVEDORE_TASK_DEFINITION", conflicts_with_all = ["task_definition_file", "template"])]
    pub task_definition: Option<String>,

    /// Start from a task definition JSON file (DescribeTaskDefinition output works as is).
    #[arg(
        long,
        env = "STEVEDORE_TASK_DEFINITION_FILE",
        value_name = "FILE",
        conflicts_with = "template"
    )]
    pub task_definition_file: Option<PathBuf>,

    /// Start from a handlebars template of a task definition, rendered in strict mode.
    #[arg(long, env = "STEVEDORE_TEMPLATE", value_name = "FILE")]
    pub template: Option<PathBuf>,

    /// KEY=VALUE for the template; environment variables are available as env.NAME.
    #[arg(long = "var", env = "STEVEDORE_VARS", value_delimiter = '\n')]
    pub vars: Vec<String>,

    /// Replace image tags in this account's ECR with their digests, so every task runs the
    /// same image even if the tag moves later.
    #[arg(long, env = "STEVEDORE_PIN_DIGESTS", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "true", value_parser = BoolishValueParser::new())]
    pub pin_digests: bool,

    /// Set the service's desired count.
    #[arg(long, env = "STEVEDORE_DESIRED_COUNT")]
    pub desired_count: Option<i32>,

    /// Start a new deployment even when the task definition is unchanged.
    #[arg(long, env = "STEVEDORE_FORCE_NEW_DEPLOYMENT", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub force_new_deployment: bool,

    /// Set the deployment circuit breaker: off, on, or rollback (on, with ECS's automatic rollback).
    #[arg(long, env = "STEVEDORE_CIRCUIT_BREAKER", value_enum)]
    pub circuit_breaker: Option<CircuitBreaker>,

    /// Print what would change and change nothing.
    #[arg(long, env = "STEVEDORE_DRY_RUN", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,

    /// When to stop following the rollout.
    #[arg(
        long,
        env = "STEVEDORE_WAIT_UNTIL",
        value_enum,
        default_value = "deployed"
    )]
    pub wait_until: WaitUntil,

    /// Give up waiting after this long (30s, 10m, 1h).
    #[arg(long, env = "STEVEDORE_TIMEOUT", default_value = "10m")]
    pub timeout: String,

    /// Time between polls (jittered by a quarter either way); backs off on throttling.
    #[arg(long, env = "STEVEDORE_POLL_INTERVAL", default_value = "4s")]
    pub poll_interval: String,

    /// On failure or timeout, update the service back to its previous task definition and follow that.
    #[arg(long, env = "STEVEDORE_ROLLBACK", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub rollback: bool,

    /// Create the service when it does not exist (needs a task definition source and, for
    /// awsvpc, --subnets).
    #[arg(long, env = "STEVEDORE_CREATE_SERVICE", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub create_service: bool,

    /// Launch type of a created service: FARGATE or EC2.
    #[arg(long, env = "STEVEDORE_LAUNCH_TYPE", default_value = "FARGATE")]
    pub launch_type: String,

    /// Subnets of a created service (awsvpc); comma-separated.
    #[arg(long, env = "STEVEDORE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Security groups of a created service (awsvpc); comma-separated.
    #[arg(long, env = "STEVEDORE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,

    /// Give a created service's tasks public IPs.
    #[arg(long, env = "STEVEDORE_ASSIGN_PUBLIC_IP", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub assign_public_ip: bool,

    /// Write the results as JSON to this file.
    #[arg(long, env = "STEVEDORE_OUTPUT_FILE", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Append STEVEDORE_TASK_DEFINITION_ARN, STEVEDORE_DEPLOYMENT_ID and STEVEDORE_DEPLOY_RESULT here.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Tags to push; repeat or comma-separate. Defaults to `latest`.
    #[arg(long = "tag", env = "STEVEDORE_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// An OCI image layout directory (e.g. `docker buildx build --output type=oci,tar=false`).
    #[arg(long, env = "STEVEDORE_OCI_LAYOUT", value_name = "DIR", conflicts_with_all = ["archive", "docker_image"])]
    pub oci_layout: Option<PathBuf>,

    /// A tarball: `docker save` output (either layout) or an OCI layout archive.
    #[arg(
        long,
        env = "STEVEDORE_ARCHIVE",
        value_name = "FILE",
        conflicts_with = "docker_image"
    )]
    pub archive: Option<PathBuf>,

    /// An image in the local Docker engine (read with `docker save`, honouring DOCKER_HOST).
    #[arg(
        long,
        env = "STEVEDORE_DOCKER_IMAGE",
        value_name = "NAME",
        conflicts_with = "from"
    )]
    pub docker_image: Option<String>,

    /// Copy an image from this account's private ECR (REPO:TAG or REPO@DIGEST), e.g. to ECR
    /// Public; blobs the target has already are not copied.
    #[arg(long, env = "STEVEDORE_FROM", value_name = "IMAGE", conflicts_with_all = ["oci_layout", "archive"])]
    pub from: Option<String>,

    /// Create the repository first if it is missing (scan on push, MUTABLE tags).
    #[arg(long, env = "STEVEDORE_CREATE_REPO", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub create_repo: bool,

    /// Leave tags that already exist in the repository alone (push nothing when all exist).
    #[arg(long, env = "STEVEDORE_SKIP_EXISTING_TAGS", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub skip_existing_tags: bool,

    /// Repository in the same registry to mount blobs from instead of uploading them.
    #[arg(long, env = "STEVEDORE_MOUNT_FROM")]
    pub mount_from: Option<String>,

    /// Blobs uploaded at once.
    #[arg(long, env = "STEVEDORE_PARALLEL", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,

    /// Push through the Docker daemon (`docker tag` + `docker push`) instead; needs --docker-image.
    #[arg(long, env = "STEVEDORE_VIA", value_parser = ["native", "docker"], default_value = "native")]
    pub via: String,

    /// Write the result (digest, image reference, tags) as JSON to this file.
    #[arg(long, env = "STEVEDORE_OUTPUT_FILE", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Append STEVEDORE_IMAGE_DIGEST and STEVEDORE_IMAGE_URI here.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunTaskArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "STEVEDORE_CLUSTER")]
    pub cluster: String,

    /// Task definition: family, family:revision or ARN.
    #[arg(long, env = "STEVEDORE_TASK_DEFINITION")]
    pub task_definition: String,

    /// Container whose command and environment are overridden (default: the first essential one).
    #[arg(long, env = "STEVEDORE_RUN_CONTAINER")]
    pub container: Option<String>,

    /// Run with this image in every container whose image comes from the same repository: a new
    /// revision of the task definition is registered first (ECS cannot swap images at run time).
    /// Tags in this account's private ECR are pinned to their digests.
    #[arg(long, env = "STEVEDORE_IMAGE")]
    pub image: Option<String>,

    /// Command override: a JSON array (["bin","arg"]) or words separated by spaces.
    #[arg(long, env = "STEVEDORE_COMMAND")]
    pub command: Option<String>,

    /// NAME=VALUE environment override; repeat (one per line in the variable).
    #[arg(long = "env", env = "STEVEDORE_RUN_ENV", value_delimiter = '\n')]
    pub env: Vec<String>,

    /// Launch type: FARGATE or EC2.
    #[arg(long, env = "STEVEDORE_LAUNCH_TYPE")]
    pub launch_type: Option<String>,

    /// Subnets for awsvpc networking; comma-separated.
    #[arg(long, env = "STEVEDORE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Security groups for awsvpc networking; comma-separated.
    #[arg(long, env = "STEVEDORE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,

    /// Give the task a public IP (Fargate in public subnets).
    #[arg(long, env = "STEVEDORE_ASSIGN_PUBLIC_IP", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub assign_public_ip: bool,

    /// Give up waiting after this long.
    #[arg(long, env = "STEVEDORE_TIMEOUT", default_value = "30m")]
    pub timeout: String,

    /// Time between polls.
    #[arg(long, env = "STEVEDORE_POLL_INTERVAL", default_value = "3s")]
    pub poll_interval: String,
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
    #[arg(long, env = "STEVEDORE_SESSION_DURATION", default_value = "1h")]
    pub duration: String,

    /// Write the credentials to this profile of the AWS shared files instead of $BASH_ENV.
    #[arg(long, env = "STEVEDORE_PROFILE_NAME")]
    pub profile_name: Option<String>,

    /// File that later CircleCI steps source; credentials are appended as `export` lines.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,

    /// Audience to request when minting a token with the `circleci` agent.
    #[arg(long, env = "STEVEDORE_OIDC_AUDIENCE")]
    pub audience: Option<String>,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Print JSON instead of lines.
    #[arg(long, env = "STEVEDORE_JSON", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EcrCommand {
    /// Create the repository if it is missing and apply its settings and policies (idempotent).
    EnsureRepo(EnsureRepoArgs),
    /// Get a registry token and save it in docker's config.json (or hand it to `docker login`).
    Login(LoginArgs),
    /// Print the full image address for a repository (and tag).
    Uri(UriArgs),
}

#[derive(Debug, Args)]
pub struct RepoTarget {
    /// Repository name, e.g. `team/app`.
    #[arg(long, env = "STEVEDORE_REPO")]
    pub repo: String,

    /// Use ECR Public (public.ecr.aws/<AWS_ECR_PUBLIC_REGISTRY_ALIAS>) instead of the private registry.
    #[arg(long, env = "STEVEDORE_PUBLIC", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub public: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TagMutability {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encryption {
    #[value(name = "AES256")]
    Aes256,
    #[value(name = "KMS")]
    Kms,
}

#[derive(Debug, Args)]
pub struct EnsureRepoArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Scan images on push. New repositories default to true; an existing one changes only when this is given.
    #[arg(long, env = "STEVEDORE_SCAN_ON_PUSH", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub scan_on_push: Option<bool>,

    /// Tag mutability. New repositories default to MUTABLE; an existing one changes only when this is given.
    #[arg(long, env = "STEVEDORE_TAG_MUTABILITY", value_enum)]
    pub tag_mutability: Option<TagMutability>,

    /// Tag filters (wildcards such as `latest` or `dev-*`) exempt from the mutability setting; with *_WITH_EXCLUSION.
    #[arg(
        long = "mutability-exclusion",
        env = "STEVEDORE_MUTABILITY_EXCLUSIONS",
        value_delimiter = ','
    )]
    pub mutability_exclusions: Vec<String>,

    /// Encryption at rest for a new repository (fixed once created).
    #[arg(long, env = "STEVEDORE_ENCRYPTION", value_enum)]
    pub encryption: Option<Encryption>,

    /// KMS key ARN or alias for --encryption KMS; AWS's managed key when omitted.
    #[arg(long, env = "STEVEDORE_KMS_KEY", requires = "encryption")]
    pub kms_key: Option<String>,

    /// Resource tag KEY=VALUE; repeat or separate with commas.
    #[arg(
        long = "resource-tag",
        env = "STEVEDORE_RESOURCE_TAGS",
        value_delimiter = ','
    )]
    pub resource_tags: Vec<String>,

    /// Lifecycle policy JSON file to apply (private registries only).
    #[arg(long, env = "STEVEDORE_LIFECYCLE_POLICY", value_name = "FILE",
          conflicts_with_all = ["keep_last", "expire_untagged_days"])]
    pub lifecycle_policy: Option<PathBuf>,

    /// Built-in lifecycle rule: keep only the newest N images.
    #[arg(long, env = "STEVEDORE_KEEP_LAST", value_name = "N")]
    pub keep_last: Option<u32>,

    /// Built-in lifecycle rule: expire untagged images N days after they were pushed.
    #[arg(long, env = "STEVEDORE_EXPIRE_UNTAGGED_DAYS", value_name = "N")]
    pub expire_untagged_days: Option<u32>,

    /// Repository policy JSON file to apply.
    #[arg(long, env = "STEVEDORE_REPOSITORY_POLICY", value_name = "FILE")]
    pub repository_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Log in to ECR Public (public.ecr.aws) instead of the private registry.
    #[arg(long, env = "STEVEDORE_PUBLIC", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub public: bool,

    /// Docker's configuration directory (config.json is written there).
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub docker_config: Option<PathBuf>,

    /// Hand the password to `docker login --password-stdin` instead of writing config.json.
    #[arg(long, env = "STEVEDORE_VIA_DOCKER", action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub via_docker: bool,
}

#[derive(Debug, Args)]
pub struct UriArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Image tag to append.
    #[arg(long, env = "STEVEDORE_TAG")]
    pub tag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn booleans_accept_the_forms_circleci_sends() {
        for (v, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let cli = Cli::try_parse_from([
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
        let cli =
            Cli::try_parse_from(["stevedore", "ecr", "uri", "--repo", "app", "--public"]).unwrap();
        let Command::Ecr(EcrCommand::Uri(u)) = cli.command else {
            panic!()
        };
        assert!(u.target.public);
    }
}

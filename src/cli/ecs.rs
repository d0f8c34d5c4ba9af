//! The arguments of `deploy` and `run-task`.

use super::{CircuitBreaker, LaunchType, RollbackWait, Strategy, WaitUntil};
use clap::Args;
use std::path::PathBuf;

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

    /// CONTAINER:KEY=VALUE Docker label to set; repeat (one per line in the variable).
    #[arg(
        long = "docker-label",
        env = "STEVEDORE_DOCKER_LABELS",
        value_delimiter = '\n'
    )]
    pub docker_labels: Vec<String>,

    /// KEY=VALUE tag to add to the new revision, or to change there; repeat or comma-separate.
    /// The previous revision's other tags are kept.
    #[arg(
        long = "tag-task-definition",
        env = "STEVEDORE_TASK_DEFINITION_TAGS",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    pub task_definition_tags: Vec<String>,

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
    #[arg(long, env = "STEVEDORE_PIN_DIGESTS", default_value = "true")]
    pub pin_digests: bool,

    #[command(flatten)]
    pub signature: SignatureArgs,

    /// Set the service's desired count.
    #[arg(long, env = "STEVEDORE_DESIRED_COUNT")]
    pub desired_count: Option<i32>,

    /// Start a new deployment even when the task definition is unchanged.
    #[arg(long, env = "STEVEDORE_FORCE_NEW_DEPLOYMENT")]
    pub force_new_deployment: bool,

    /// Set the deployment circuit breaker: off, on, or rollback (on, with ECS's automatic rollback).
    #[arg(long, env = "STEVEDORE_CIRCUIT_BREAKER", value_enum)]
    pub circuit_breaker: Option<CircuitBreaker>,

    /// Set the service's deployment strategy (ECS's own blue/green, linear and canary
    /// deployments need an alternate target group on each load balancer).
    #[arg(long, env = "STEVEDORE_STRATEGY", value_enum)]
    pub strategy: Option<Strategy>,

    /// Blue/green, linear and canary: how long both revisions stay up after production
    /// traffic has moved (whole minutes, 0 to 24h).
    #[arg(long, env = "STEVEDORE_BAKE_TIME", value_parser = crate::validate::duration)]
    pub bake_time: Option<std::time::Duration>,

    /// Linear: the percentage of production traffic moved at each step (3 to 100).
    #[arg(long, env = "STEVEDORE_LINEAR_STEP", value_name = "PERCENT")]
    pub linear_step: Option<f64>,

    /// Canary: the percentage of production traffic moved first (0.1 to 100).
    #[arg(long, env = "STEVEDORE_CANARY_PERCENT", value_name = "PERCENT")]
    pub canary_percent: Option<f64>,

    /// Linear and canary: the wait between traffic steps (whole minutes, 0 to 24h).
    #[arg(long, env = "STEVEDORE_STEP_BAKE_TIME", value_parser = crate::validate::duration)]
    pub step_bake_time: Option<std::time::Duration>,

    /// CloudWatch alarms that fail and roll back the deployment when they fire; comma-separated.
    #[arg(
        long,
        env = "STEVEDORE_ALARMS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub alarms: Vec<String>,

    /// CODE_DEPLOY services: the CodeDeploy application [default: AppECS-CLUSTER-SERVICE, the
    /// name the ECS console gives it].
    #[arg(long, env = "STEVEDORE_CODEDEPLOY_APPLICATION", value_name = "NAME")]
    pub codedeploy_application: Option<String>,

    /// CODE_DEPLOY services: the deployment group [default: DgpECS-CLUSTER-SERVICE].
    #[arg(
        long,
        env = "STEVEDORE_CODEDEPLOY_DEPLOYMENT_GROUP",
        value_name = "NAME"
    )]
    pub codedeploy_deployment_group: Option<String>,

    /// CODE_DEPLOY services: a deployment configuration other than the group's
    /// (CodeDeployDefault.ECSCanary10Percent5Minutes, …).
    #[arg(long, env = "STEVEDORE_CODEDEPLOY_CONFIG", value_name = "NAME")]
    pub codedeploy_config: Option<String>,

    /// CODE_DEPLOY services: the container traffic goes to [default: the service's load
    /// balancer's].
    #[arg(long, env = "STEVEDORE_CODEDEPLOY_CONTAINER", value_name = "NAME")]
    pub codedeploy_container: Option<String>,

    /// CODE_DEPLOY services: that container's port [default: the service's load balancer's].
    #[arg(long, env = "STEVEDORE_CODEDEPLOY_CONTAINER_PORT", value_name = "PORT")]
    pub codedeploy_container_port: Option<u16>,

    /// CODE_DEPLOY services: the AppSpec's capacity provider strategy, one provider per flag
    /// (weight 1 and base 0 unless given).
    #[arg(
        long,
        env = "STEVEDORE_CODEDEPLOY_CAPACITY_PROVIDERS",
        value_delimiter = '\n',
        value_name = "NAME[:WEIGHT[:BASE]]"
    )]
    pub codedeploy_capacity_provider: Vec<String>,

    /// CODE_DEPLOY services: an AppSpec Lambda hook (BeforeInstall, AfterInstall,
    /// AfterAllowTestTraffic, BeforeAllowTraffic or AfterAllowTraffic), one per flag.
    #[arg(
        long,
        env = "STEVEDORE_CODEDEPLOY_HOOKS",
        value_delimiter = '\n',
        value_name = "EVENT=FUNCTION"
    )]
    pub codedeploy_hook: Vec<String>,

    /// Print what would change and change nothing (digests are pinned and images checked as in the run).
    #[arg(long, env = "STEVEDORE_DRY_RUN")]
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
    #[arg(long, env = "STEVEDORE_TIMEOUT", default_value = "10m", value_parser = crate::ecs::timeout_flag)]
    pub timeout: std::time::Duration,

    /// Time between polls (jittered by a quarter either way); backs off on throttling.
    #[arg(long, env = "STEVEDORE_POLL_INTERVAL", default_value = "4s", value_parser = crate::ecs::poll_flag)]
    pub poll_interval: std::time::Duration,

    /// On failure or timeout, update the service back to its previous task definition and follow that.
    #[arg(long, env = "STEVEDORE_ROLLBACK")]
    pub rollback: bool,

    /// After a rollback ECS makes (its circuit breaker, an alarm, a failed hook), follow it
    /// until the previous revision runs again (full, within what is left of --timeout) or
    /// exit at the verdict (none). Either way the exit code is 3.
    #[arg(
        long,
        env = "STEVEDORE_ROLLBACK_WAIT",
        value_enum,
        default_value = "full"
    )]
    pub rollback_wait: RollbackWait,

    /// Run CMD with `sh -c` to check the new revision (a smoke test): once a rolling
    /// deployment completes, or (blue/green, linear, canary) when the deployment waits at its
    /// PAUSE hook, before production traffic moves. A non-zero exit fails the deployment
    /// (exit 3): a pause hook is answered ROLLBACK, a rolling deployment is put back with
    /// --rollback. CMD gets STEVEDORE_VERIFY_CLUSTER, _SERVICE, _REGION, _TASK_DEFINITION,
    /// _PREVIOUS_TASK_DEFINITION, _DEPLOYMENT_ID (and at a hook _SERVICE_DEPLOYMENT_ARN,
    /// _HOOK_ID, _STAGE, _TEST_LISTENER_RULE); --timeout covers it.
    #[arg(long, env = "STEVEDORE_VERIFY", value_name = "CMD")]
    pub verify: Option<String>,

    /// Once the rollout completes, GET PATH on each of the new revision's tasks (its public IP,
    /// else its private one, at the load balancer's container port or the first port mapping)
    /// until it answers --expect-status; one that does not within --check-timeout fails the
    /// deployment (exit 3; --rollback applies). Rolling deployments only. --verify is told the
    /// same addresses (STEVEDORE_VERIFY_URLS, _PUBLIC_IPS, _PRIVATE_IPS, _PORT), at a pause hook
    /// the green tasks'.
    #[arg(long, env = "STEVEDORE_CHECK_URL", value_name = "PATH")]
    pub check_url: Option<String>,

    /// The status --check-url expects: 2xx (any success) or one code.
    #[arg(
        long,
        env = "STEVEDORE_EXPECT_STATUS",
        default_value = "2xx",
        value_name = "STATUS"
    )]
    pub expect_status: String,

    /// How long each new task has to answer --check-url as expected (within --timeout).
    #[arg(long, env = "STEVEDORE_CHECK_TIMEOUT", default_value = "1m", value_parser = crate::ecs::timeout_flag)]
    pub check_timeout: std::time::Duration,

    /// Create the service when it does not exist (needs a task definition source and, for
    /// awsvpc, --subnets).
    #[arg(long, env = "STEVEDORE_CREATE_SERVICE")]
    pub create_service: bool,

    /// Launch type of a created service.
    #[arg(
        long,
        env = "STEVEDORE_LAUNCH_TYPE",
        value_enum,
        ignore_case = true,
        default_value = "FARGATE"
    )]
    pub launch_type: LaunchType,

    /// Subnets of a created service (awsvpc); comma-separated.
    #[arg(long, env = "STEVEDORE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Security groups of a created service (awsvpc); comma-separated.
    #[arg(long, env = "STEVEDORE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,

    /// Give a created service's tasks public IPs.
    #[arg(long, env = "STEVEDORE_ASSIGN_PUBLIC_IP")]
    pub assign_public_ip: bool,

    /// Target group (ARN) a created service registers its tasks with; needs --lb-container.
    #[arg(long, env = "STEVEDORE_TARGET_GROUP", requires = "lb_container")]
    pub target_group: Option<String>,

    /// CONTAINER:PORT the target group sends traffic to, for a created service.
    #[arg(
        long,
        env = "STEVEDORE_LB_CONTAINER",
        value_name = "CONTAINER:PORT",
        requires = "target_group"
    )]
    pub lb_container: Option<String>,

    /// When a task fails, print this many of the failing container's last lines (from
    /// CloudWatch Logs, the awslogs driver), once per distinct failure; 0 prints none.
    #[arg(long, env = "STEVEDORE_LOG_LINES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub log_lines: u32,

    /// Write the rollout report here: report.json (docs/report.schema.json), report.html (an SVG
    /// timeline of the tasks, the events, stops, diff and log tails; self-contained) and summary.md.
    #[arg(long, env = "STEVEDORE_REPORT", value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// Write the results as JSON to this file.
    #[arg(long, env = "STEVEDORE_OUTPUT_FILE", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Append STEVEDORE_TASK_DEFINITION_ARN, STEVEDORE_DEPLOYMENT_ID, STEVEDORE_DEPLOY_RESULT and
    /// STEVEDORE_SERVICE_URLS here.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,
}

/// `--require-signature` and its exemptions, the same on every command that runs an image.
#[derive(Debug, Clone, Default, Args)]
pub struct SignatureArgs {
    /// Refuse to run an image not signed by this key (awskms:///ARN-or-alias or a PEM public
    /// key file): every container image of the revision that will run, whatever made it (flags,
    /// a file, a template, a promoted or the current revision), is verified and pinned to the
    /// verified digest before anything is registered or updated.
    #[arg(long, env = "STEVEDORE_REQUIRE_SIGNATURE", value_name = "KEY")]
    pub require_signature: Option<String>,

    /// With --require-signature, run images that start with this prefix unverified (a sidecar
    /// from another registry, say: `public.ecr.aws/datadog/`); repeat (one per line in the
    /// variable). Without it, an image outside this account's ECR and ECR Public is refused.
    #[arg(
        long,
        env = "STEVEDORE_ALLOW_UNSIGNED",
        value_name = "IMAGE-PREFIX",
        value_delimiter = '\n'
    )]
    pub allow_unsigned: Vec<String>,
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

    #[command(flatten)]
    pub signature: SignatureArgs,

    /// Command override: a JSON array (["bin","arg"]) or words separated by spaces.
    #[arg(long, env = "STEVEDORE_COMMAND")]
    pub command: Option<String>,

    /// NAME=VALUE environment override; repeat (one per line in the variable).
    #[arg(long = "env", env = "STEVEDORE_RUN_ENV", value_delimiter = '\n')]
    pub env: Vec<String>,

    /// Launch type (default: the task definition's and the cluster's).
    #[arg(long, env = "STEVEDORE_LAUNCH_TYPE", value_enum, ignore_case = true)]
    pub launch_type: Option<LaunchType>,

    /// Subnets for awsvpc networking; comma-separated.
    #[arg(long, env = "STEVEDORE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Security groups for awsvpc networking; comma-separated.
    #[arg(long, env = "STEVEDORE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,

    /// Give the task a public IP (Fargate in public subnets).
    #[arg(long, env = "STEVEDORE_ASSIGN_PUBLIC_IP")]
    pub assign_public_ip: bool,

    /// The task's startedBy (up to 128 letters, digits, `-`, `_` and `/`), to find it with
    /// ListTasks --started-by.
    #[arg(long, env = "STEVEDORE_STARTED_BY", default_value = "stevedore")]
    pub started_by: String,

    /// The task's group (up to 255 characters); ECS's default is `family:<family>`.
    #[arg(long, env = "STEVEDORE_TASK_GROUP")]
    pub group: Option<String>,

    /// The Fargate platform version to run on, e.g. 1.4.0 (ECS's default: LATEST).
    #[arg(long, env = "STEVEDORE_PLATFORM_VERSION")]
    pub platform_version: Option<String>,

    /// Enable ECS Exec for the task (the task role needs the SSM messages permissions).
    #[arg(long, env = "STEVEDORE_ENABLE_EXECUTE_COMMAND")]
    pub enable_execute_command: bool,

    /// How many tasks to start (1 to 10); the command waits for all of them and fails with the
    /// first non-zero exit code.
    #[arg(long, env = "STEVEDORE_TASK_COUNT", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub count: u32,

    /// A placement constraint, TYPE[:EXPRESSION] (`distinctInstance`,
    /// `memberOf:attribute:ecs.instance-type =~ t3.*`) or the AWS CLI's JSON array; repeat (one per line).
    #[arg(long, env = "STEVEDORE_PLACEMENT_CONSTRAINTS", value_delimiter = '\n')]
    pub placement_constraint: Vec<String>,

    /// A placement strategy, TYPE[:FIELD] (`spread:attribute:ecs.availability-zone`,
    /// `binpack:memory`, `random`) or the AWS CLI's JSON array; repeat (one per line).
    #[arg(long, env = "STEVEDORE_PLACEMENT_STRATEGY", value_delimiter = '\n')]
    pub placement_strategy: Vec<String>,

    /// A capacity provider, NAME[:WEIGHT[:BASE]] (`FARGATE_SPOT:3`) or the AWS CLI's JSON array;
    /// repeat (one per line). Not with --launch-type.
    #[arg(long, env = "STEVEDORE_CAPACITY_PROVIDERS", value_delimiter = '\n')]
    pub capacity_provider: Vec<String>,

    /// A tag for the task, KEY=VALUE; repeat (one per line).
    #[arg(long = "tag", env = "STEVEDORE_TASK_TAGS", value_delimiter = '\n')]
    pub tags: Vec<String>,

    /// Copy the task definition's tags to the task.
    #[arg(long, env = "STEVEDORE_PROPAGATE_TAGS")]
    pub propagate_tags: bool,

    /// Let ECS add its managed tag (the cluster's name) to the task.
    #[arg(long, env = "STEVEDORE_ENABLE_ECS_MANAGED_TAGS")]
    pub enable_ecs_managed_tags: bool,

    /// A JSON file holding ECS's TaskOverride (cpu, memory, taskRoleArn, containerOverrides, …);
    /// --command and --env are laid over the container's entry.
    #[arg(
        long,
        env = "STEVEDORE_OVERRIDES_FILE",
        value_name = "FILE",
        conflicts_with = "overrides"
    )]
    pub overrides_file: Option<PathBuf>,

    /// ECS's TaskOverride as JSON text, as the aws-ecs orb's `overrides` takes it (or use
    /// --overrides-file).
    #[arg(long, env = "STEVEDORE_OVERRIDES", value_name = "JSON")]
    pub overrides: Option<String>,

    /// Write RunTask's answer (the tasks as started, JSON) to this file (mode 0600: it holds the
    /// environment overrides).
    #[arg(long, env = "STEVEDORE_RUN_TASK_OUTPUT", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Whose output to print as the task runs, from CloudWatch Logs (the awslogs driver):
    /// the essential container's (or --container's), all containers', or none.
    #[arg(long, env = "STEVEDORE_LOGS", value_enum, default_value = "essential")]
    pub logs: crate::ecs::logs::Which,

    /// Give up waiting after this long.
    #[arg(long, env = "STEVEDORE_TIMEOUT", default_value = "30m", value_parser = crate::ecs::timeout_flag)]
    pub timeout: std::time::Duration,

    /// Time between polls.
    #[arg(long, env = "STEVEDORE_POLL_INTERVAL", default_value = "3s", value_parser = crate::ecs::poll_flag)]
    pub poll_interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// EventBridge Scheduler schedules to point at the revision; comma-separated.
    #[arg(long = "schedule", env = "STEVEDORE_SCHEDULES", value_delimiter = ',')]
    pub schedules: Vec<String>,

    /// The schedules' group.
    #[arg(long, env = "STEVEDORE_SCHEDULE_GROUP", default_value = "default")]
    pub schedule_group: String,

    /// EventBridge rules whose ECS targets to point at the revision; comma-separated.
    #[arg(long = "rule", env = "STEVEDORE_RULES", value_delimiter = ',')]
    pub rules: Vec<String>,

    /// The rules' event bus (name or ARN).
    #[arg(long, env = "STEVEDORE_EVENT_BUS", default_value = "default")]
    pub event_bus: String,

    /// The one target of each rule to change (default: its ECS targets that run the task
    /// definition's family).
    #[arg(long, env = "STEVEDORE_TARGET_ID")]
    pub target_id: Option<String>,

    /// The revision to schedule: family (its latest ACTIVE revision), family:revision or ARN.
    #[arg(long, env = "STEVEDORE_TASK_DEFINITION")]
    pub task_definition: String,

    /// Register a new revision of that task definition with this image first (in every container
    /// from the same repository; private ECR tags pinned to their digests).
    #[arg(long, env = "STEVEDORE_IMAGE")]
    pub image: Option<String>,

    #[command(flatten)]
    pub signature: SignatureArgs,

    /// Point a schedule that runs another task-definition family at this one; without it that
    /// is refused (a rule's targets of another family are changed only when --target-id names
    /// them).
    #[arg(long, env = "STEVEDORE_FAMILY_CHANGE")]
    pub family_change: bool,

    /// Set the targets' task count (1 to 10); default: keep it.
    #[arg(long, env = "STEVEDORE_TASK_COUNT", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub count: Option<u32>,

    /// Set the targets' awsvpc subnets; comma-separated. Default: keep them.
    #[arg(long, env = "STEVEDORE_SUBNETS", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Set the targets' security groups; comma-separated. Default: keep them.
    #[arg(long, env = "STEVEDORE_SECURITY_GROUPS", value_delimiter = ',')]
    pub security_groups: Vec<String>,

    /// Set whether the targets' tasks get a public IP (true or false). Default: keep it.
    #[arg(long, env = "STEVEDORE_ASSIGN_PUBLIC_IP", value_parser = clap::builder::BoolishValueParser::new())]
    pub assign_public_ip: Option<bool>,

    /// Print what would change and change nothing.
    #[arg(long, env = "STEVEDORE_DRY_RUN")]
    pub dry_run: bool,
}

/// `stevedore continue` and `stevedore rollback`: act on a service's blue/green, linear or
/// canary deployment from a later step or job.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// ECS cluster name or ARN.
    #[arg(long, env = "STEVEDORE_CLUSTER")]
    pub cluster: String,

    /// The service whose deployment in progress is acted on.
    #[arg(long, env = "STEVEDORE_SERVICE")]
    pub service: String,

    /// The service deployment's ARN (default: the service's deployment in progress).
    #[arg(long, env = "STEVEDORE_SERVICE_DEPLOYMENT_ARN")]
    pub service_deployment: Option<String>,
}

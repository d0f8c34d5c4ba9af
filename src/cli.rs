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

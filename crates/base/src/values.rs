//! The words the commands' flags take, as the commands use them (`--wait-until`, `--strategy`,
//! `--circuit-breaker`, `--launch-type`, `--rollback-wait`, `--credentials`,
//! `--tag-mutability`, `--encryption`, `--via`). They live here, below every command, so a
//! command takes them without knowing the command line; the door derives clap's parsing with
//! this crate's `clap` feature.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum WaitUntil {
    /// The new deployment's rollout COMPLETED (for blue/green, linear and canary: SUCCESSFUL,
    /// bake time included).
    Deployed,
    /// Blue/green, linear and canary: production traffic is all on the new revision (the bake
    /// is left to ECS). The rolling strategy: as `deployed`.
    TrafficShifted,
    /// Deployed, and the old tasks drained.
    Stable,
    /// Do not wait.
    None,
}

/// `--strategy`: ECS's deployment strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl Strategy {
    /// The `DeploymentStrategy` value.
    pub fn as_ecs(self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear => "LINEAR",
            Strategy::Canary => "CANARY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CircuitBreaker {
    Off,
    On,
    Rollback,
}

/// ECS's launch types, as its API spells them (botocore's ecs model, `LaunchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LaunchType {
    #[cfg_attr(feature = "clap", value(name = "FARGATE"))]
    Fargate,
    #[cfg_attr(feature = "clap", value(name = "EC2"))]
    Ec2,
    #[cfg_attr(feature = "clap", value(name = "EXTERNAL"))]
    External,
    #[cfg_attr(feature = "clap", value(name = "MANAGED_INSTANCES"))]
    ManagedInstances,
}

impl LaunchType {
    /// The value ECS takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::Fargate => "FARGATE",
            LaunchType::Ec2 => "EC2",
            LaunchType::External => "EXTERNAL",
            LaunchType::ManagedInstances => "MANAGED_INSTANCES",
        }
    }
}

/// `--rollback-wait`: whether a rollback ECS makes (circuit breaker, alarm, failed hook) is
/// followed to its end before the command exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RollbackWait {
    /// Follow the rollback until the previous revision runs again, or it fails (within what is
    /// left of --timeout).
    Full,
    /// Exit at the verdict; the rollback goes on in ECS.
    None,
}

/// `--credentials` (`STEVEDORE_CREDENTIALS`, the orb's `credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CredentialsMode {
    /// A named role with the OIDC token when there is one; access keys when no role is named.
    #[default]
    Auto,
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (to assume the role with, when one is named).
    Keys,
    /// The job's OIDC token, exchanged for the named role's credentials.
    Oidc,
}

/// `--tag-mutability`: ECR's `ImageTagMutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "SCREAMING_SNAKE_CASE"))]
pub enum TagMutability {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

/// `--encryption`: ECR's `EncryptionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Encryption {
    #[cfg_attr(feature = "clap", value(name = "AES256"))]
    Aes256,
    #[cfg_attr(feature = "clap", value(name = "KMS"))]
    Kms,
}

/// How `push` sends the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Via {
    /// stevedore speaks the registry protocol itself.
    Native,
    /// `docker tag` + `docker push` through the daemon.
    Docker,
}

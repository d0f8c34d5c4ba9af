//! The value types the commands' flags take: each flag's words as clap parses them.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CircuitBreaker {
    Off,
    On,
    Rollback,
}

/// ECS's launch types, as its API spells them (botocore's ecs model, `LaunchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LaunchType {
    #[value(name = "FARGATE")]
    Fargate,
    #[value(name = "EC2")]
    Ec2,
    #[value(name = "EXTERNAL")]
    External,
    #[value(name = "MANAGED_INSTANCES")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RollbackWait {
    /// Follow the rollback until the previous revision runs again, or it fails (within what is
    /// left of --timeout).
    Full,
    /// Exit at the verdict; the rollback goes on in ECS.
    None,
}

/// `--credentials` (`STEVEDORE_CREDENTIALS`, the orb's `credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CredentialsMode {
    /// A named role with the OIDC token when there is one; access keys when no role is named.
    #[default]
    Auto,
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (to assume the role with, when one is named).
    Keys,
    /// The job's OIDC token, exchanged for the named role's credentials.
    Oidc,
}

/// `--session-duration` as clap reads it: the CLI's one duration grammar, within what STS allows.
pub fn session_duration(text: &str) -> std::result::Result<i32, String> {
    let d =
        crate::validate::duration(text).map_err(|e| format!("{e} (STEVEDORE_SESSION_DURATION)"))?;
    let secs = d.as_secs();
    if !(900..=43_200).contains(&secs) || d.subsec_nanos() != 0 {
        return Err(format!("'{text}' is outside 15m to 12h, what STS allows in whole seconds (the role's maximum session duration may be lower) (STEVEDORE_SESSION_DURATION)"));
    }
    Ok(secs as i32)
}

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

//! What the deploy's `--codedeploy-*` flags say, read and checked when the plan is made
//! (`codedeploy_setup` checks them against the service and its deployment group).

use crate::codedeploy::appspec;
use crate::error::usage;
use anyhow::Result;

/// What the deploy's flags say of CodeDeploy (checked when the plan is made).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub application: Option<String>,
    pub group: Option<String>,
    pub config: Option<String>,
    pub container: Option<String>,
    pub port: Option<u16>,
    pub capacity_providers: Vec<appspec::CapacityProvider>,
    pub hooks: Vec<(String, String)>,
}

impl Settings {
    /// Read and check the `--codedeploy-*` flags.
    pub fn from_args(a: &crate::cli::DeployArgs) -> Result<Settings> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let list = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if a.codedeploy_container_port == Some(0) {
            return Err(usage!("--codedeploy-container-port (STEVEDORE_CODEDEPLOY_CONTAINER_PORT): 0 is not a port (1 to 65535)"));
        }
        Ok(Settings {
            application: given(&a.codedeploy_application),
            group: given(&a.codedeploy_deployment_group),
            config: given(&a.codedeploy_config),
            container: given(&a.codedeploy_container),
            port: a.codedeploy_container_port,
            capacity_providers: list(&a.codedeploy_capacity_provider)
                .iter()
                .map(|c| appspec::parse_capacity_provider(c).map_err(|e| usage!("--codedeploy-capacity-provider (STEVEDORE_CODEDEPLOY_CAPACITY_PROVIDERS): {e}")))
                .collect::<Result<_>>()?,
            hooks: list(&a.codedeploy_hook)
                .iter()
                .map(|h| appspec::parse_hook(h).map_err(|e| usage!("--codedeploy-hook (STEVEDORE_CODEDEPLOY_HOOKS): {e}")))
                .collect::<Result<_>>()?,
        })
    }

    /// Whether any CodeDeploy flag was given (they mean nothing to other controllers).
    pub fn any(&self) -> bool {
        self.application.is_some()
            || self.group.is_some()
            || self.config.is_some()
            || self.container.is_some()
            || self.port.is_some()
            || !self.capacity_providers.is_empty()
            || !self.hooks.is_empty()
    }
}

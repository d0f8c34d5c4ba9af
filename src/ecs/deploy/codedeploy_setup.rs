//! What a deploy checks of a CODE_DEPLOY service before anything is registered: the
//! `--codedeploy-*` flags (`codedeploy_settings`) against it, and the deployment group (it exists, it deploys this service, the
//! container and port traffic goes to).

use super::plan::Plan;
use crate::aws::json::CallError;
use crate::codedeploy::api::CodeDeploy;
use crate::codedeploy::appspec;
use crate::ecs::api::Service;
use crate::error::usage;
use anyhow::Result;

/// The deployment group a CODE_DEPLOY service deploys through, checked.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub application: String,
    pub group: String,
    /// The deployment configuration in effect (the flag's, else the group's).
    pub config: String,
    pub container: String,
    pub port: u16,
    /// The test traffic route's listener, told to `--verify` at the ready wait.
    pub test_listener: Option<String>,
}

/// Check, before anything is registered, that the flags fit a CODE_DEPLOY service and that its
/// deployment group exists and deploys it; the group.
pub(super) async fn prepare(cd: &CodeDeploy, plan: &Plan, svc: &Service) -> Result<Group> {
    let name = &svc.service_name;
    let refuse = |what: &str| {
        usage!("{what} does not apply to service {name}: it uses the CODE_DEPLOY deployment controller, where the deployment group decides (pass --codedeploy-config for another traffic shift)")
    };
    if plan.strategy.any() {
        return Err(refuse("--strategy and its settings"));
    }
    if plan.breaker.is_some() {
        return Err(refuse("--circuit-breaker"));
    }
    if plan.force || plan.desired_count.is_some() {
        return Err(refuse("--force-new-deployment and --desired-count"));
    }
    let s = &plan.codedeploy;
    let (default_app, default_group) = appspec::default_names(&plan.cluster, name);
    let application = s.application.clone().unwrap_or(default_app);
    let group = s.group.clone().unwrap_or(default_group);
    let info = match cd.get_deployment_group(&application, &group).await {
        Ok(v) => v,
        Err(CallError::Api(e)) if e.code == "ApplicationDoesNotExistException" => return Err(usage!(
            "CodeDeploy application {application} not found in {}: pass --codedeploy-application NAME (the application of service {name}'s deployment group)", plan.region)),
        Err(CallError::Api(e)) if e.code == "DeploymentGroupDoesNotExistException" => return Err(usage!(
            "CodeDeploy deployment group {group} not found in application {application}: pass --codedeploy-deployment-group NAME")),
        Err(e) => return Err(e.into_anyhow("CodeDeploy GetDeploymentGroup".into())),
    };
    let deploys_it = info["ecsServices"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["serviceName"].as_str() == Some(name.as_str())
                && e["clusterName"]
                    .as_str()
                    .is_none_or(|c| c == plan.cluster || c.ends_with(&format!("/{}", plan.cluster)))
        });
    if !deploys_it {
        return Err(usage!("CodeDeploy deployment group {group} of {application} does not deploy service {name} in cluster {}: pass the group that does (--codedeploy-deployment-group)", plan.cluster));
    }
    let (container, port) =
        appspec::load_balanced(&svc.load_balancers, s.container.as_deref(), s.port)
            .map_err(|e| usage!("service {name}: {e}"))?;
    let config = s.config.clone().unwrap_or_else(|| {
        info["deploymentConfigName"]
            .as_str()
            .unwrap_or("CodeDeployDefault.ECSAllAtOnce")
            .to_string()
    });
    let test_listener = info
        .pointer("/loadBalancerInfo/targetGroupPairInfoList/0/testTrafficRoute/listenerArns/0")
        .and_then(serde_json::Value::as_str)
        .map(String::from);
    Ok(Group {
        application,
        group,
        config,
        container,
        port,
        test_listener,
    })
}

/// The dry run's line for the deployment it would create.
pub(super) fn plan_line(g: &Group) -> String {
    format!(
        "+ CodeDeploy deployment: application {}, deployment group {}, {} (container {} port {})",
        g.application, g.group, g.config, g.container, g.port
    )
}

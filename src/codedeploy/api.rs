//! The CodeDeploy calls a deploy makes (awsJson1_1 through the signed JSON client).

use super::events::{DeploymentInfo, EcsTarget};
use crate::aws::json::{CallError, Client};
use serde_json::{json, Value};

pub struct CodeDeploy {
    client: Client,
}

/// What CreateDeployment is given.
pub struct NewDeployment<'a> {
    pub application: &'a str,
    pub group: &'a str,
    /// Overrides the group's deployment configuration when set.
    pub config: Option<&'a str>,
    pub appspec: &'a Value,
    pub description: &'a str,
    /// `--rollback`: roll back on failure and on alarms, whatever the group says.
    pub rollback: bool,
}

impl CodeDeploy {
    pub fn new(client: Client) -> CodeDeploy {
        CodeDeploy { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// GetDeploymentGroup: the group's settings (deploymentConfigName, ecsServices, …).
    pub async fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Value, CallError> {
        let v = self
            .client
            .call(
                "GetDeploymentGroup",
                &json!({"applicationName": application, "deploymentGroupName": group}),
            )
            .await?;
        Ok(v["deploymentGroupInfo"].clone())
    }

    /// CreateDeployment with the AppSpec as content (and its SHA-256); the deployment's id.
    pub async fn create_deployment(&self, d: &NewDeployment<'_>) -> Result<String, CallError> {
        let content = d.appspec.to_string();
        let sha = crate::image::source::sha256_hex(content.as_bytes());
        let mut body = json!({
            "applicationName": d.application,
            "deploymentGroupName": d.group,
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": content, "sha256": sha}},
            "description": d.description,
        });
        if let Some(c) = d.config {
            body["deploymentConfigName"] = json!(c);
        }
        if d.rollback {
            body["autoRollbackConfiguration"] = json!({"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]});
        }
        let v = self.client.call("CreateDeployment", &body).await?;
        Ok(v["deploymentId"].as_str().unwrap_or_default().to_string())
    }

    pub async fn get_deployment(&self, id: &str) -> Result<DeploymentInfo, CallError> {
        let v = self
            .client
            .call("GetDeployment", &json!({"deploymentId": id}))
            .await?;
        serde_json::from_value(v["deploymentInfo"].clone()).map_err(|e| {
            CallError::Transport(anyhow::anyhow!(
                "GetDeployment answered an unexpected shape: {e}"
            ))
        })
    }

    /// The deployment's one ECS target (ListDeploymentTargets, then BatchGetDeploymentTargets);
    /// `None` until the deployment has started.
    pub async fn ecs_target(
        &self,
        id: &str,
        known: &mut Option<String>,
    ) -> Result<Option<EcsTarget>, CallError> {
        if known.is_none() {
            match self
                .client
                .call("ListDeploymentTargets", &json!({"deploymentId": id}))
                .await
            {
                Ok(v) => *known = v["targetIds"][0].as_str().map(String::from),
                Err(CallError::Api(e)) if e.code == "DeploymentNotStartedException" => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
        let Some(target) = known.as_deref() else {
            return Ok(None);
        };
        let v = match self
            .client
            .call(
                "BatchGetDeploymentTargets",
                &json!({"deploymentId": id, "targetIds": [target]}),
            )
            .await
        {
            Ok(v) => v,
            Err(CallError::Api(e)) if e.code == "DeploymentNotStartedException" => return Ok(None),
            Err(e) => return Err(e),
        };
        let t = &v["deploymentTargets"][0]["ecsTarget"];
        if t.is_null() {
            return Ok(None);
        }
        serde_json::from_value(t.clone()).map(Some).map_err(|e| {
            CallError::Transport(anyhow::anyhow!(
                "BatchGetDeploymentTargets answered an unexpected shape: {e}"
            ))
        })
    }

    /// ContinueDeployment: `READY_WAIT` reroutes production traffic of a Ready deployment.
    pub async fn continue_deployment(&self, id: &str, wait_type: &str) -> Result<(), CallError> {
        self.client
            .call(
                "ContinueDeployment",
                &json!({"deploymentId": id, "deploymentWaitType": wait_type}),
            )
            .await
            .map(|_| ())
    }

    /// StopDeployment, with CodeDeploy rolling back to the original task set when `rollback`.
    pub async fn stop_deployment(&self, id: &str, rollback: bool) -> Result<(), CallError> {
        self.client
            .call(
                "StopDeployment",
                &json!({"deploymentId": id, "autoRollbackEnabled": rollback}),
            )
            .await
            .map(|_| ())
    }
}

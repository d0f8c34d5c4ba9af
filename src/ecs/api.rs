//! The ECS API as stevedore calls it: typed requests and answers over the signed JSON client
//! ([`crate::aws::json`]). Task definitions stay raw JSON, field for field, so a field this build
//! has never heard of is copied into the next revision, not dropped; so does a service definition
//! given to `--create-service`, for the same reason. Answers keep only the fields stevedore reads
//! (names and enums as in the ECS model, `botocore/data/ecs/2014-11-13/service-2.json`).

use crate::aws::json::{CallError, Client};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An answer, a refusal, or a transport failure (see [`CallError`]).
pub type Answer<T> = Result<T, CallError>;

/// A service as DescribeServices, UpdateService and CreateService describe it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Service {
    pub service_name: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired_count: i64,
    pub running_count: i64,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub deployment_configuration: Option<DeploymentConfiguration>,
    /// `LoadBalancer`s as ECS answers them (raw: `advancedConfiguration` is read by path).
    pub load_balancers: Vec<Value>,
    /// `{"type": "ECS" | "CODE_DEPLOY" | "EXTERNAL"}`.
    pub deployment_controller: Option<Value>,
}

impl Service {
    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// The PRIMARY deployment: the one ECS is rolling out (or has rolled out).
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// The deployment controller's type: ECS (also when ECS says nothing), CODE_DEPLOY or EXTERNAL.
    pub fn controller(&self) -> &str {
        self.deployment_controller
            .as_ref()
            .and_then(|c| c["type"].as_str())
            .unwrap_or("ECS")
    }

    /// The deployment strategy: ROLLING unless the configuration names another.
    pub fn strategy(&self) -> &str {
        self.deployment_configuration
            .as_ref()
            .and_then(|c| c.strategy.as_deref())
            .unwrap_or("ROLLING")
    }

    /// The circuit breaker as configured (`None` when the service has no setting).
    pub fn circuit_breaker(&self) -> Option<CircuitBreaker> {
        self.deployment_configuration
            .as_ref()
            .and_then(|c| c.deployment_circuit_breaker)
    }
}

/// One of a service's deployments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Deployment {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired_count: i64,
    pub pending_count: i64,
    pub running_count: i64,
    pub failed_tasks: i64,
    /// Absent where ECS does not track the rollout (a Classic Load Balancer, for one).
    pub rollout_state: Option<RolloutState>,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub rollout_state_reason: Option<String>,
}

/// `DeploymentRolloutState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    Completed,
    Failed,
    InProgress,
    /// A state added to ECS after this build.
    #[serde(other)]
    Other,
}

impl RolloutState {
    /// The state as ECS names it.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Completed => "COMPLETED",
            RolloutState::Failed => "FAILED",
            RolloutState::InProgress => "IN_PROGRESS",
            RolloutState::Other => "a state this build does not know",
        }
    }
}

/// A service event: what ECS did, in its words.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEvent {
    pub id: String,
    /// Seconds since the epoch, as awsJson sends timestamps.
    pub created_at: f64,
    #[serde(deserialize_with = "crate::relay::de_escaped")]
    pub message: String,
}

/// The part of `deploymentConfiguration` stevedore reads and sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<i64>,
    /// `LinearConfiguration` and `CanaryConfiguration`, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Alarms>,
    /// Read to know whether a pause hook exists; never sent (the service keeps its own).
    #[serde(default, skip_serializing)]
    pub lifecycle_hooks: Vec<Value>,
}

/// `DeploymentAlarms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarms {
    pub alarm_names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

/// `DeploymentCircuitBreaker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

/// A task as DescribeTasks and RunTask describe it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    pub task_arn: String,
    pub task_definition_arn: String,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, …, STOPPED.
    pub last_status: String,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    pub containers: Vec<Container>,
    /// The task's attachments (an awsvpc task's `ElasticNetworkInterface`), read by name.
    pub attachments: Vec<Value>,
}

impl Task {
    /// The task's id: the last part of its ARN.
    pub fn id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or_default()
    }
}

/// A container of a task.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    pub name: String,
    pub exit_code: Option<i64>,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub reason: Option<String>,
}

/// A resource a call could not act on, and why (`Failure` in the model).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Failure {
    pub arn: Option<String>,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "crate::relay::de_escaped_opt")]
    pub detail: Option<String>,
}

/// An UpdateService request: the new revision and what else the deploy sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceUpdate {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_new_deployment: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<DeploymentConfiguration>,
}

/// A RunTask request: the overrides as ECS's `TaskOverride` JSON (built by
/// [`crate::ecs::task_options::overrides`]), placement, capacity providers and tags as the model has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTask {
    pub cluster: String,
    pub task_definition: String,
    pub count: u32,
    pub started_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_execute_command: bool,
    pub overrides: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_strategy: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
    #[serde(
        rename = "enableECSManagedTags",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enable_ecs_managed_tags: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
}

/// `NetworkConfiguration` of an awsvpc task.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    pub awsvpc_configuration: AwsVpcConfiguration,
}

/// `AwsVpcConfiguration`; `assign_public_ip` is ENABLED or DISABLED.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: String,
}

/// What RunTask started, and what it could not place.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Placed {
    pub tasks: Vec<Task>,
    pub failures: Vec<Failure>,
}

/// The ECS calls of stevedore's commands.
pub struct Ecs {
    client: Client,
    /// Where failed tasks' output is read from, when the command shows it.
    logs: Option<crate::ecs::logs::Logs>,
}

impl Ecs {
    pub fn new(client: Client) -> Ecs {
        Ecs { client, logs: None }
    }

    /// With CloudWatch Logs reads for what failed tasks printed.
    pub fn with_logs(mut self, logs: crate::ecs::logs::Logs) -> Ecs {
        self.logs = Some(logs);
        self
    }

    pub fn logs(&self) -> Option<&crate::ecs::logs::Logs> {
        self.logs.as_ref()
    }

    /// The signed client underneath: its deadline and call count, and doctor's probes, which
    /// send made-up values on purpose.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Up to ten services by name or ARN; those ECS does not know are left out.
    pub async fn describe_services(
        &self,
        cluster: &str,
        services: &[&str],
    ) -> Answer<Vec<Service>> {
        #[derive(Deserialize)]
        struct Out {
            #[serde(default)]
            services: Vec<Service>,
        }
        let out: Out = self
            .call(
                "DescribeServices",
                &json!({"cluster": cluster, "services": services}),
            )
            .await?;
        Ok(out.services)
    }

    /// The whole DescribeTaskDefinition answer, tags included (`{"taskDefinition": …, "tags": …}`).
    pub async fn describe_task_definition(&self, task_definition: &str) -> Answer<Value> {
        self.call(
            "DescribeTaskDefinition",
            &json!({"taskDefinition": task_definition, "include": ["TAGS"]}),
        )
        .await
    }

    /// Register a revision; its ARN (`None` if ECS answered without one).
    pub async fn register_task_definition(&self, td: &Value) -> Answer<Option<String>> {
        let out: Value = self.call("RegisterTaskDefinition", td).await?;
        Ok(out
            .pointer("/taskDefinition/taskDefinitionArn")
            .and_then(Value::as_str)
            .map(String::from))
    }

    /// Update a service; the service as it is now, with the new PRIMARY deployment.
    pub async fn update_service(&self, update: &ServiceUpdate) -> Answer<Service> {
        self.service_answer("UpdateService", &to_value(update)?)
            .await
    }

    /// Create a service from a CreateService request (raw: a user's service definition).
    pub async fn create_service(&self, request: &Value) -> Answer<Service> {
        self.service_answer("CreateService", request).await
    }

    /// The ARNs of the tasks that `started_by` started and that have (or are to have)
    /// `desired_status`: at most 100, ECS's first page.
    pub async fn list_tasks(
        &self,
        cluster: &str,
        started_by: &str,
        desired_status: &str,
    ) -> Answer<Vec<String>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Out {
            #[serde(default)]
            task_arns: Vec<String>,
        }
        let out: Out = self
            .call(
                "ListTasks",
                &json!({"cluster": cluster, "startedBy": started_by, "desiredStatus": desired_status}),
            )
            .await?;
        Ok(out.task_arns)
    }

    /// Up to 100 tasks by ARN; those ECS does not know are left out.
    pub async fn describe_tasks(&self, cluster: &str, tasks: &[&str]) -> Answer<Vec<Task>> {
        let out: Placed = self
            .call(
                "DescribeTasks",
                &json!({"cluster": cluster, "tasks": tasks}),
            )
            .await?;
        Ok(out.tasks)
    }

    /// Start tasks; RunTask's whole answer (for `--output-file`).
    pub async fn run_task(&self, request: &RunTask) -> Answer<Value> {
        self.call("RunTask", &to_value(request)?).await
    }

    /// The ARN of the service's newest deployment in one of `statuses`, if any.
    pub async fn newest_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        statuses: &[&str],
    ) -> Answer<Option<String>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Brief {
            service_deployment_arn: String,
            #[serde(default)]
            created_at: f64,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Out {
            #[serde(default)]
            service_deployments: Vec<Brief>,
        }
        let mut req = json!({"cluster": cluster, "service": service});
        if !statuses.is_empty() {
            req["status"] = json!(statuses);
        }
        let out: Out = self.call("ListServiceDeployments", &req).await?;
        Ok(out
            .service_deployments
            .into_iter()
            .max_by(|a, b| a.created_at.total_cmp(&b.created_at))
            .map(|b| b.service_deployment_arn))
    }

    /// One service deployment (`None` when ECS does not know it).
    pub async fn describe_service_deployment(
        &self,
        arn: &str,
    ) -> Answer<Option<crate::ecs::stages::ServiceDeployment>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Out {
            #[serde(default)]
            service_deployments: Vec<crate::ecs::stages::ServiceDeployment>,
        }
        let out: Out = self
            .call(
                "DescribeServiceDeployments",
                &json!({"serviceDeploymentArns": [arn]}),
            )
            .await?;
        Ok(out.service_deployments.into_iter().next())
    }

    /// Act on a pause hook: `action` is CONTINUE or ROLLBACK.
    pub async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        action: &str,
    ) -> Answer<()> {
        let _: Value = self
            .call(
                "ContinueServiceDeployment",
                &json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": action}),
            )
            .await?;
        Ok(())
    }

    /// Stop a service deployment, rolling it back.
    pub async fn stop_service_deployment(&self, arn: &str) -> Answer<()> {
        let _: Value = self
            .call(
                "StopServiceDeployment",
                &json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
            )
            .await?;
        Ok(())
    }

    async fn service_answer(&self, op: &str, request: &Value) -> Answer<Service> {
        #[derive(Deserialize)]
        struct Out {
            service: Service,
        }
        let out: Out = self.call(op, request).await?;
        Ok(out.service)
    }

    /// Call `op` and read its answer as `T`; an answer of another shape is a transport failure
    /// (ECS, or whatever answers in its place, said something this build cannot read).
    async fn call<T: DeserializeOwned>(&self, op: &str, request: &Value) -> Answer<T> {
        let out = self.client.call(op, request).await?;
        serde_json::from_value(out).map_err(|e| {
            CallError::Transport(anyhow::anyhow!(
                "ECS answered {op} in an unexpected shape: {e}"
            ))
        })
    }
}

fn to_value<T: Serialize>(request: &T) -> Answer<Value> {
    serde_json::to_value(request)
        .map_err(|e| CallError::Transport(anyhow::anyhow!("encoding the request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_the_fields_of_the_model_and_tolerate_the_rest() {
        let s: Service = serde_json::from_value(json!({
            "serviceName": "web", "status": "ACTIVE", "taskDefinition": "arn:td/web:3", "desiredCount": 2,
            "launchType": "FARGATE", "somethingNew": {"x": 1},
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": false}, "maximumPercent": 200},
            "deployments": [
                {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "arn:td/web:3", "desiredCount": 2, "runningCount": 1, "pendingCount": 1, "failedTasks": 0, "rolloutState": "IN_PROGRESS", "createdAt": 1.7e9},
                {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "arn:td/web:2", "rolloutState": "SOMETHING_NEW"}
            ],
            "events": [{"id": "e1", "createdAt": 1764590000.5, "message": "(service web) has reached a steady state."}]
        }))
        .unwrap();
        assert_eq!(s.primary().map(|d| d.id.as_str()), Some("ecs-svc/2"));
        assert_eq!(
            s.deployment("ecs-svc/2").unwrap().rollout_state,
            Some(RolloutState::InProgress)
        );
        assert_eq!(
            s.deployment("ecs-svc/1").unwrap().rollout_state,
            Some(RolloutState::Other)
        );
        assert_eq!(s.deployment("ecs-svc/1").unwrap().running_count, 0);
        assert_eq!(
            s.circuit_breaker(),
            Some(CircuitBreaker {
                enable: true,
                rollback: false
            })
        );
        assert_eq!(s.events[0].created_at, 1764590000.5);
        let t: Task = serde_json::from_value(
            json!({"taskArn": "arn:aws:ecs:r:1:task/c/abc", "lastStatus": "STOPPED",
            "containers": [{"name": "app", "exitCode": 2}, {"name": "log"}]}),
        )
        .unwrap();
        assert_eq!(
            (t.id(), t.containers[0].exit_code, t.containers[1].exit_code),
            ("abc", Some(2), None)
        );
    }

    #[test]
    fn requests_name_only_what_is_set() {
        let u = ServiceUpdate {
            cluster: "c".into(),
            service: "web".into(),
            task_definition: "web:4".into(),
            ..Default::default()
        };
        assert_eq!(
            to_value(&u).unwrap(),
            json!({"cluster": "c", "service": "web", "taskDefinition": "web:4"})
        );
        let u = ServiceUpdate {
            force_new_deployment: Some(false),
            desired_count: Some(3),
            deployment_configuration: Some(DeploymentConfiguration {
                deployment_circuit_breaker: Some(CircuitBreaker {
                    enable: true,
                    rollback: true,
                }),
                ..Default::default()
            }),
            ..u
        };
        assert_eq!(
            to_value(&u).unwrap(),
            json!({"cluster": "c", "service": "web", "taskDefinition": "web:4", "forceNewDeployment": false, "desiredCount": 3,
                "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": true}}})
        );
    }
}

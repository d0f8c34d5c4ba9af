//! The checks that ask AWS: the repository, the service and its task roles, and the
//! permissions (probed with calls that change nothing).

use super::checks::*;
use super::registry::{Answer, Registry};
use crate::aws::json::{CallError, Client};
use crate::cli::DoctorArgs;
use crate::config::{self};
use crate::ecs::api::{Ecs, ServiceUpdate};
use serde_json::json;

/// A client that could not be set up: the credentials are the problem.
fn setup_failed(e: anyhow::Error) -> Failure {
    fail(
        format!("{e:#}"),
        "set up AWS credentials (see the role check)",
    )
}

/// What doctor checks: the repository and the services the job will push to and deploy.
pub struct Target {
    pub repo: Option<String>,
    pub public: bool,
    pub create_repo: bool,
    pub cluster: Option<String>,
    pub services: Vec<String>,
    /// `--signing-key`.
    pub signing_key: Option<String>,
}

impl Target {
    pub fn from_args(a: &DoctorArgs) -> Target {
        Target {
            repo: a.repo.clone(),
            public: a.public,
            create_repo: a.create_repo,
            cluster: a.cluster.clone(),
            services: a.services.clone(),
            signing_key: a.signing_key.clone().filter(|k| !k.is_empty()),
        }
    }
}

pub(super) struct Doctor {
    pub(super) target: Target,
    pub(super) region: String,
    pub(super) creds: Option<aws_credential_types::Credentials>,
    pub(super) account: String,
}

impl Doctor {
    /// The `stevedore iam policy` command for this set-up.
    pub(super) fn policy_command(&self) -> String {
        let mut cmd = "stevedore iam policy".to_string();
        if let Some(r) = &self.target.repo {
            cmd.push_str(&format!(" --repo {r}"));
            if self.target.public {
                cmd.push_str(" --public");
            }
        }
        if let Some(c) = &self.target.cluster {
            cmd.push_str(&format!(" --cluster {c}"));
        }
        for s in &self.target.services {
            cmd.push_str(&format!(" --service {s}"));
        }
        cmd
    }

    pub(super) fn denied_fix(&self, message: &str, extra: &str) -> Failure {
        let what = denied_action(message)
            .map(|(a, r)| format!("allow {a} on {r}"))
            .unwrap_or_else(|| "allow the action named above".into());
        fail(
            message.to_string(),
            format!(
                "{what}{extra} in the role's permissions policy; `{}` renders all the role needs",
                self.policy_command()
            ),
        )
    }

    /// A client of `service` (with the role's credentials, re-assumed if need be).
    async fn client(
        &self,
        service: &'static crate::aws::json::Service,
    ) -> std::result::Result<Client, Failure> {
        Client::new(service, &self.region, self.credentials().await?).map_err(setup_failed)
    }

    /// The role's credentials (re-assumed if need be), for the signed JSON clients.
    async fn credentials(
        &self,
    ) -> std::result::Result<std::sync::Arc<crate::aws::credentials::Refreshing>, Failure> {
        crate::auth::credentials(&self.region, self.creds.clone())
            .await
            .map_err(setup_failed)
    }

    /// The registry's client (private ECR in the region, or ECR Public).
    async fn registry(&self) -> std::result::Result<Registry, Failure> {
        Registry::new(self.target.public, &self.region, self.creds.clone())
            .await
            .map_err(setup_failed)
    }

    /// The ECS API, as the deploy will call it.
    pub(super) async fn ecs(&self) -> std::result::Result<Ecs, Failure> {
        self.client(&crate::aws::json::ECS).await.map(Ecs::new)
    }

    /// The CodeDeploy API, for CODE_DEPLOY services.
    async fn codedeploy(&self) -> std::result::Result<crate::codedeploy::api::CodeDeploy, Failure> {
        self.client(&crate::aws::json::CODEDEPLOY)
            .await
            .map(crate::codedeploy::api::CodeDeploy::new)
    }

    pub(super) async fn repository(&self, repo: &str) -> Check {
        match self.registry().await?.repository_uri(repo).await {
            Answer::Ok(Some(uri)) => Ok(uri),
            Answer::Ok(None) => {
                if self.target.create_repo {
                    Ok(format!(
                        "{repo} does not exist yet; it will be created (create_repo)"
                    ))
                } else {
                    Err(fail(
                        format!("repository {repo} does not exist in account {} ({})", self.account, if self.target.public { "ECR Public".to_string() } else { self.region.clone() }),
                        format!("create it with `stevedore ecr ensure-repo --repo {repo}{}`, or let the push create it (create_repo: true in the orb, --create-repo on stevedore push)", if self.target.public { " --public" } else { "" }),
                    ))
                }
            }
            Answer::Refused { code, message } if is_denied(&code) => {
                Err(self.denied_fix(&message, ""))
            }
            Answer::Refused { code, message } => Err(fail(
                format!("ECR DescribeRepositories: {code}: {message}"),
                "check AWS_DEFAULT_REGION and the network",
            )),
            Answer::Unreachable(why) => Err(fail(
                format!("ECR DescribeRepositories: {why}"),
                "check AWS_DEFAULT_REGION and the network",
            )),
        }
    }

    /// The service's task definition, once the cluster and service are found.
    pub(super) async fn service(
        &self,
        ecs: &Ecs,
        cluster: &str,
        service: &str,
    ) -> std::result::Result<(String, String, String), Failure> {
        let v = match ecs.describe_services(cluster, &[service]).await {
            Ok(v) => v,
            Err(CallError::Api(e)) if e.code == "ClusterNotFoundException" => {
                return Err(fail(
                    format!("cluster {cluster} not found in {} (account {})", self.region, self.account),
                    format!("check the cluster name, and that AWS_DEFAULT_REGION ({}) is the cluster's region", self.region),
                ))
            }
            Err(CallError::Api(e)) if is_denied(&e.code) => return Err(self.denied_fix(&e.message, "")),
            Err(e) => return Err(fail(format!("ECS DescribeServices: {e}"), "check AWS_DEFAULT_REGION and the network")),
        };
        match v.into_iter().find(|s| s.status == "ACTIVE") {
            Some(s) => Ok((
                s.task_definition.clone(),
                s.deployments
                    .first()
                    .and_then(|d| d.rollout_state)
                    .map_or("-", |r| r.as_str())
                    .to_string(),
                // How it deploys, said when it is not ECS's rolling update.
                match (s.controller(), s.strategy()) {
                    ("ECS", "ROLLING") => String::new(),
                    ("ECS", strategy) => format!(", strategy {strategy}"),
                    ("CODE_DEPLOY", _) => {
                        let (app, group) = crate::codedeploy::appspec::default_names(
                            cluster.rsplit('/').next().unwrap_or(cluster),
                            service,
                        );
                        format!(", CODE_DEPLOY controller (deploys through CodeDeploy; by default application {app}, deployment group {group})")
                    }
                    (controller, _) => format!(", {controller} controller (stevedore deploy cannot update it)"),
                },
            )),
            None => Err(fail(
                format!("service {service} does not exist (or is no longer ACTIVE) in cluster {cluster}, {}", self.region),
                format!("check the service name, or create it on the first deploy with `stevedore deploy --cluster {cluster} --service {service} --task-definition-file FILE --create-service`"),
            )),
        }
    }

    /// The containers of the task definition whose output stevedore cannot show (no awslogs
    /// driver with a stream prefix), said as a warning: run-task and a failed deploy then
    /// print no logs.
    pub(super) async fn logging(
        &self,
        ecs: &Ecs,
        td_arn: &str,
    ) -> Result<Option<String>, super::checks::Failure> {
        let td = ecs.describe_task_definition(td_arn).await.map_err(|e| {
            fail(
                format!("ECS DescribeTaskDefinition {td_arn}: {e}"),
                "check the service's task definition",
            )
        })?;
        let (_, without) = crate::ecs::logs::streams(&td, "-", &self.region, &[]);
        Ok((!without.is_empty()).then(|| crate::ecs::logs::no_logs_line(&without)))
    }

    /// iam:PassRole for the task definition's roles, probed by registering an empty container
    /// list: ECS refuses that as invalid, after IAM has allowed (or denied) the call and the roles.
    pub(super) async fn task_roles(&self, ecs: &Ecs, td_arn: &str) -> Check {
        let td = match ecs.describe_task_definition(td_arn).await {
            Ok(v) => v["taskDefinition"].clone(),
            Err(CallError::Api(e)) if is_denied(&e.code) => {
                return Err(self.denied_fix(&e.message, ""))
            }
            Err(e) => {
                return Err(fail(
                    format!("ECS DescribeTaskDefinition {td_arn}: {e}"),
                    "check the service's task definition",
                ))
            }
        };
        let roles: Vec<(&str, &str)> = ["taskRoleArn", "executionRoleArn"]
            .into_iter()
            .filter_map(|k| td[k].as_str().filter(|r| !r.is_empty()).map(|r| (k, r)))
            .collect();
        if roles.is_empty() {
            return Ok(format!("{td_arn} has no task or execution role to pass"));
        }
        for (key, arn) in &roles {
            let account = arn.split(':').nth(4).unwrap_or_default();
            if account != self.account {
                return Err(fail(
                    format!("{key} {arn} is in account {account}, not {}", self.account),
                    "use a role of the deploying account in the task definition (ECS cannot pass another account's role)",
                ));
            }
        }
        let mut probe = json!({"family": td["family"], "containerDefinitions": []});
        for (key, arn) in &roles {
            probe[*key] = json!(arn);
        }
        match ecs.register_task_definition(&probe).await {
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(self.denied_fix(
                &e.message,
                " with Condition StringEquals iam:PassedToService = ecs-tasks.amazonaws.com (add --task-role/--execution-role to the command below)",
            )),
            Err(CallError::Api(_)) => Ok(roles.iter().map(|(_, r)| *r).collect::<Vec<_>>().join(", ") + " can be passed"),
            Err(e) => Err(fail(format!("ECS RegisterTaskDefinition probe: {e}"), "check the network")),
            Ok(_) => Err(fail(
                "the probe registered a task definition without containers (ECS should have refused it)",
                "deregister the newest revision of the family; nothing else changed",
            )),
        }
    }

    /// Calls the push and deploy make, with arguments that change nothing: reads, or writes
    /// that ECS and ECR refuse as invalid once IAM has let them through.
    pub(super) async fn permissions(&self) -> Check {
        let mut allowed = vec![];
        let registry = self.registry().await?;
        for (op, answer) in registry.push_probes(self.target.repo.as_deref()).await {
            match answer {
                Answer::Refused { code, message } if is_denied(&code) => {
                    return Err(self.denied_fix(&message, ""))
                }
                Answer::Unreachable(why) => {
                    return Err(fail(
                        format!("{op}: {why}"),
                        "check the network and AWS_DEFAULT_REGION",
                    ))
                }
                // An answer, or a refusal of the probe's made-up values: IAM let it through.
                _ => allowed.push(format!("{}:{op}", registry.prefix())),
            }
        }
        if let Some(cluster) = &self.target.cluster {
            let ecs = self.ecs().await?;
            for s in &self.target.services {
                let (native, controller) = match ecs.describe_services(cluster, &[s.as_str()]).await
                {
                    Ok(v) => (
                        v.first()
                            .is_some_and(|x| crate::ecs::stages::NATIVE.contains(&x.strategy())),
                        v.first()
                            .map_or("ECS".to_string(), |x| x.controller().to_string()),
                    ),
                    Err(_) => (false, "ECS".to_string()),
                };
                if controller == "CODE_DEPLOY" {
                    // Deploys create CodeDeploy deployments, not UpdateService calls. Only the
                    // read is probed: a CreateDeployment probe could start a real deployment.
                    self.codedeploy_group(cluster, s, &mut allowed).await?;
                    continue;
                }
                if native {
                    // Blue/green, linear and canary: the service deployments are read and acted on.
                    let answer = ecs
                        .newest_service_deployment(cluster, s, &[])
                        .await
                        .map(drop);
                    self.judge_native("ListServiceDeployments", answer, &mut allowed)?;
                    let made_up = format!(
                        "arn:{}:ecs:{}:{}:service-deployment/{}/{s}/stevedore-doctor-probe",
                        config::partition(&self.region),
                        self.region,
                        self.account,
                        cluster.rsplit('/').next().unwrap_or(cluster)
                    );
                    let answer = ecs.describe_service_deployment(&made_up).await.map(drop);
                    self.judge_native("DescribeServiceDeployments", answer, &mut allowed)?;
                    let answer = ecs
                        .continue_service_deployment(&made_up, "stevedore-doctor-probe", "CONTINUE")
                        .await;
                    self.judge_native("ContinueServiceDeployment", answer, &mut allowed)?;
                }
                let probe = ServiceUpdate {
                    cluster: cluster.clone(),
                    service: s.clone(),
                    task_definition: "stevedore-doctor-probe:0".into(),
                    ..Default::default()
                };
                let answer = ecs.update_service(&probe).await.map(drop);
                self.judge("UpdateService", answer, &mut allowed)?;
            }
            let answer = ecs.list_tasks(cluster, "stevedore-doctor-probe", "STOPPED");
            self.judge("ListTasks", answer.await.map(drop), &mut allowed)?;
            let task = format!(
                "arn:{}:ecs:{}:{}:task/{}/{}",
                config::partition(&self.region),
                self.region,
                self.account,
                cluster.rsplit('/').next().unwrap_or(cluster),
                "0".repeat(32)
            );
            let answer = ecs.describe_tasks(cluster, &[&task]).await.map(drop);
            self.judge("DescribeTasks", answer, &mut allowed)?;
        }
        if let Some(key) = &self.target.signing_key {
            self.signing(key, &mut allowed).await?;
        }
        Ok(format!("allowed: {}", allowed.join(", ")))
    }

    /// Whether the role may sign with the key: a Sign with DryRun.
    async fn signing(
        &self,
        key: &str,
        allowed: &mut Vec<String>,
    ) -> std::result::Result<(), Failure> {
        use crate::sign::kms::{KeyRef, Kms};
        let key = KeyRef::parse(key).map_err(|e| {
            fail(
                format!("--signing-key (STEVEDORE_SIGN): {e}"),
                "name the key as awskms:///ARN or awskms:///alias/NAME",
            )
        })?;
        let kms = Kms::new(&key, &self.region, self.credentials().await?).map_err(setup_failed)?;
        match kms.may_sign(&key).await {
            Ok(()) => {
                allowed.push(format!("kms:Sign on {}", key.display()));
                Ok(())
            }
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(fail(
                e.message.clone(),
                "allow kms:Sign on the key in the role's permissions policy: `stevedore iam policy --signing-key KEY-ARN` renders the statement",
            )),
            Err(CallError::Api(e)) if e.code == "NotFoundException" => Err(fail(
                format!("KMS has no key {} in this account and region ({})", key.display(), e.message),
                "check the key's ARN or alias and AWS_DEFAULT_REGION; `stevedore bootstrap --signing-key` creates one",
            )),
            Err(e) => Err(fail(format!("KMS Sign (DryRun) with {}: {e}", key.display()), "check the network and the key (an ECC_NIST_P256 SIGN_VERIFY key)")),
        }
    }

    /// GetDeploymentGroup of the group the console names for a CODE_DEPLOY service: allowed,
    /// and found (or not, with the flags that name another).
    async fn codedeploy_group(
        &self,
        cluster: &str,
        service: &str,
        allowed: &mut Vec<String>,
    ) -> std::result::Result<(), Failure> {
        let cd = self.codedeploy().await?;
        let (app, group) = crate::codedeploy::appspec::default_names(
            cluster.rsplit('/').next().unwrap_or(cluster),
            service,
        );
        match cd.get_deployment_group(&app, &group).await {
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(self.denied_fix(
                &e.message,
                " (the service deploys through CodeDeploy: `stevedore iam policy --codedeploy`, or --codedeploy-group APPLICATION/GROUP)",
            )),
            Err(CallError::Transport(e)) => Err(fail(
                format!("CodeDeploy GetDeploymentGroup: {e:#}"),
                "check the network and AWS_DEFAULT_REGION",
            )),
            // Found, or not under the console's names: either way IAM let the call through.
            _ => {
                allowed.push("codedeploy:GetDeploymentGroup".into());
                Ok(())
            }
        }
    }

    /// [`Self::judge`] for the calls of blue/green, linear and canary deploys: the fix names
    /// the flag that adds them to the policy.
    fn judge_native(
        &self,
        op: &str,
        answer: Result<(), CallError>,
        allowed: &mut Vec<String>,
    ) -> std::result::Result<(), Failure> {
        match answer {
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(self.denied_fix(
                &e.message,
                " (the service deploys blue/green, linear or canary: `stevedore iam policy --service-deployments`)",
            )),
            other => self.judge(op, other, allowed),
        }
    }

    /// An ECS probe's answer: refused by IAM (the fix), unanswered (the network), or anything
    /// else (an answer, or a refusal of the probe's made-up values), which means IAM let it through.
    fn judge(
        &self,
        op: &str,
        answer: Result<(), CallError>,
        allowed: &mut Vec<String>,
    ) -> std::result::Result<(), Failure> {
        match answer {
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(self.denied_fix(&e.message, "")),
            Err(CallError::Transport(e)) => Err(fail(
                format!("{op}: {e:#}"),
                "check the network and AWS_DEFAULT_REGION",
            )),
            _ => {
                allowed.push(format!("ecs:{op}"));
                Ok(())
            }
        }
    }
}

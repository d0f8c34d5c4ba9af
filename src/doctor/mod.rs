//! `stevedore doctor`: the set-up checked in the order a job needs it — OIDC token, role,
//! variables against the caller identity, repository, cluster and service, the task roles, and
//! the permissions the push and deploy need (probed with calls that change nothing). One line per
//! check; the first failure stops the run and says the exact change to make.

use crate::auth;
use crate::auth::oidc::{self, Claims};
use crate::aws::json::{Api, CallError, Client};
use crate::cli::DoctorArgs;
use crate::config::{self, Settings};
use anyhow::Result;
use serde_json::{json, Value};
use std::time::SystemTime;

/// A failed check: what is wrong and the change that fixes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub problem: String,
    pub fix: String,
}

fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Failure {
    Failure {
        problem: problem.into(),
        fix: fix.into(),
    }
}

type Check = std::result::Result<String, Failure>;

/// The organization id a CircleCI token belongs to: from `sub`, else from `iss`.
fn org_of(claims: &Claims) -> Option<String> {
    claims.circleci_project().map(|(o, _)| o).or_else(|| {
        claims
            .provider()
            .and_then(|p| p.rsplit_once("/org/").map(|(_, o)| o.to_string()))
    })
}

/// Why STS refused the token, read from its claims (STS itself only says "not authorized"):
/// an audience other than the organization id, or a `sub` the trust policy does not match.
pub fn refusal_fix(claims: &Claims, role_arn: &str) -> Failure {
    let provider = claims
        .provider()
        .unwrap_or_else(|| "oidc.circleci.com/org/<ORG_ID>".into());
    let problem = format!("STS refused the token for {role_arn} (not authorized to perform sts:AssumeRoleWithWebIdentity)");
    let org = org_of(claims);
    let aud = claims.aud.first().cloned().unwrap_or_default();
    if let Some(org) = org.as_deref().filter(|o| *o != aud) {
        return fail(
            format!("{problem}: the token's audience is '{aud}', not the organization id '{org}'"),
            format!(
                "mint tokens for the organization id: unset STEVEDORE_OIDC_AUDIENCE (or set it to {org}); or, to keep audience '{aud}', add it to the OIDC provider's audiences and set the trust policy's StringEquals {provider}:aud to '{aud}'"
            ),
        );
    }
    let sub = claims.sub.clone().unwrap_or_default();
    let (org, project) = claims
        .circleci_project()
        .unwrap_or_else(|| ("<ORG_ID>".into(), "<PROJECT_ID>".into()));
    let branch = sub
        .split_once("/vcs-ref/refs/heads/")
        .map(|(_, b)| format!(" (add --branch {b} to admit only this branch)"))
        .unwrap_or_default();
    fail(
        format!("{problem}: the trust policy does not admit sub '{sub}' with aud '{aud}'"),
        format!(
            "the role's trust policy must allow Federated arn:aws:iam::{}:oidc-provider/{provider} with StringEquals {provider}:aud = {aud} and StringLike {provider}:sub = org/{org}/project/{project}/user/*; render it with `stevedore iam trust --org-id {org} --project-id {project}`{branch}",
            role_arn.split(':').nth(4).unwrap_or("<ACCOUNT>"),
        ),
    )
}

/// The variables, side by side with who the credentials say the caller is (pure).
pub fn variables_check(
    env: &config::Sources,
    caller_account: &str,
    needs_account: bool,
    needs_alias: bool,
) -> Check {
    let (region, default) = (&env.aws_region, &env.aws_default_region);
    if let (Some(r), Some(d)) = (region, default) {
        if r != d {
            return Err(fail(
                format!("AWS_REGION={r} and AWS_DEFAULT_REGION={d} disagree (AWS_REGION wins, for stevedore and the AWS CLI alike)"),
                format!("make them equal, or unset AWS_REGION so AWS_DEFAULT_REGION={d} applies"),
            ));
        }
    }
    let region = match (&env.region_flag, region, default) {
        (Some(r), _, _) | (None, Some(r), _) | (None, None, Some(r)) => r,
        _ => {
            return Err(fail(
                "no region: AWS_DEFAULT_REGION is not set",
                "set AWS_DEFAULT_REGION to the region of your registry and cluster (Project Settings > Environment Variables, or a context)",
            ))
        }
    };
    let account = match &env.account_id {
        Some(a) if a != caller_account => {
            return Err(fail(
                format!(
                    "AWS_ACCOUNT_ID is {a} but the credentials belong to account {caller_account}"
                ),
                format!("set AWS_ACCOUNT_ID={caller_account}, or assume a role in account {a}"),
            ))
        }
        Some(a) => format!("account {a} (= AWS_ACCOUNT_ID)"),
        None if needs_account => {
            return Err(fail(
                "AWS_ACCOUNT_ID is not set (the private registry's address needs it)",
                format!("set AWS_ACCOUNT_ID={caller_account}"),
            ))
        }
        None => format!("account {caller_account}"),
    };
    let alias = match &env.public_alias {
        Some(a) => format!(", ECR Public alias {a}"),
        None if needs_alias => {
            return Err(fail(
                "AWS_ECR_PUBLIC_REGISTRY_ALIAS is not set (public.ecr.aws/<alias>/<repo> needs it)",
                "set AWS_ECR_PUBLIC_REGISTRY_ALIAS to your registry's alias (ECR console > Public registry > Settings)",
            ))
        }
        None => String::new(),
    };
    Ok(format!("{account}, region {region}{alias}"))
}

/// `action` and `resource` of an AWS AccessDenied message, when it names them.
pub fn denied_action(message: &str) -> Option<(String, String)> {
    let rest = message.split("perform: ").nth(1)?;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let resource = rest.split_whitespace().next()?;
    Some((action.to_string(), resource.to_string()))
}

fn is_denied(code: &str) -> bool {
    code.starts_with("AccessDenied") || code == "UnauthorizedOperation"
}

struct Doctor {
    args: DoctorArgs,
    region: String,
    creds: Option<aws_credential_types::Credentials>,
    account: String,
}

impl Doctor {
    /// The `stevedore iam policy` command for this set-up.
    fn policy_command(&self) -> String {
        let mut cmd = "stevedore iam policy".to_string();
        if let Some(r) = &self.args.repo {
            cmd.push_str(&format!(" --repo {r}"));
            if self.args.public {
                cmd.push_str(" --public");
            }
        }
        if let Some(c) = &self.args.cluster {
            cmd.push_str(&format!(" --cluster {c}"));
        }
        for s in &self.args.services {
            cmd.push_str(&format!(" --service {s}"));
        }
        cmd
    }

    fn denied_fix(&self, message: &str, extra: &str) -> Failure {
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

    async fn client(&self, api: Api) -> std::result::Result<Client, Failure> {
        let region = if api == Api::EcrPublic {
            config::ECR_PUBLIC_REGION
        } else {
            &self.region
        };
        let credentials = crate::auth::credentials(region, self.creds.clone());
        let client = match credentials.await {
            Ok(c) => Client::new(api, region, c),
            Err(e) => Err(e),
        };
        client.map_err(|e| {
            fail(
                format!("{e:#}"),
                "set up AWS credentials (see the role check)",
            )
        })
    }

    async fn repository(&self, repo: &str) -> Check {
        let api = if self.args.public {
            Api::EcrPublic
        } else {
            Api::Ecr
        };
        let ecr = self.client(api).await?;
        match ecr
            .call("DescribeRepositories", &json!({"repositoryNames": [repo]}))
            .await
        {
            Ok(v) => Ok(v["repositories"][0]["repositoryUri"]
                .as_str()
                .unwrap_or(repo)
                .to_string()),
            Err(CallError::Api(e)) if e.code == "RepositoryNotFoundException" => {
                if self.args.create_repo {
                    Ok(format!(
                        "{repo} does not exist yet; it will be created (create_repo)"
                    ))
                } else {
                    Err(fail(
                        format!("repository {repo} does not exist in account {} ({})", self.account, if self.args.public { "ECR Public".to_string() } else { self.region.clone() }),
                        format!("create it with `stevedore ecr ensure-repo --repo {repo}{}`, or let the push create it (create_repo: true in the orb, --create-repo on stevedore push)", if self.args.public { " --public" } else { "" }),
                    ))
                }
            }
            Err(CallError::Api(e)) if is_denied(&e.code) => Err(self.denied_fix(&e.message, "")),
            Err(e) => Err(fail(
                format!("ECR DescribeRepositories: {e}"),
                "check AWS_DEFAULT_REGION and the network",
            )),
        }
    }

    /// The service's task definition, once the cluster and service are found.
    async fn service(
        &self,
        ecs: &Client,
        cluster: &str,
        service: &str,
    ) -> std::result::Result<(String, String), Failure> {
        let v = match ecs
            .call("DescribeServices", &json!({"cluster": cluster, "services": [service]}))
            .await
        {
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
        let svc = v["services"]
            .as_array()
            .and_then(|a| a.first())
            .filter(|s| s["status"] == "ACTIVE");
        match svc {
            Some(s) => Ok((
                s["taskDefinition"].as_str().unwrap_or_default().to_string(),
                s["deployments"][0]["rolloutState"].as_str().unwrap_or("-").to_string(),
            )),
            None => Err(fail(
                format!("service {service} does not exist (or is no longer ACTIVE) in cluster {cluster}, {}", self.region),
                format!("check the service name, or create it on the first deploy with `stevedore deploy --cluster {cluster} --service {service} --task-definition-file FILE --create-service`"),
            )),
        }
    }

    /// iam:PassRole for the task definition's roles, probed by registering an empty container
    /// list: ECS refuses that as invalid, after IAM has allowed (or denied) the call and the roles.
    async fn task_roles(&self, ecs: &Client, td_arn: &str) -> Check {
        let td = match ecs
            .call("DescribeTaskDefinition", &json!({"taskDefinition": td_arn}))
            .await
        {
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
        match ecs.call("RegisterTaskDefinition", &probe).await {
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
    async fn permissions(&self) -> Check {
        let mut probes: Vec<(Api, &str, Value)> = vec![];
        let registry_api = if self.args.public {
            Api::EcrPublic
        } else {
            Api::Ecr
        };
        probes.push((registry_api, "GetAuthorizationToken", json!({})));
        if let Some(repo) = &self.args.repo {
            let zero = format!("sha256:{}", "0".repeat(64));
            probes.push((
                registry_api,
                "BatchCheckLayerAvailability",
                json!({"repositoryName": repo, "layerDigests": [zero]}),
            ));
            probes.push((registry_api, "DescribeImages", json!({"repositoryName": repo, "imageIds": [{"imageTag": "stevedore-doctor-probe"}]})));
            probes.push((registry_api, "PutImage", json!({"repositoryName": repo, "imageManifest": "{}", "imageTag": "stevedore-doctor-probe"})));
        }
        if let Some(cluster) = &self.args.cluster {
            for s in &self.args.services {
                probes.push((Api::Ecs, "UpdateService", json!({"cluster": cluster, "service": s, "taskDefinition": "stevedore-doctor-probe:0"})));
            }
            probes.push((
                Api::Ecs,
                "ListTasks",
                json!({"cluster": cluster, "desiredStatus": "STOPPED", "maxResults": 1}),
            ));
            let task = format!(
                "arn:{}:ecs:{}:{}:task/{}/{}",
                config::partition(&self.region),
                self.region,
                self.account,
                cluster.rsplit('/').next().unwrap_or(cluster),
                "0".repeat(32)
            );
            probes.push((
                Api::Ecs,
                "DescribeTasks",
                json!({"cluster": cluster, "tasks": [task]}),
            ));
        }
        let mut allowed = vec![];
        for (api, op, body) in probes {
            let client = self.client(api).await?;
            match client.call(op, &body).await {
                Err(CallError::Api(e)) if is_denied(&e.code) => {
                    return Err(self.denied_fix(&e.message, ""))
                }
                Err(CallError::Transport(e)) => {
                    return Err(fail(
                        format!("{op}: {e:#}"),
                        "check the network and AWS_DEFAULT_REGION",
                    ))
                }
                // Anything else (an answer, or a refusal of the probe's made-up values) means IAM let it through.
                _ => allowed.push(format!(
                    "{}:{op}",
                    match api {
                        Api::Ecr => "ecr",
                        Api::EcrPublic => "ecr-public",
                        Api::Ecs => "ecs",
                    }
                )),
            }
        }
        Ok(format!("allowed: {}", allowed.join(", ")))
    }
}

fn report(name: &str, check: &Check) {
    match check {
        Ok(detail) => println!("ok    {name}: {detail}"),
        Err(f) => {
            println!("FAIL  {name}: {}", f.problem);
            println!("      fix: {}", f.fix);
        }
    }
}

/// `stevedore doctor`.
pub async fn run(settings: &Settings, args: DoctorArgs) -> Result<()> {
    let failed = || {
        Err(crate::error::Outcome {
            code: crate::error::EXIT_FAILURE,
            message: "doctor: a check failed; the line above says the fix".into(),
        }
        .into())
    };
    // 1. The OIDC token.
    let audience = args
        .audience
        .clone()
        .or_else(|| config::env_var("CIRCLE_ORGANIZATION_ID"));
    let keys =
        config::env_var("AWS_ACCESS_KEY_ID").is_some() || config::env_var("AWS_PROFILE").is_some();
    let token = match oidc::find_token(audience.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            report("oidc token", &Err(fail(format!("{e:#}"), "run inside a CircleCI job of a project with OIDC (it sets CIRCLE_OIDC_TOKEN_V2), or use access keys")));
            return failed();
        }
    };
    let check = match (&token, keys) {
        (Some(t), _) => Ok(format!("{} ({})", t.source, t.claims.summary(SystemTime::now()))),
        (None, true) => Ok("no OIDC token; the access keys (AWS_ACCESS_KEY_ID) are used".into()),
        (None, false) => Err(fail(
            match oidc::empty_token_variable() {
                Some(v) => format!("{v} is set but empty"),
                None => "no OIDC token (CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN) and no access keys".into(),
            },
            "enable OIDC: CircleCI sets CIRCLE_OIDC_TOKEN_V2 in jobs of projects that use it (Project Settings > OIDC); or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )),
    };
    report("oidc token", &check);
    if check.is_err() {
        return failed();
    }
    // 2. The role.
    let region = settings.region.clone();
    let role = auth::resolve_role(
        args.role_arn.as_deref(),
        config::env_var("AWS_ROLE_ARN").as_deref(),
        args.role_name.as_deref(),
        settings,
    );
    let session = oidc::session_name(Some("doctor"), None, SystemTime::now());
    let (check, creds) = match (role, &token) {
        (Err(e), _) => (Err(fail(format!("{e:#}"), "set AWS_ROLE_ARN (or --role-name with AWS_ACCOUNT_ID) to the CI role")), None),
        (Ok(None), Some(_)) => (Err(fail("an OIDC token but no role to assume", "set AWS_ROLE_ARN to the CI role's ARN, or STEVEDORE_ROLE_NAME with AWS_ACCOUNT_ID")), None),
        (Ok(None), None) => (Ok("no role: the access keys are used as they are".into()), None),
        (Ok(Some((arn, parsed))), Some(t)) => {
            match auth::assume_with_web_identity(region.as_deref(), t, &arn, &parsed, &session, 900).await {
                Ok(c) => (Ok(format!("assumed {}", c.assumed_arn.as_deref().unwrap_or(&arn))), Some(c.to_sdk())),
                Err(e) if format!("{e:#}").contains("STS refused") => (Err(refusal_fix(&t.claims, &arn)), None),
                Err(e) => (Err(fail(format!("{e:#}"), "check the network, AWS_DEFAULT_REGION and the role ARN")), None),
            }
        }
        (Ok(Some((arn, _))), None) => match auth::assume_with_chain(region.as_deref(), &arn, &session, 900).await {
            Ok(c) => (Ok(format!("assumed {} with the access keys", c.assumed_arn.as_deref().unwrap_or(&arn))), Some(c.to_sdk())),
            Err(e) => (Err(fail(format!("{e:#}"), format!("allow sts:AssumeRole on {arn} for the access keys' user, and trust that user in the role"))), None),
        },
    };
    report("role", &check);
    if check.is_err() {
        return failed();
    }
    // 3. Variables against the caller identity.
    let identity = match caller_identity(region.as_deref(), creds.clone()).await {
        Ok(id) => id,
        Err(e) => {
            report(
                "variables",
                &Err(fail(
                    format!("STS GetCallerIdentity: {e:#}"),
                    "check the credentials and the network",
                )),
            );
            return failed();
        }
    };
    let check = variables_check(
        &config::Sources::from_env(None),
        &identity.0,
        args.repo.is_some() && !args.public,
        args.public,
    )
    .map(|d| format!("{d}, as {}", identity.1));
    report("variables", &check);
    if check.is_err() {
        return failed();
    }
    let doctor = Doctor {
        region: settings.region.clone().unwrap_or_default(),
        args,
        creds,
        account: identity.0,
    };
    // 4. The repository.
    if let Some(repo) = doctor.args.repo.clone() {
        let check = doctor.repository(&repo).await;
        report("repository", &check);
        if check.is_err() {
            return failed();
        }
    }
    // 5–6. Cluster, services and their task roles.
    if let Some(cluster) = doctor.args.cluster.clone() {
        let ecs = match doctor.client(Api::Ecs).await {
            Ok(c) => c,
            Err(f) => {
                report("service", &Err(f));
                return failed();
            }
        };
        for service in doctor.args.services.clone() {
            let (td, rollout) = match doctor.service(&ecs, &cluster, &service).await {
                Ok(x) => x,
                Err(f) => {
                    report("service", &Err(f));
                    return failed();
                }
            };
            report(
                "service",
                &Ok(format!(
                    "{cluster}/{service} ACTIVE, {}, last rollout {rollout}",
                    td.rsplit('/').next().unwrap_or(&td)
                )),
            );
            let check = doctor.task_roles(&ecs, &td).await;
            report("task roles", &check);
            if check.is_err() {
                return failed();
            }
        }
    }
    // 7. Permissions.
    let check = doctor.permissions().await;
    report("permissions", &check);
    if check.is_err() {
        return failed();
    }
    println!("stevedore doctor: all checks passed");
    Ok(())
}

/// `(account, arn)` of the caller, with explicit credentials when given.
async fn caller_identity(
    region: Option<&str>,
    creds: Option<aws_credential_types::Credentials>,
) -> Result<(String, String)> {
    let conf = crate::aws::sdk::sdk_config(Some(region.unwrap_or("us-east-1")), false).await?;
    let mut builder = aws_sdk_sts::config::Builder::from(&conf);
    if let Some(c) = creds {
        builder = builder.credentials_provider(c);
    }
    let out = aws_sdk_sts::Client::from_conf(builder.build())
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(crate::aws::error::describe(&e)))?;
    Ok((
        out.account().unwrap_or_default().to_string(),
        out.arn().unwrap_or_default().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(aud: &str, sub: &str) -> Claims {
        let payload = json!({"iss": "https://oidc.circleci.com/org/o1", "aud": aud, "sub": sub});
        let b64 = |v: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
        };
        Claims::decode(&format!("{}.{}.sig", b64("{}"), b64(&payload.to_string()))).unwrap()
    }

    #[test]
    fn a_refusal_names_the_audience_or_the_subject() {
        let role = "arn:aws:iam::123456789012:role/ci";
        let f = refusal_fix(
            &claims("sts.amazonaws.com", "org/o1/project/p1/user/u1"),
            role,
        );
        assert!(
            f.problem
                .contains("audience is 'sts.amazonaws.com', not the organization id 'o1'"),
            "{f:?}"
        );
        assert!(f.fix.contains("unset STEVEDORE_OIDC_AUDIENCE"), "{f:?}");
        let f = refusal_fix(
            &claims(
                "o1",
                "org/o1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main",
            ),
            role,
        );
        assert!(
            f.fix
                .contains("`stevedore iam trust --org-id o1 --project-id p1` (add --branch main"),
            "{f:?}"
        );
        assert!(
            f.fix.contains("oidc-provider/oidc.circleci.com/org/o1"),
            "{f:?}"
        );
    }

    fn sources(
        region: Option<&str>,
        default: Option<&str>,
        account: Option<&str>,
    ) -> config::Sources {
        config::Sources {
            region_flag: None,
            aws_region: region.map(String::from),
            aws_default_region: default.map(String::from),
            account_id: account.map(String::from),
            public_alias: None,
        }
    }

    #[test]
    fn variables_are_checked_against_each_other_and_the_caller() {
        let ok = variables_check(
            &sources(None, Some("us-east-1"), Some("123456789012")),
            "123456789012",
            true,
            false,
        );
        assert_eq!(
            ok.unwrap(),
            "account 123456789012 (= AWS_ACCOUNT_ID), region us-east-1"
        );
        let f = variables_check(
            &sources(Some("us-west-2"), Some("us-east-1"), None),
            "1",
            false,
            false,
        )
        .unwrap_err();
        assert!(
            f.problem
                .contains("AWS_REGION=us-west-2 and AWS_DEFAULT_REGION=us-east-1 disagree"),
            "{f:?}"
        );
        let f = variables_check(&sources(None, None, None), "1", false, false).unwrap_err();
        assert!(f.fix.starts_with("set AWS_DEFAULT_REGION"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), Some("999999999999")),
            "123456789012",
            true,
            false,
        )
        .unwrap_err();
        assert!(f.fix.contains("AWS_ACCOUNT_ID=123456789012"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), None),
            "123456789012",
            true,
            false,
        )
        .unwrap_err();
        assert!(f.problem.contains("AWS_ACCOUNT_ID is not set"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), None),
            "123456789012",
            false,
            true,
        )
        .unwrap_err();
        assert!(f.problem.contains("AWS_ECR_PUBLIC_REGISTRY_ALIAS"), "{f:?}");
    }

    #[test]
    fn access_denied_messages_name_action_and_resource() {
        let m = "User: arn:aws:sts::1:assumed-role/ci/s is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/app because no identity-based policy allows the iam:PassRole action";
        assert_eq!(
            denied_action(m),
            Some(("iam:PassRole".into(), "arn:aws:iam::1:role/app".into()))
        );
        assert_eq!(denied_action("Access Denied"), None);
    }
}

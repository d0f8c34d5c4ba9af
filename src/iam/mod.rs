//! `stevedore iam policy`: the least-privilege permissions policy for exactly the calls stevedore
//! makes, scoped to the named repositories, services and roles.
//!
//! `stevedore iam trust`: the trust policy a CI role needs for CircleCI's OIDC provider, as
//! CircleCI documents it — audience with StringEquals, `sub` with StringLike so the v2 token's
//! longer subject still matches, and an optional branch lock through `vcs-origin`/`vcs-ref`.

pub mod policy;

use crate::cli::{BootstrapArgs, IamPolicyArgs, IamTrustArgs};
use crate::config::{self, Settings};
use crate::error::usage;
use crate::render::Renderer;
use anyhow::Result;

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The `sub` pattern a role should admit.
pub fn sub_pattern(
    org: &str,
    project: &str,
    branch: Option<&str>,
    vcs_origin: Option<&str>,
) -> String {
    let base = format!("org/{org}/project/{project}/user/*");
    match branch {
        None => base,
        Some(b) => format!(
            "{base}/vcs-origin/{}/vcs-ref/refs/heads/{b}",
            vcs_origin.unwrap_or("*")
        ),
    }
}

/// Render the trust policy JSON.
pub fn trust_policy(
    account: &str,
    partition: &str,
    org: &str,
    project: &str,
    branch: Option<&str>,
    vcs_origin: Option<&str>,
) -> Result<serde_json::Value> {
    let provider = format!("oidc.circleci.com/org/{org}");
    let text = Renderer::new()?.render(
        "trust",
        &serde_json::json!({
            "partition": partition, "account": account, "provider": provider, "org_id": org,
            "sub": sub_pattern(org, project, branch, vcs_origin),
        }),
    )?;
    Ok(serde_json::from_str(&text)?)
}

/// `stevedore iam trust`.
pub fn run_trust(settings: &Settings, a: IamTrustArgs) -> Result<()> {
    let policy = trust_from_args(settings, &a)?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}

/// The trust policy the arguments ask for, after checking them.
pub fn trust_from_args(settings: &Settings, a: &IamTrustArgs) -> Result<serde_json::Value> {
    if !id_ok(&a.org_id) {
        return Err(usage!(
            "--org-id: '{}' is not a CircleCI organization id (Organization Settings > Overview)",
            a.org_id
        ));
    }
    if !id_ok(&a.project_id) {
        return Err(usage!(
            "--project-id: '{}' is not a CircleCI project id (Project Settings > Overview)",
            a.project_id
        ));
    }
    if let Some(b) = a.branch.as_deref() {
        if b.is_empty() || b.contains(char::is_whitespace) || b.contains('*') && b != "*" {
            return Err(usage!("--branch: '{b}' is not a branch name"));
        }
    }
    if let Some(o) = a.vcs_origin.as_deref() {
        if o.contains(char::is_whitespace) || o.contains("://") {
            return Err(usage!(
                "--vcs-origin: '{o}' should look like github.com/OWNER/REPO (no scheme)"
            ));
        }
    }
    let account = settings.require_account()?;
    let partition = config::partition(settings.region.as_deref().unwrap_or("us-east-1"));
    trust_policy(
        account,
        partition,
        &a.org_id,
        &a.project_id,
        a.branch.as_deref(),
        a.vcs_origin.as_deref(),
    )
}

/// What the permissions policy covers, with names resolved to ARNs.
#[derive(Debug, Default)]
pub struct PolicyScope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub public: bool,
    pub repos: Vec<String>,
    pub cluster: Option<String>,
    pub services: Vec<String>,
    /// Role names or ARNs.
    pub pass_roles: Vec<String>,
    pub run_task_families: Vec<String>,
    /// `group/name` of each schedule.
    pub schedules: Vec<String>,
    /// `name` (default bus) or `bus/name` of each rule.
    pub rules: Vec<String>,
    /// Role names or ARNs the schedules' and rules' targets run with.
    pub schedule_roles: Vec<String>,
    /// CloudWatch Logs groups the tasks write to.
    pub log_groups: Vec<String>,
    pub create_service: bool,
    /// Blue/green, linear and canary: the services' service deployments.
    pub service_deployments: bool,
    /// CodeDeploy (application, deployment group) pairs the role deploys through.
    pub codedeploy_groups: Vec<(String, String)>,
    pub repository_policy: bool,
    /// KMS key ARNs the role signs with (kms:Sign).
    pub signing_keys: Vec<String>,
    /// KMS key ARNs the role checks signatures with (kms:GetPublicKey).
    pub verify_keys: Vec<String>,
}

fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Render the permissions policy JSON (pure).
pub fn permissions_policy(p: &PolicyScope) -> Result<serde_json::Value> {
    let (partition, region, account) = (&p.partition, &p.region, &p.account);
    let repo_arns: Vec<String> = p
        .repos
        .iter()
        .map(|r| {
            if p.public {
                format!("arn:{partition}:ecr-public::{account}:repository/{r}")
            } else {
                format!("arn:{partition}:ecr:{region}:{account}:repository/{r}")
            }
        })
        .collect();
    let cluster = p.cluster.as_deref().map(last_segment);
    let cluster_arn = cluster
        .map(|c| format!("arn:{partition}:ecs:{region}:{account}:cluster/{c}"))
        .unwrap_or_default();
    let service_arns: Vec<String> = p
        .services
        .iter()
        .map(|s| {
            format!(
                "arn:{partition}:ecs:{region}:{account}:service/{}/{}",
                cluster.unwrap_or("default"),
                last_segment(s)
            )
        })
        .collect();
    let run_task_arns: Vec<String> = p
        .run_task_families
        .iter()
        .map(|f| format!("arn:{partition}:ecs:{region}:{account}:task-definition/{f}:*"))
        .collect();
    let role_arn = |r: &String| {
        if r.starts_with("arn:") {
            r.clone()
        } else {
            format!("arn:{partition}:iam::{account}:role/{r}")
        }
    };
    let mut pass_role_arns: Vec<String> = p.pass_roles.iter().map(role_arn).collect();
    pass_role_arns.dedup();
    let schedule_role_arns: Vec<String> = p.schedule_roles.iter().map(role_arn).collect();
    let schedule_arns: Vec<String> = p
        .schedules
        .iter()
        .map(|s| format!("arn:{partition}:scheduler:{region}:{account}:schedule/{s}"))
        .collect();
    let rule_arns: Vec<String> = p
        .rules
        .iter()
        .map(|r| format!("arn:{partition}:events:{region}:{account}:rule/{r}"))
        .collect();
    let log_group_arns: Vec<String> = p
        .log_groups
        .iter()
        .map(|g| format!("arn:{partition}:logs:{region}:{account}:log-group:{g}:*"))
        .collect();
    // The services EventBridge targets are passed to, as iam:PassedToService names them.
    let mut passed_to = vec![];
    if !schedule_arns.is_empty() {
        passed_to.push("scheduler.amazonaws.com");
    }
    if !rule_arns.is_empty() {
        passed_to.push("events.amazonaws.com");
    }
    let codedeploy_group_arns: Vec<String> = p
        .codedeploy_groups
        .iter()
        .map(|(a, g)| {
            format!("arn:{partition}:codedeploy:{region}:{account}:deploymentgroup:{a}/{g}")
        })
        .collect();
    let mut codedeploy_application_arns: Vec<String> = p
        .codedeploy_groups
        .iter()
        .map(|(a, _)| format!("arn:{partition}:codedeploy:{region}:{account}:application:{a}"))
        .collect();
    codedeploy_application_arns.sort();
    codedeploy_application_arns.dedup();
    let text = Renderer::new()?.render(
        "permissions",
        &serde_json::json!({
            "public": p.public,
            "prefix": if p.public { "ecr-public" } else { "ecr" },
            "service_sid": if p.public { "EcrPublic" } else { "Ecr" },
            "repo_arns": repo_arns,
            "repository_policy": p.repository_policy,
            "service_arns": &service_arns,
            "service_deployment_arns": if p.service_deployments { service_arns.iter().map(|a| a.replacen(":service/", ":service-deployment/", 1) + "/*").collect() } else { vec![] },
            "create_service": p.create_service,
            "cluster_arn": cluster_arn,
            "task_definitions": !(service_arns.is_empty() && run_task_arns.is_empty() && schedule_arns.is_empty() && rule_arns.is_empty()),
            "run_task_arns": run_task_arns,
            "pass_role_arns": pass_role_arns,
            "schedule_arns": schedule_arns,
            "rule_arns": rule_arns,
            "schedule_role_arns": schedule_role_arns,
            "passed_to": passed_to,
            "log_group_arns": log_group_arns,
            "codedeploy_group_arns": codedeploy_group_arns,
            "codedeploy_application_arns": codedeploy_application_arns,
            "signing_keys": p.signing_keys,
            "verify_keys": p.verify_keys,
            "codedeploy_config_arn": format!("arn:{partition}:codedeploy:{region}:{account}:deploymentconfig:*"),
        }),
    )?;
    Ok(serde_json::from_str(&text)?)
}

/// `stevedore iam policy`.
pub fn run_policy(settings: &Settings, a: IamPolicyArgs) -> Result<()> {
    let policy = policy_from_args(settings, a)?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}

/// The permissions policy the arguments ask for, after checking them.
pub fn policy_from_args(settings: &Settings, a: IamPolicyArgs) -> Result<serde_json::Value> {
    if a.repos.is_empty()
        && a.services.is_empty()
        && a.run_task_families.is_empty()
        && a.schedules.is_empty()
        && a.rules.is_empty()
    {
        return Err(usage!(
            "iam policy: name what the role works on: --repo (push), --service (deploy), --run-task-family, --schedule or --rule"
        ));
    }
    if !a.schedule_roles.is_empty() && a.schedules.is_empty() && a.rules.is_empty() {
        return Err(usage!(
            "--schedule-role: only needed with --schedule or --rule"
        ));
    }
    for r in &a.repos {
        crate::validate::repository_name(r).map_err(|e| usage!("--repo: {e}"))?;
    }
    let needs_cluster = !a.services.is_empty() || !a.run_task_families.is_empty();
    let cluster = match (&a.cluster, needs_cluster) {
        (None, true) => {
            return Err(usage!(
                "--cluster: required with --service or --run-task-family (the cluster they run in)"
            ))
        }
        (c, _) => c.clone(),
    };
    let bad_name = |s: &str| {
        s.is_empty() || s.len() > 255 || s.contains(|c: char| c.is_whitespace() || c == '*')
    };
    for (flag, values) in [
        ("--service", &a.services),
        ("--run-task-family", &a.run_task_families),
        ("--task-role", &a.task_roles),
        ("--execution-role", &a.execution_roles),
        ("--schedule", &a.schedules),
        ("--rule", &a.rules),
        ("--schedule-role", &a.schedule_roles),
        ("--log-group", &a.log_groups),
    ] {
        if let Some(v) = values.iter().find(|v| bad_name(v)) {
            return Err(usage!(
                "{flag}: '{v}' is not a name (no spaces or wildcards)"
            ));
        }
    }
    if (!a.task_roles.is_empty() || !a.execution_roles.is_empty()) && !needs_cluster {
        return Err(usage!(
            "--task-role/--execution-role: only needed with --service or --run-task-family"
        ));
    }
    let codedeploy_groups = codedeploy_groups(
        a.codedeploy,
        &a.codedeploy_groups,
        &a.services,
        cluster.as_deref(),
    )?;
    for (flag, keys) in [
        ("--signing-key", &a.signing_keys),
        ("--verify-key", &a.verify_keys),
    ] {
        if let Some(k) = keys.iter().find(|k| !is_key_arn(k)) {
            return Err(usage!(
                "{flag}: '{k}' is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); IAM grants on keys, not aliases: `aws kms describe-key --key-id alias/NAME` prints the ARN"
            ));
        }
    }
    if !a.verify_keys.is_empty() && a.repos.is_empty() {
        return Err(usage!(
            "--verify-key: name the repositories whose images are verified with --repo (reading a signature reads the repository)"
        ));
    }
    let region = settings.require_region()?;
    let account = settings.require_account()?;
    permissions_policy(&PolicyScope {
        partition: config::partition(region).to_string(),
        region: region.to_string(),
        account: account.to_string(),
        public: a.public,
        repos: a.repos,
        cluster,
        services: a.services,
        pass_roles: a.task_roles.into_iter().chain(a.execution_roles).collect(),
        run_task_families: a.run_task_families,
        schedules: a
            .schedules
            .iter()
            .map(|s| format!("{}/{s}", a.schedule_group))
            .collect(),
        rules: a
            .rules
            .iter()
            .map(|r| match a.event_bus.as_str() {
                "default" => r.clone(),
                bus => format!("{bus}/{r}"),
            })
            .collect(),
        schedule_roles: a.schedule_roles,
        log_groups: a.log_groups,
        create_service: a.create_service,
        service_deployments: a.service_deployments,
        codedeploy_groups,
        repository_policy: a.repository_policy,
        signing_keys: a.signing_keys,
        verify_keys: a.verify_keys,
    })
}

/// Whether `s` is a KMS key's ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
fn is_key_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[5]
            .strip_prefix("key/")
            .is_some_and(|id| !id.is_empty() && !id.contains('*'))
}

/// The CodeDeploy groups of `--codedeploy` (the console's names for each service) and
/// `--codedeploy-group APPLICATION/GROUP`.
fn codedeploy_groups(
    console_names: bool,
    groups: &[String],
    services: &[String],
    cluster: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    if console_names {
        if services.is_empty() {
            return Err(usage!(
                "--codedeploy: name the services it deploys with --service"
            ));
        }
        let cluster = cluster.map(last_segment).unwrap_or("default");
        for s in services {
            let (app, group) = crate::codedeploy::appspec::default_names(cluster, last_segment(s));
            out.push((app, group));
        }
    }
    for item in groups.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (app, group) = item
            .split_once('/')
            .filter(|(a, g)| !a.is_empty() && !g.is_empty() && !g.contains('/'))
            .ok_or_else(|| {
                usage!("--codedeploy-group: '{item}' is not APPLICATION/DEPLOYMENT-GROUP")
            })?;
        if item.contains(|c: char| c.is_whitespace() || c == '*') {
            return Err(usage!(
                "--codedeploy-group: '{item}' is not a name (no spaces or wildcards)"
            ));
        }
        out.push((app.to_string(), group.to_string()));
    }
    Ok(out)
}

/// What `stevedore bootstrap` puts in its CloudFormation template.
pub struct Bootstrap<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
    pub role_name: &'a str,
    pub repo: &'a str,
    pub public: bool,
    pub trust: serde_json::Value,
    pub permissions: serde_json::Value,
    pub lifecycle: serde_json::Value,
    /// The alias of a signing key to create, if one is asked for.
    pub signing_alias: Option<String>,
}

impl Bootstrap<'_> {
    /// The template (pure): the two policies and the lifecycle policy are rendered by their own
    /// templates and embedded as they are.
    pub fn template(&self) -> Result<serde_json::Value> {
        let text = Renderer::new()?.render(
            "bootstrap",
            &serde_json::json!({
                "org_id": self.org_id, "project_id": self.project_id,
                "role_name": self.role_name, "repo": self.repo, "public": self.public,
                "trust_policy": self.trust.to_string(),
                "permissions_policy": self.permissions.to_string(),
                "lifecycle_policy": self.lifecycle.to_string(),
                "signing_alias": self.signing_alias,
            }),
        )?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// The alias bootstrap gives the signing key: `alias/<role name>-signing`, with the characters
/// a role name may have and an alias may not (`+=,.@`) as `-`.
pub fn signing_alias(role_name: &str) -> String {
    let name: String = role_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("alias/{name}-signing")
}

/// `stevedore bootstrap`.
pub fn run_bootstrap(settings: &Settings, a: BootstrapArgs) -> Result<()> {
    if a.policy.repos.len() != 1 {
        return Err(usage!(
            "--repo: bootstrap creates one repository; name exactly one (got {})",
            a.policy.repos.len()
        ));
    }
    let role_ok = !a.role_name.is_empty()
        && a.role_name.len() <= 64
        && a.role_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !role_ok {
        return Err(usage!(
            "--role-name: '{}' is not an IAM role name (up to 64 of A-Z a-z 0-9 +=,.@_-)",
            a.role_name
        ));
    }
    let trust = trust_from_args(settings, &a.trust)?;
    let (repo, public) = (a.policy.repos[0].clone(), a.policy.public);
    let permissions = policy_from_args(settings, a.policy)?;
    let lifecycle =
        crate::iam::policy::builtin_lifecycle(Some(a.keep_last), Some(a.expire_untagged_days))?
            .unwrap_or_default();
    let template = Bootstrap {
        org_id: &a.trust.org_id,
        project_id: &a.trust.project_id,
        role_name: &a.role_name,
        repo: &repo,
        public,
        trust,
        permissions,
        lifecycle,
        signing_alias: a.create_signing_key.then(|| signing_alias(&a.role_name)),
    }
    .template()?;
    let text = serde_json::to_string_pretty(&template)? + "\n";
    match &a.output {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| usage!("--output: cannot write {}: {e}", path.display()))?;
            eprintln!(
                "wrote {}; create the stack with:\n  aws cloudformation deploy --template-file {} --stack-name {} --capabilities CAPABILITY_NAMED_IAM\n(add --parameter-overrides CreateOidcProvider=false if the account already has the CircleCI provider)",
                path.display(),
                path.display(),
                a.role_name
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests;

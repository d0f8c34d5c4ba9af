//! Identity-based permissions policies, evaluated as IAM does for one principal: an explicit
//! Deny wins, otherwise some Allow must match action, resource and conditions, otherwise the
//! request is implicitly denied. And the map from each API call the sandbox answers to the
//! actions, resource ARNs and condition keys AWS authorizes it with (the Service Authorization
//! Reference), so a role's policy is checked on every call, registry requests included.

use crate::trust::{action_matches, like, strings};
use serde_json::Value;

/// One authorization a request needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub action: String,
    pub resource: String,
    /// Condition keys the request carries (`ecs:cluster`, `iam:PassedToService`).
    pub context: Vec<(String, String)>,
}

impl Need {
    pub fn new(action: &str, resource: impl Into<String>) -> Self {
        Need {
            action: action.into(),
            resource: resource.into(),
            context: vec![],
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => vec![],
    }
}

const OPERATORS: [&str; 8] = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
];

/// Refuse a policy the evaluator would misread: no statements, a bad Effect, or a condition
/// operator it does not implement (failing open or closed silently would make the least-privilege
/// proof worthless).
pub fn check_policy(policy: &Value) -> Result<(), String> {
    let stmts = statements(policy);
    if stmts.is_empty() {
        return Err("the permissions policy has no Statement".into());
    }
    for s in stmts {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            other => return Err(format!("Effect {other:?} is neither Allow nor Deny")),
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            return Err("a statement has neither Action nor NotAction".into());
        }
        if s.get("Resource").is_none() && s.get("NotResource").is_none() {
            return Err("a statement has neither Resource nor NotResource".into());
        }
        if let Some(cond) = s.get("Condition").and_then(Value::as_object) {
            for op in cond.keys() {
                let base = op.strip_suffix("IfExists").unwrap_or(op);
                if !OPERATORS.contains(&base) {
                    return Err(format!(
                        "condition operator {op} is not supported by the sandbox"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn condition_holds(cond: Option<&Value>, context: &[(String, String)]) -> bool {
    let Some(cond) = cond.and_then(Value::as_object) else {
        return true;
    };
    cond.iter().all(|(op, keys)| {
        let (base, if_exists) = match op.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (op.as_str(), false),
        };
        keys.as_object().is_some_and(|keys| {
            keys.iter().all(|(key, expected)| {
                let expected = strings(Some(expected));
                // Condition keys are case-insensitive; values are not.
                let actual: Vec<&str> = context
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.as_str())
                    .collect();
                if actual.is_empty() {
                    // A missing key fails a positive operator and satisfies a negated one.
                    return if_exists || base.contains("Not");
                }
                let any = |f: &dyn Fn(&str, &str) -> bool| {
                    actual.iter().any(|a| expected.iter().any(|e| f(e, a)))
                };
                match base {
                    "StringEquals" | "ArnEquals" => any(&|e, a| e == a),
                    "StringLike" | "ArnLike" => any(&|e, a| like(e, a)),
                    "StringNotEquals" | "ArnNotEquals" => !any(&|e, a| e == a),
                    "StringNotLike" | "ArnNotLike" => !any(&|e, a| like(e, a)),
                    _ => false,
                }
            })
        })
    })
}

fn statement_matches(s: &Value, need: &Need) -> bool {
    let action = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => strings(Some(a))
            .iter()
            .any(|p| action_matches(p, &need.action)),
        (None, Some(n)) => !strings(Some(n))
            .iter()
            .any(|p| action_matches(p, &need.action)),
        _ => false,
    };
    let resource = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), _) => strings(Some(r)).iter().any(|p| like(p, &need.resource)),
        (None, Some(n)) => !strings(Some(n)).iter().any(|p| like(p, &need.resource)),
        _ => false,
    };
    action && resource && condition_holds(s.get("Condition"), &need.context)
}

/// Decide one need against an identity policy.
pub fn evaluate(policy: &Value, need: &Need) -> Decision {
    let mut allowed = false;
    for s in statements(policy) {
        if statement_matches(s, need) {
            match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return Decision::ExplicitDeny,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// AWS's AccessDenied message for a need that is not allowed.
pub fn denial(principal: &str, need: &Need, decision: Decision) -> String {
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
        _ => format!(
            "because no identity-based policy allows the {} action",
            need.action
        ),
    };
    format!(
        "User: {principal} is not authorized to perform: {} on resource: {} {why}",
        need.action, need.resource
    )
}

/// The first need the policy does not allow, with its decision.
pub fn first_denied<'a>(policy: &Value, needs: &'a [Need]) -> Option<(&'a Need, Decision)> {
    needs.iter().find_map(|n| match evaluate(policy, n) {
        Decision::Allow => None,
        d => Some((n, d)),
    })
}

/// Where the request's resources live.
pub struct Scope<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

impl Scope<'_> {
    pub fn ecr_repo(&self, public: bool, name: &str) -> String {
        if public {
            format!("arn:aws:ecr-public::{}:repository/{name}", self.account)
        } else {
            format!(
                "arn:aws:ecr:{}:{}:repository/{name}",
                self.region, self.account
            )
        }
    }
    fn cluster(&self, req: &Value) -> String {
        let c = req
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or("default");
        format!(
            "arn:aws:ecs:{}:{}:cluster/{}",
            self.region,
            self.account,
            last_segment(c)
        )
    }
    fn service(&self, cluster_arn: &str, service: &str) -> String {
        format!(
            "arn:aws:ecs:{}:{}:service/{}/{}",
            self.region,
            self.account,
            last_segment(cluster_arn),
            last_segment(service)
        )
    }
    fn task_definition(&self, td: &str) -> String {
        // `family`, `family:rev` or a full ARN; without a revision IAM sees `family:*`-able ARNs
        // of the latest revision, which a `family:*` pattern covers.
        let td = td.rsplit(":task-definition/").next().unwrap_or(td);
        let td = if td.contains(':') {
            td.to_string()
        } else {
            format!("{td}:latest")
        };
        format!(
            "arn:aws:ecs:{}:{}:task-definition/{td}",
            self.region, self.account
        )
    }
}

fn str_field<'a>(req: &'a Value, key: &str) -> Option<&'a str> {
    req.get(key).and_then(Value::as_str)
}

fn pass_role(role: &str) -> Need {
    Need::new("iam:PassRole", role).with("iam:PassedToService", "ecs-tasks.amazonaws.com")
}

/// What a CodeDeploy API call needs (the Service Authorization Reference: the application for
/// application calls, the deployment group for the rest, found through the deployment for
/// calls that name only a deploymentId; an unknown deployment needs nothing, so the call
/// answers DeploymentDoesNotExistException). CreateDeployment also reads the deployment
/// configuration `config` and registers the revision with the application: AWS refuses
/// callers without codedeploy:GetDeploymentConfig or codedeploy:RegisterApplicationRevision
/// there (the permissions the aws-actions ECS deploy action documents for CodeDeploy).
pub fn codedeploy_needs(
    scope: &Scope,
    op: &str,
    req: &Value,
    deployment_group: Option<(String, String)>,
    config: &str,
) -> Vec<Need> {
    let action = format!("codedeploy:{op}");
    let base = format!("arn:aws:codedeploy:{}:{}", scope.region, scope.account);
    let app = str_field(req, "applicationName").unwrap_or("");
    match op {
        "CreateApplication" | "GetApplication" => {
            vec![Need::new(&action, format!("{base}:application:{app}"))]
        }
        "CreateDeploymentGroup" | "GetDeploymentGroup" => {
            let group = str_field(req, "deploymentGroupName").unwrap_or("");
            vec![Need::new(
                &action,
                format!("{base}:deploymentgroup:{app}/{group}"),
            )]
        }
        "CreateDeployment" => {
            let group = str_field(req, "deploymentGroupName").unwrap_or("");
            vec![
                Need::new(&action, format!("{base}:deploymentgroup:{app}/{group}")),
                Need::new(
                    "codedeploy:GetDeploymentConfig",
                    format!("{base}:deploymentconfig:{config}"),
                ),
                Need::new(
                    "codedeploy:RegisterApplicationRevision",
                    format!("{base}:application:{app}"),
                ),
            ]
        }
        _ => match deployment_group {
            Some((a, g)) => vec![Need::new(
                &action,
                format!("{base}:deploymentgroup:{a}/{g}"),
            )],
            None if req.get("deploymentId").is_some() => vec![],
            None => vec![Need::new(&action, "*")],
        },
    }
}

/// What an ECR or ECR Public API call needs.
pub fn ecr_needs(scope: &Scope, public: bool, op: &str, req: &Value) -> Vec<Need> {
    let prefix = if public { "ecr-public" } else { "ecr" };
    let action = format!("{prefix}:{op}");
    if op == "GetAuthorizationToken" {
        let mut needs = vec![Need::new(&action, "*")];
        if public {
            needs.push(Need::new("sts:GetServiceBearerToken", "*"));
        }
        return needs;
    }
    if matches!(op, "TagResource" | "UntagResource" | "ListTagsForResource") {
        let arn = str_field(req, "resourceArn").unwrap_or("*");
        return vec![Need::new(&action, arn)];
    }
    if let Some(name) = str_field(req, "repositoryName") {
        return vec![Need::new(&action, scope.ecr_repo(public, name))];
    }
    if op == "DescribeRepositories" {
        let names = strings(req.get("repositoryNames"));
        if !names.is_empty() {
            return names
                .iter()
                .map(|n| Need::new(&action, scope.ecr_repo(public, n)))
                .collect();
        }
        return vec![Need::new(&action, scope.ecr_repo(public, "*"))];
    }
    vec![Need::new(&action, "*")]
}

/// What an ECS API call needs.
pub fn ecs_needs(scope: &Scope, op: &str, req: &Value) -> Vec<Need> {
    let action = format!("ecs:{op}");
    let cluster = scope.cluster(req);
    let service_need = |name: &str| {
        Need::new(&action, scope.service(&cluster, name)).with("ecs:cluster", cluster.clone())
    };
    let mut needs = match op {
        "DescribeServices" => strings(req.get("services"))
            .iter()
            .map(|s| service_need(s))
            .collect(),
        "UpdateService" | "DeleteService" => {
            vec![service_need(str_field(req, "service").unwrap_or(""))]
        }
        "CreateService" => vec![service_need(str_field(req, "serviceName").unwrap_or(""))],
        // The Service Authorization Reference: the service for the list, the service
        // deployment for the rest.
        "ListServiceDeployments" => vec![service_need(str_field(req, "service").unwrap_or(""))],
        "DescribeServiceDeployments" => strings(req.get("serviceDeploymentArns"))
            .iter()
            .map(|a| Need::new(&action, *a))
            .collect(),
        "ContinueServiceDeployment" | "StopServiceDeployment" => vec![Need::new(
            &action,
            str_field(req, "serviceDeploymentArn").unwrap_or(""),
        )],
        "DescribeTasks" | "StopTask" => {
            let ids: Vec<&str> = match op {
                "StopTask" => str_field(req, "task").into_iter().collect(),
                _ => strings(req.get("tasks")),
            };
            ids.iter()
                .map(|t| {
                    Need::new(
                        &action,
                        format!(
                            "arn:aws:ecs:{}:{}:task/{}/{}",
                            scope.region,
                            scope.account,
                            last_segment(&cluster),
                            last_segment(t)
                        ),
                    )
                    .with("ecs:cluster", cluster.clone())
                })
                .collect()
        }
        "RunTask" => vec![Need::new(
            &action,
            scope.task_definition(str_field(req, "taskDefinition").unwrap_or("")),
        )
        .with("ecs:cluster", cluster.clone())],
        // Resource "*" in the Service Authorization Reference; ListTasks is scoped by ecs:cluster.
        "ListTasks" => vec![Need::new(&action, "*").with("ecs:cluster", cluster.clone())],
        "TagResource" | "UntagResource" | "ListTagsForResource" => vec![Need::new(
            &action,
            str_field(req, "resourceArn").unwrap_or("*"),
        )],
        _ => vec![Need::new(&action, "*")],
    };
    // Tags given to a resource-creating call are authorised again as ecs:TagResource on the new
    // resource, with ecs:CreateAction naming the call ("tag on create").
    let has_tags = req
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if has_tags {
        let created = match op {
            "RegisterTaskDefinition" => Some(format!(
                "arn:aws:ecs:{}:{}:task-definition/{}:*",
                scope.region,
                scope.account,
                str_field(req, "family").unwrap_or("")
            )),
            "CreateService" => {
                Some(scope.service(&cluster, str_field(req, "serviceName").unwrap_or("")))
            }
            "CreateCluster" => Some(format!(
                "arn:aws:ecs:{}:{}:cluster/{}",
                scope.region,
                scope.account,
                str_field(req, "clusterName").unwrap_or("default")
            )),
            "RunTask" => Some(format!(
                "arn:aws:ecs:{}:{}:task/{}/*",
                scope.region,
                scope.account,
                last_segment(&cluster)
            )),
            _ => None,
        };
        if let Some(arn) = created {
            needs.push(Need::new("ecs:TagResource", arn).with("ecs:CreateAction", op));
        }
    }
    // Registering (or overriding) task roles passes them to ECS: iam:PassRole on each.
    let overrides = req.get("overrides");
    for holder in [Some(req), overrides].into_iter().flatten() {
        if matches!(op, "RegisterTaskDefinition" | "RunTask") {
            for key in ["taskRoleArn", "executionRoleArn"] {
                if let Some(role) = str_field(holder, key).filter(|r| !r.is_empty()) {
                    needs.push(pass_role(role));
                }
            }
        }
    }
    needs
}

/// The ECR repository a registry request is about, as ECR names it (ECR Public paths start with
/// the registry alias), and the kind of request (`/blobs/`, `/manifests/`, …).
pub fn registry_repository(public: bool, path: &str) -> Option<(&str, &'static str)> {
    let rest = path.strip_prefix("/v2/")?;
    let (name, kind) = [
        "/blobs/uploads/",
        "/blobs/uploads",
        "/blobs/",
        "/manifests/",
        "/tags/",
        "/referrers/",
    ]
    .iter()
    .find_map(|k| rest.find(k).map(|i| (&rest[..i], *k)))?;
    if name.is_empty() {
        return None;
    }
    let name = if public {
        name.split_once('/').map(|(_, n)| n).unwrap_or(name)
    } else {
        name
    };
    Some((name, kind))
}

/// What a registry request needs: `(method, path)` of the OCI distribution API, with the
/// repository name as ECR sees it (ECR Public paths start with the registry alias).
pub fn registry_needs(scope: &Scope, public: bool, method: &str, path: &str) -> Vec<Need> {
    let Some((name, kind)) = registry_repository(public, path) else {
        return vec![];
    };
    let prefix = if public { "ecr-public" } else { "ecr" };
    let op = match (kind, method) {
        ("/blobs/", "HEAD") => "BatchCheckLayerAvailability",
        ("/blobs/", _) => "GetDownloadUrlForLayer",
        ("/blobs/uploads/" | "/blobs/uploads", "POST") => "InitiateLayerUpload",
        ("/blobs/uploads/" | "/blobs/uploads", "PATCH") => "UploadLayerPart",
        ("/blobs/uploads/" | "/blobs/uploads", "PUT") => "CompleteLayerUpload",
        ("/blobs/uploads/" | "/blobs/uploads", _) => "InitiateLayerUpload",
        ("/manifests/", "PUT") => "PutImage",
        ("/manifests/", "DELETE") => "BatchDeleteImage",
        ("/manifests/", _) => "BatchGetImage",
        _ => "ListImages",
    };
    if public
        && matches!(
            op,
            "GetDownloadUrlForLayer" | "BatchGetImage" | "ListImages"
        )
    {
        // Pulling from ECR Public needs no permission.
        return vec![];
    }
    vec![Need::new(
        &format!("{prefix}:{op}"),
        scope.ecr_repo(public, name),
    )]
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;

//! Unit tests of the policy evaluation.

use super::*;
use serde_json::json;

const SCOPE: Scope = Scope {
    region: "us-east-1",
    account: "123456789012",
};

fn policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:Describe*", "ecr:CreateRepository"],
         "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/web"},
        {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
         "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod"}}},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/app",
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        {"Effect": "Deny", "Action": "ecr:CreateRepository", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}
    ]})
}

#[test]
fn allow_needs_action_resource_and_conditions() {
    let p = policy();
    let ok = ecr_needs(
        &SCOPE,
        false,
        "DescribeRepositories",
        &json!({"repositoryNames": ["web"]}),
    );
    assert_eq!(first_denied(&p, &ok), None);
    let other = ecr_needs(
        &SCOPE,
        false,
        "DescribeRepositories",
        &json!({"repositoryNames": ["api"]}),
    );
    assert_eq!(
        first_denied(&p, &other).map(|d| d.1),
        Some(Decision::ImplicitDeny)
    );
    let all = ecr_needs(&SCOPE, false, "DescribeRepositories", &json!({}));
    assert!(
        first_denied(&p, &all).is_some(),
        "repository/* is not repository/web"
    );
    let prod = ecs_needs(&SCOPE, "ListTasks", &json!({"cluster": "prod"}));
    assert_eq!(first_denied(&p, &prod), None);
    let staging = ecs_needs(&SCOPE, "ListTasks", &json!({"cluster": "staging"}));
    assert!(first_denied(&p, &staging).is_some());
    let put = ecr_needs(&SCOPE, false, "PutImage", &json!({"repositoryName": "web"}));
    assert!(first_denied(&p, &put).is_some());
}

#[test]
fn explicit_deny_wins_and_missing_keys_fail_positive_conditions() {
    let mut p = policy();
    p["Statement"][3]["Condition"] =
        json!({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}});
    let create = ecr_needs(
        &SCOPE,
        false,
        "CreateRepository",
        &json!({"repositoryName": "web"}),
    );
    // The key is absent, so StringNotEquals holds and the Deny applies.
    assert_eq!(
        first_denied(&p, &create).map(|d| d.1),
        Some(Decision::ExplicitDeny)
    );
    let msg = denial(
        "arn:aws:sts::123456789012:assumed-role/ci/s",
        &create[0],
        Decision::ExplicitDeny,
    );
    assert!(msg.contains("ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:123456789012:repository/web with an explicit deny"), "{msg}");
}

#[test]
fn registering_task_roles_needs_pass_role_for_ecs_tasks() {
    let p = policy();
    let req = json!({"family": "web", "taskRoleArn": "arn:aws:iam::123456789012:role/app",
                     "executionRoleArn": "arn:aws:iam::123456789012:role/exec"});
    let needs = ecs_needs(&SCOPE, "RegisterTaskDefinition", &req);
    let (denied, _) = first_denied(&p, &needs[1..]).unwrap();
    assert_eq!(denied.resource, "arn:aws:iam::123456789012:role/exec");
    assert_eq!(first_denied(&p, &needs[1..2]), None);
}

#[test]
fn registry_requests_map_to_ecr_actions() {
    let n = |m, p| {
        registry_needs(&SCOPE, false, m, p)
            .into_iter()
            .map(|n| n.action)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        n("HEAD", "/v2/team/web/blobs/sha256:ab"),
        ["ecr:BatchCheckLayerAvailability"]
    );
    assert_eq!(
        n("POST", "/v2/team/web/blobs/uploads/"),
        ["ecr:InitiateLayerUpload"]
    );
    assert_eq!(
        n("PUT", "/v2/team/web/blobs/uploads/uuid"),
        ["ecr:CompleteLayerUpload"]
    );
    assert_eq!(n("PUT", "/v2/team/web/manifests/v1"), ["ecr:PutImage"]);
    assert_eq!(n("GET", "/v2/team/web/manifests/v1"), ["ecr:BatchGetImage"]);
    assert!(n("GET", "/v2/").is_empty());
    let public = registry_needs(&SCOPE, true, "PUT", "/v2/sandbox/web/manifests/v1");
    assert_eq!(
        public[0].resource,
        "arn:aws:ecr-public::123456789012:repository/web"
    );
    assert_eq!(public[0].action, "ecr-public:PutImage");
}

#[test]
fn unsupported_operators_are_refused() {
    let p = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                  "Condition": {"NumericLessThan": {"x": "1"}}}]});
    assert!(check_policy(&p).unwrap_err().contains("NumericLessThan"));
    assert!(check_policy(&policy()).is_ok());
}

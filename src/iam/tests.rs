//! Unit tests of the policy rendering.

use super::*;

fn scope() -> PolicyScope {
    PolicyScope {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        repos: vec!["team/web".into()],
        cluster: Some("prod".into()),
        services: vec!["web".into()],
        pass_roles: vec![
            "web-task".into(),
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole".into(),
        ],
        ..Default::default()
    }
}

fn sids(p: &serde_json::Value) -> Vec<&str> {
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect()
}

#[test]
fn private_push_and_deploy_policy_is_scoped() {
    let p = permissions_policy(&scope()).unwrap();
    assert_eq!(
        sids(&p),
        [
            "EcrLogin",
            "EcrRepository",
            "EcrPush",
            "EcsTaskDefinitions",
            "EcsTagOnCreate",
            "EcsServices",
            "EcsTasks",
            "TaskAddresses",
            "PassTaskRoles"
        ]
    );
    let st = &p["Statement"];
    assert_eq!(st[0]["Resource"], "*");
    assert_eq!(
        st[2]["Resource"],
        serde_json::json!(["arn:aws:ecr:us-east-1:123456789012:repository/team/web"])
    );
    assert_eq!(
        st[5]["Resource"],
        serde_json::json!(["arn:aws:ecs:us-east-1:123456789012:service/prod/web"])
    );
    assert_eq!(
        st[4]["Condition"]["StringEquals"]["ecs:CreateAction"],
        serde_json::json!(["RegisterTaskDefinition"])
    );
    assert_eq!(
        st[6]["Condition"]["ArnEquals"]["ecs:cluster"],
        "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
    );
    // ec2:DescribeNetworkInterfaces takes no resource: the new tasks' public IPs.
    assert_eq!(st[7]["Action"], "ec2:DescribeNetworkInterfaces");
    assert_eq!(
        st[8]["Resource"],
        serde_json::json!([
            "arn:aws:iam::123456789012:role/web-task",
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
        ])
    );
    assert_eq!(
        st[8]["Condition"]["StringEquals"]["iam:PassedToService"],
        "ecs-tasks.amazonaws.com"
    );
    // Nothing outside the named resources but the three actions AWS only grants on "*".
    let stars: Vec<&str> = st
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Resource"] == "*" && s.get("Condition").is_none())
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(stars, ["EcrLogin", "EcsTaskDefinitions", "TaskAddresses"]);
    assert!(!p.to_string().contains("SetRepositoryPolicy"));
    assert!(!p.to_string().contains("CreateService"));
}

#[test]
fn public_push_policy_needs_the_bearer_token() {
    let p = permissions_policy(&PolicyScope {
        public: true,
        cluster: None,
        services: vec![],
        pass_roles: vec![],
        ..scope()
    })
    .unwrap();
    assert_eq!(
        sids(&p),
        ["EcrPublicLogin", "EcrPublicRepository", "EcrPublicPush"]
    );
    let login = &p["Statement"][0]["Action"];
    assert_eq!(
        login,
        &serde_json::json!([
            "ecr-public:GetAuthorizationToken",
            "sts:GetServiceBearerToken"
        ])
    );
    assert_eq!(
        p["Statement"][2]["Resource"][0],
        "arn:aws:ecr-public::123456789012:repository/team/web"
    );
}

#[test]
fn the_public_bootstrap_creates_a_public_repository() {
    let t = Bootstrap {
        org_id: "o",
        project_id: "p",
        role_name: "ci",
        repo: "web",
        public: true,
        trust: serde_json::json!({"Statement": []}),
        permissions: serde_json::json!({"Statement": []}),
        lifecycle: serde_json::json!({"rules": []}),
        signing_alias: Some(signing_alias("ci+bot@team")),
    }
    .template()
    .unwrap();
    assert_eq!(
        t["Resources"]["Repository"]["Type"],
        "AWS::ECR::PublicRepository"
    );
    assert!(t["Outputs"].get("RepositoryUri").is_none());
    // The signing key: P-256 for signing, its alias from the role name, and the role may sign.
    let key = &t["Resources"]["SigningKey"]["Properties"];
    assert_eq!(
        (key["KeySpec"].as_str(), key["KeyUsage"].as_str()),
        (Some("ECC_NIST_P256"), Some("SIGN_VERIFY"))
    );
    assert_eq!(
        t["Resources"]["SigningKeyAlias"]["Properties"]["AliasName"],
        "alias/ci-bot-team-signing"
    );
    assert_eq!(
        t["Outputs"]["SigningKey"]["Value"],
        "awskms:///alias/ci-bot-team-signing"
    );
    let allowed = &t["Resources"]["SigningPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        allowed["Action"],
        serde_json::json!(["kms:Sign", "kms:GetPublicKey"])
    );
    assert_eq!(
        t["Resources"]["CiRole"]["Properties"]["AssumeRolePolicyDocument"],
        serde_json::json!({"Statement": []})
    );
}

#[test]
fn options_add_exactly_their_statements() {
    let p = permissions_policy(&PolicyScope {
        run_task_families: vec!["migrate".into()],
        create_service: true,
        repository_policy: true,
        ..scope()
    })
    .unwrap();
    assert!(sids(&p).contains(&"EcsRunTask"));
    let text = p.to_string();
    assert!(text.contains("task-definition/migrate:*"));
    assert!(text.contains("ecs:CreateService"));
    assert!(text.contains("ecr:SetRepositoryPolicy"));
}

#[test]
fn sub_patterns() {
    assert_eq!(sub_pattern("o", "p", None, None), "org/o/project/p/user/*");
    assert_eq!(
        sub_pattern("o", "p", Some("main"), Some("github.com/a/b")),
        "org/o/project/p/user/*/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main"
    );
    assert_eq!(
        sub_pattern("o", "p", Some("main"), None),
        "org/o/project/p/user/*/vcs-origin/*/vcs-ref/refs/heads/main"
    );
}

#[test]
fn renders_circleci_documented_shape() {
    let p = trust_policy("123456789012", "aws", "org-1", "proj-1", None, None).unwrap();
    let s = &p["Statement"][0];
    assert_eq!(
        s["Principal"]["Federated"],
        "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/org-1"
    );
    assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        s["Condition"]["StringEquals"]["oidc.circleci.com/org/org-1:aud"],
        "org-1"
    );
    assert_eq!(
        s["Condition"]["StringLike"]["oidc.circleci.com/org/org-1:sub"],
        "org/org-1/project/proj-1/user/*"
    );
}

#[test]
fn signing_and_verifying_keys_get_only_their_own_action_on_their_own_key() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let p = permissions_policy(&PolicyScope {
        signing_keys: vec![key.into()],
        verify_keys: vec![key.into()],
        ..scope()
    })
    .unwrap();
    let statement = |sid: &str| {
        p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("no {sid} in {p}"))
    };
    assert_eq!(statement("SignImages")["Action"], "kms:Sign");
    assert_eq!(
        statement("SignImages")["Resource"],
        serde_json::json!([key])
    );
    assert_eq!(
        statement("VerifyImageSignatures")["Action"],
        "kms:GetPublicKey"
    );
    assert!(is_key_arn(key));
    assert!(!is_key_arn("alias/ci-signing"));
    assert!(!is_key_arn("arn:aws:kms:us-east-1:123456789012:alias/ci"));
    assert!(!is_key_arn("arn:aws:kms:us-east-1:123456789012:key/*"));
}

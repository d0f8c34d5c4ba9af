//! Bad input: exit code 2, one line naming the input and the fix, no panic, nothing created.

use crate::harness::*;

/// What the case is, the arguments, extra environment, and the input the error must name.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

fn assert_nothing_created(moto: &Moto) {
    let repos =
        moto.boto3("print(json.dumps(ecr.describe_repositories()['repositories'], default=str))");
    assert_eq!(
        repos,
        serde_json::json!([]),
        "a failed command created a repository"
    );
}

#[test]
fn bad_input_exits_2_with_one_line_and_creates_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let not_json = write("not.json", "{\"rules\": [");
    let bad_rule = write(
        "bad-rule.json",
        r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0},"action":{"type":"expire"}}]}"#,
    );
    let bad_policy = write(
        "bad-policy.json",
        r#"{"Statement":[{"Effect":"Perhaps","Action":"ecr:*"}]}"#,
    );
    let missing = dir.path().join("missing.json").display().to_string();
    let good_token = circleci_token("proj-1", 3600, "sig");
    let expired_token = circleci_token("proj-1", -120, "sig");

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("missing region", vec!["ecr", "ensure-repo", "--repo", "app"], vec![("AWS_DEFAULT_REGION", "")], "AWS_DEFAULT_REGION"),
        ("malformed region", vec!["ecr", "ensure-repo", "--repo", "app"], vec![("AWS_DEFAULT_REGION", "Ireland")], "AWS_DEFAULT_REGION"),
        ("malformed account", vec!["ecr", "uri", "--repo", "app"], vec![("AWS_ACCOUNT_ID", "12-34")], "AWS_ACCOUNT_ID"),
        ("invalid repository name", vec!["ecr", "ensure-repo", "--repo", "Team/App"], vec![], "--repo"),
        ("invalid repository name via variable", vec!["ecr", "ensure-repo"], vec![("STEVEDORE_REPO", "app//x")], "STEVEDORE_REPO"),
        ("invalid tag", vec!["ecr", "uri", "--repo", "app", "--tag", "v1:2"], vec![], "--tag"),
        ("unreadable lifecycle policy", vec!["ecr", "ensure-repo", "--repo", "app", "--lifecycle-policy", &missing], vec![], "--lifecycle-policy"),
        ("lifecycle policy not JSON", vec!["ecr", "ensure-repo", "--repo", "app", "--lifecycle-policy", &not_json], vec![], "--lifecycle-policy"),
        ("lifecycle rule invalid", vec!["ecr", "ensure-repo", "--repo", "app", "--lifecycle-policy", &bad_rule], vec![], "--lifecycle-policy"),
        ("repository policy invalid", vec!["ecr", "ensure-repo", "--repo", "app", "--repository-policy", &bad_policy], vec![], "--repository-policy"),
        ("lifecycle on ECR Public", vec!["ecr", "ensure-repo", "--repo", "app", "--public", "--keep-last", "5"], vec![], "lifecycle"),
        ("exclusions without the mode", vec!["ecr", "ensure-repo", "--repo", "app", "--mutability-exclusion", "latest"], vec![], "--mutability-exclusion"),
        ("invalid boolean", vec!["ecr", "ensure-repo", "--repo", "app"], vec![("STEVEDORE_PUBLIC", "maybe")], "--public"),
        ("malformed role ARN", vec!["auth"], vec![("AWS_ROLE_ARN", "deployer"), ("CIRCLE_OIDC_TOKEN_V2", &good_token)], "AWS_ROLE_ARN"),
        ("malformed role ARN flag", vec!["auth", "--role-arn", "arn:aws:iam::123:role/x"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token)], "--role-arn"),
        ("role name without account", vec!["auth", "--role-name", "ci"], vec![("AWS_ACCOUNT_ID", ""), ("CIRCLE_OIDC_TOKEN_V2", &good_token)], "AWS_ACCOUNT_ID"),
        ("empty token", vec!["auth", "--role-name", "ci"], vec![("CIRCLE_OIDC_TOKEN_V2", ""), ("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")], "CIRCLE_OIDC_TOKEN_V2"),
        ("expired token", vec!["auth", "--role-name", "ci"], vec![("CIRCLE_OIDC_TOKEN_V2", &expired_token)], "CIRCLE_OIDC_TOKEN_V2"),
        ("malformed token", vec!["auth", "--role-name", "ci"], vec![("CIRCLE_OIDC_TOKEN", "not-a-jwt")], "CIRCLE_OIDC_TOKEN"),
        ("token without role or keys", vec!["auth"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token), ("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")], "AWS_ROLE_ARN"),
        ("unknown credentials", vec!["auth", "--role-name", "ci"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token), ("STEVEDORE_CREDENTIALS", "token")], "--credentials"),
        ("keys asked for, absent", vec!["auth", "--credentials", "keys"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token), ("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")], "--credentials"),
        ("keys asked for, half", vec!["auth", "--credentials", "keys", "--role-name", "ci"], vec![("AWS_SECRET_ACCESS_KEY", "")], "AWS_SECRET_ACCESS_KEY"),
        ("oidc asked for, no token", vec!["auth", "--credentials", "oidc", "--role-name", "ci"], vec![], "CIRCLE_OIDC_TOKEN_V2"),
        ("bad duration", vec!["auth", "--role-name", "ci", "--duration", "5m"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token)], "--duration"),
        ("nowhere to export", vec!["auth", "--role-name", "ci"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token), ("BASH_ENV", "")], "BASH_ENV"),
        ("bad organization id", vec!["iam", "trust", "--org-id", "not an id", "--project-id", "p1"], vec![], "--org-id"),
        ("trust policy without account", vec!["iam", "trust", "--org-id", "o1", "--project-id", "p1"], vec![("AWS_ACCOUNT_ID", "")], "AWS_ACCOUNT_ID"),
        ("timeout without a unit", vec!["deploy", "--cluster", "c1", "--service", "web", "--timeout", "5"], vec![], "--timeout"),
        ("poll interval without a unit", vec!["deploy", "--cluster", "c1", "--service", "web"], vec![("STEVEDORE_POLL_INTERVAL", "2")], "STEVEDORE_POLL_INTERVAL"),
        ("bad session name", vec!["auth", "--role-name", "ci", "--session-name", "a b"], vec![("CIRCLE_OIDC_TOKEN_V2", &good_token)], "--session-name"),
    ];
    for (what, args, env, input) in cases {
        let mut run = stevedore(&args).aws(&moto.url);
        let home = run.home();
        let bash_env = home.path().join("bash_env");
        run = run.env("BASH_ENV", bash_env.display().to_string());
        for (k, v) in env {
            run = run.env(k, v);
        }
        let out = run.run();
        assert_eq!(
            out.code,
            2,
            "{what}: expected exit 2, got {}\n{}",
            out.code,
            out.all()
        );
        let line = out.stderr.trim_end();
        assert_eq!(
            line.lines().count(),
            1,
            "{what}: expected one line:\n{line}"
        );
        assert!(
            line.contains(input),
            "{what}: the error should name {input}: {line}"
        );
        assert!(!out.all().contains("panicked"), "{what}: {}", out.all());
        assert!(!bash_env.exists(), "{what}: credentials were exported");
    }
    assert_nothing_created(&moto);
}

#[test]
fn a_duration_without_a_unit_names_both_readings() {
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--timeout",
        "5",
    ])
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("'5' needs a unit: say 5s or 5m"),
        "{}",
        out.stderr
    );
    // STS's own unit stays: a bare session duration is seconds, as DurationSeconds is.
    let out = stevedore(&["auth", "--role-name", "ci", "--duration", "600"]).run();
    assert!(out.stderr.contains("outside 15m to 12h"), "{}", out.stderr);
}

#[test]
fn an_unreachable_endpoint_fails_with_exit_1_and_says_where() {
    let port = free_port();
    let out = stevedore(&["ecr", "ensure-repo", "--repo", "app"])
        .aws(&format!("http://127.0.0.1:{port}"))
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("DescribeRepositories app"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.to_lowercase().contains("connect") || out.stderr.contains("refused"),
        "{}",
        out.stderr
    );
}

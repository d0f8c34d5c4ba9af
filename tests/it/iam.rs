//! `stevedore iam policy` proven against the sandbox, which evaluates a role's permissions
//! policy on every API and registry call: the whole CI flow succeeds under the rendered policy
//! and fails with AccessDenied when any one of its statements is removed.

use crate::harness::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the flow's role needs beyond the repository and the service.
const POLICY_EXTRA: &[&str] = &[
    "--task-role",
    "app-task",
    "--execution-role",
    "arn:aws:iam::123456789012:role/exec",
    "--run-task-family",
    "migrate",
];

fn rendered_policy(sb: &SandboxProc) -> Value {
    app_policy(sb, POLICY_EXTRA)
}

/// A cluster `c1` with service `web` (task role + execution role) and a `migrate` family.
fn setup(sb: &SandboxProc) {
    let base = sb.push_image("base", "v1", &[]);
    let migrate = sb.push_image(
        "base",
        "migrate",
        &[
            ("stevedore.sandbox.exit-code", "0"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', taskRoleArn='arn:aws:iam::123456789012:role/app-task',\n\
           executionRoleArn='arn:aws:iam::123456789012:role/exec', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512',\n\
           containerDefinitions=[{{'name': 'app', 'image': {base:?}, 'portMappings': [{{'containerPort': 8080}}]}}],\n\
           tags=[{{'key': 'team', 'value': 'web'}}])\n\
         ecs.register_task_definition(family='migrate', containerDefinitions=[{{'name': 'm', 'image': {migrate:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1, launchType='FARGATE',\n\
           networkConfiguration={{'awsvpcConfiguration': {{'subnets': ['subnet-1'], 'assignPublicIp': 'ENABLED'}}}})\n\
         print(1)"
    ));
}

/// The role `ci` with the default CircleCI trust and this permissions policy.
fn role(sb: &SandboxProc, policy: &Value) {
    sb.put_role("ci", None, Some(policy));
}

/// `stevedore auth` into role `ci` with a token of project p1, exporting to `bash_env`.
pub(crate) fn assume_ci(sb: &SandboxProc, bash_env: &std::path::Path) -> Output {
    stevedore(&["auth", "--role-name", "ci"])
        .sandbox(sb, false)
        .env(
            "CIRCLE_OIDC_TOKEN_V2",
            sb.token(&["--org", "org-sandbox", "--project", "p1"]),
        )
        .env("BASH_ENV", bash_env.to_str().unwrap())
        .run()
}

/// The CI job as the role: auth, ensure-repo, push, a migration, deploy. The first failing
/// step's output, or `Ok` with the steps' outputs.
fn flow(sb: &SandboxProc, layout: &std::path::Path) -> Result<String, String> {
    let home = tempfile::tempdir().unwrap();
    let bash_env = home.path().join("bash_env");
    let out = assume_ci(sb, &bash_env);
    if out.code != 0 {
        return Err(format!("auth: {}", out.all()));
    }
    let creds: BTreeMap<String, String> = read_exports(&bash_env);
    let as_role = |args: &[&str]| {
        let mut run = stevedore(args).sandbox(sb, false);
        for (k, v) in &creds {
            run = run.env(k, v);
        }
        run.env("DOCKER_CONFIG", home.path().to_str().unwrap())
            .env("BASH_ENV", "/dev/null")
            .run()
    };
    let uri = format!("{}/app", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    let container = format!("app={uri}:v1");
    let steps: [(&str, Vec<&str>); 4] = [
        (
            "ensure-repo",
            vec!["ecr", "ensure-repo", "--repo", "app", "--keep-last", "5"],
        ),
        (
            "push",
            vec![
                "push",
                "--oci-layout",
                layout.to_str().unwrap(),
                "--repo",
                "app",
                "--tag",
                "v1",
            ],
        ),
        (
            "run-task",
            vec![
                "run-task",
                "--cluster",
                "c1",
                "--task-definition",
                "migrate",
                "--poll-interval",
                "200ms",
            ],
        ),
        (
            "deploy",
            vec![
                "deploy",
                "--cluster",
                "c1",
                "--service",
                "web",
                "--container",
                &container,
                "--poll-interval",
                "200ms",
                "--timeout",
                "60s",
                // Asked of each new task's public IP, which needs TaskAddresses.
                "--check-url",
                "/",
                "--check-timeout",
                "3s",
            ],
        ),
    ];
    let mut log = String::new();
    for (name, args) in steps {
        let out = as_role(&args);
        if out.code != 0 {
            return Err(format!("{name}: {}", out.all()));
        }
        log.push_str(&out.all());
    }
    Ok(log)
}

#[test]
fn the_flow_succeeds_under_the_rendered_policy_and_needs_every_statement() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let oci = sb.oci_layout(work.path());
    let policy = rendered_policy(&sb);
    let statements = policy["Statement"].as_array().unwrap().clone();
    assert_eq!(statements.len(), 10, "{policy:#}");

    setup(&sb);
    role(&sb, &policy);
    let log = flow(&sb, &oci).unwrap_or_else(|e| panic!("under the rendered policy: {e}"));
    assert!(
        log.contains("COMPLETED") || log.contains("deployed"),
        "{log}"
    );
    assert!(log.contains(": answered 200 in "), "{log}");
    let td = sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['web'])['services'][0]['taskDefinition']))");
    assert!(td.as_str().unwrap().ends_with("web:2"), "{td}");
    // The new revision kept web:1's tags, which is why the role needs EcsTagOnCreate.
    let tags = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='web:2', include=['TAGS'])['tags']))");
    assert_eq!(tags, serde_json::json!([{"key": "team", "value": "web"}]));

    for (i, removed) in statements.iter().enumerate() {
        let sid = removed["Sid"].as_str().unwrap();
        let mut cut = policy.clone();
        cut["Statement"].as_array_mut().unwrap().remove(i);
        sb.control("POST", "/_sandbox/reset", "");
        setup(&sb);
        role(&sb, &cut);
        let err = match flow(&sb, &oci) {
            Ok(log) => panic!("without {sid} the flow still succeeded: {log}"),
            Err(e) => e,
        };
        let actions: Vec<String> = match &removed["Action"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            _ => unreachable!(),
        };
        eprintln!("without {sid}: {}", err.lines().last().unwrap_or_default());
        // AWS's own words, or, for a HEAD request (403 without a body), stevedore's reading of it.
        assert!(
            actions.iter().any(
                |a| err.contains(&format!("not authorized to perform: {a} "))
                    || err.contains(&format!(
                        "403 Forbidden: the registry refused; the role needs {a} "
                    ))
            ),
            "without {sid}, the failure should name one of {actions:?}: {err}"
        );
    }
}

#[test]
fn iam_policy_refuses_what_it_cannot_scope() {
    for (args, named) in [
        (vec!["iam", "policy"], "--repo"),
        (vec!["iam", "policy", "--service", "web"], "--cluster"),
        (vec!["iam", "policy", "--repo", "Bad Name"], "--repo"),
        (
            vec!["iam", "policy", "--cluster", "c", "--service", "we b"],
            "--service",
        ),
        (
            vec!["iam", "policy", "--repo", "app", "--task-role", "r"],
            "--task-role",
        ),
        (
            vec!["iam", "policy", "--repo", "app", "--schedule-role", "r"],
            "--schedule-role",
        ),
        (vec!["iam", "policy", "--rule", "a*"], "--rule"),
    ] {
        let out = stevedore(&args)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCOUNT_ID", "123456789012")
            .run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    let out = stevedore(&["iam", "policy", "--repo", "app"])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .without("AWS_ACCOUNT_ID")
        .run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("AWS_ACCOUNT_ID"), "{}", out.stderr);
}

/// `stevedore bootstrap`'s template: cfn-lint (AWS's CloudFormation linter) finds nothing, and
/// moto's CloudFormation creates the role with exactly the `iam trust` and `iam policy` documents
/// and the repository with the lifecycle policy.
#[test]
fn the_bootstrap_template_lints_clean_and_creates_the_role_and_repository() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("stevedore.json");
    let common = ["--org-id", "org-1", "--project-id", "proj-1"];
    let scope = [
        "--repo",
        "app",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--task-role",
        "app-task",
    ];
    let env = |run: Run| {
        run.env("AWS_ACCOUNT_ID", "123456789012")
            .env("AWS_DEFAULT_REGION", "us-east-1")
    };
    let mut args = vec!["bootstrap", "--output", file.to_str().unwrap()];
    args.extend(common);
    args.extend(scope);
    let out = env(stevedore(&args)).run().success();
    assert!(
        out.stderr.contains("aws cloudformation deploy"),
        "{}",
        out.stderr
    );
    let lint = std::process::Command::new(venv().join("bin/cfn-lint"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint: {}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let rendered = |cmd: &[&str]| -> Value {
        serde_json::from_str(&env(stevedore(cmd)).run().success().stdout).unwrap()
    };
    let mut trust_cmd = vec!["iam", "trust"];
    trust_cmd.extend(common);
    let mut policy_cmd = vec!["iam", "policy"];
    policy_cmd.extend(scope);
    let (trust, policy) = (rendered(&trust_cmd), rendered(&policy_cmd));

    let moto = Moto::start();
    let got = moto.boto3(&format!(
        "cf=boto3.client('cloudformation', **kw)\niam=boto3.client('iam', **kw)\n\
         cf.create_stack(StackName='stevedore-ci', TemplateBody=open({file:?}).read(), Capabilities=['CAPABILITY_NAMED_IAM'])\n\
         s=cf.describe_stacks(StackName='stevedore-ci')['Stacks'][0]\n\
         doc=iam.get_role_policy(RoleName='stevedore-ci', PolicyName='stevedore-push-and-deploy')['PolicyDocument']\n\
         import ast\n\
         # moto keeps a CloudFormation-made inline policy as Python's repr of the document.\n\
         doc=ast.literal_eval(doc) if isinstance(doc, str) else doc\n\
         print(json.dumps({{'status': s['StackStatus'], 'outputs': {{o['OutputKey']: o['OutputValue'] for o in s['Outputs']}},\n\
           'trust': iam.get_role(RoleName='stevedore-ci')['Role']['AssumeRolePolicyDocument'], 'policy': doc}}))",
        file = file.to_str().unwrap()
    ));
    assert_eq!(got["status"], "CREATE_COMPLETE", "{got:#}");
    assert_eq!(
        got["outputs"]["RoleArn"],
        "arn:aws:iam::123456789012:role/stevedore-ci"
    );
    assert_eq!(got["trust"], trust);
    assert_eq!(got["policy"], policy);
    // moto's CloudFormation ignores LifecyclePolicy (and AWS::IAM::OIDCProvider): read the
    // lifecycle text from the template, where ECR will read it.
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let text = template["Resources"]["Repository"]["Properties"]["LifecyclePolicy"]
        ["LifecyclePolicyText"]
        .as_str()
        .unwrap();
    let lifecycle: Value = serde_json::from_str(text).unwrap();
    let rules = lifecycle["rules"].as_array().unwrap();
    assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
    assert_eq!(rules[1]["selection"]["countNumber"], 30);
    assert_eq!(
        template["Resources"]["Repository"]["Properties"]["ImageScanningConfiguration"]
            ["ScanOnPush"],
        true
    );

    // Bad input is one line and writes nothing.
    let mut two = vec!["bootstrap", "--output", file.to_str().unwrap()];
    two.extend(common);
    two.extend(["--repo", "a,b"]);
    std::fs::remove_file(&file).unwrap();
    let out = env(stevedore(&two)).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("--repo: bootstrap creates one repository"),
        "{}",
        out.stderr
    );
    assert!(!file.exists());
}

/// A role that may deploy but not read tasks still learns the outcome, and is told once why the
/// stopped tasks' reasons are missing.
#[test]
fn a_deploy_without_task_read_permissions_says_once_why_reasons_are_missing() {
    let sb = SandboxProc::start();
    setup(&sb);
    sb.boto3("ecs.update_service(cluster='c1', service='web', deploymentConfiguration={'deploymentCircuitBreaker': {'enable': True, 'rollback': True}})\nprint(1)");
    let crash = sb.push_image(
        "app",
        "crash",
        &[
            ("stevedore.sandbox.exit-code", "3"),
            ("stevedore.sandbox.exit-after", "1"),
        ],
    );
    let mut policy = rendered_policy(&sb);
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "EcsTasks");
    role(&sb, &policy);
    let home = tempfile::tempdir().unwrap();
    let bash_env = home.path().join("bash_env");
    assume_ci(&sb, &bash_env).success();
    let mut run = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--container",
        &format!("app={crash}"),
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, false);
    for (k, v) in read_exports(&bash_env) {
        run = run.env(&k, v);
    }
    let out = run.run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(
        out.stdout
            .matches("cannot read the stopped tasks' reasons")
            .count(),
        1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("AccessDeniedException"),
        "{}",
        out.stdout
    );
}

/// Blue/green with a pause hook after the test traffic shift.
const HOOKED: &str = "'strategy': 'BLUE_GREEN', 'lifecycleHooks': [{'targetType': 'PAUSE', 'lifecycleStages': ['POST_TEST_TRAFFIC_SHIFT']}]";

/// A blue/green deploy with `--verify` at its pause hook, as role `ci` under `policy`.
fn native_flow(sb: &SandboxProc, policy: &Value) -> Output {
    deploy_as_ci(sb, policy, &["--verify", "true"])
}

/// `deploy` of web:2 to service web in c1 through the CI role under `policy`, with `extra`.
fn deploy_as_ci(sb: &SandboxProc, policy: &Value, extra: &[&str]) -> Output {
    role(sb, policy);
    let home = tempfile::tempdir().unwrap();
    let bash_env = home.path().join("bash_env");
    assume_ci(sb, &bash_env).success();
    let mut args = vec![
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--task-definition",
        "web:2",
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    let mut run = stevedore(&args)
        .sandbox(sb, false)
        .env("BASH_ENV", "/dev/null");
    for (k, v) in read_exports(&bash_env) {
        run = run.env(&k, v);
    }
    run.run()
}

#[test]
fn service_deployments_need_their_statement_and_each_action_in_it() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    crate::strategies::setup(&sb, &v1, HOOKED, Some(&v2));
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--cluster",
            "c1",
            "--service",
            "web",
            "--service-deployments",
        ],
    );
    let statements = policy["Statement"].as_array().unwrap();
    let i = statements
        .iter()
        .position(|s| s["Sid"] == "EcsServiceDeployments")
        .expect("the statement");
    let resources = statements[i]["Resource"].as_array().unwrap();
    assert!(
        resources.contains(&serde_json::json!(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/c1/web/*"
        )),
        "{resources:?}"
    );
    let out = native_flow(&sb, &policy);
    assert_eq!(out.code, 0, "under the rendered policy: {}", out.all());
    assert!(
        out.stdout.contains("answered the pause hook CONTINUE"),
        "{}",
        out.stdout
    );
    // Without the flag, no such statement: rolling services do not need it.
    let rolling = rendered(
        &sb,
        &["iam", "policy", "--cluster", "c1", "--service", "web"],
    );
    assert!(!rolling.to_string().contains("ServiceDeployment"));
    // Each action the flow uses, taken away, fails it with that action named.
    for action in [
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:ContinueServiceDeployment",
    ] {
        let mut cut = policy.clone();
        let acts = cut["Statement"][i]["Action"].as_array_mut().unwrap();
        acts.retain(|a| a != action);
        sb.control("POST", "/_sandbox/reset", "");
        let v1 = sb.push_image("app", "v1", &[]);
        let v2 = sb.push_image("app", "v2", &[]);
        crate::strategies::setup(&sb, &v1, HOOKED, Some(&v2));
        let out = native_flow(&sb, &cut);
        assert_ne!(out.code, 0, "without {action}: {}", out.all());
        assert!(
            out.all()
                .contains(&format!("not authorized to perform: {action} ")),
            "without {action}: {}",
            out.all()
        );
    }
}

/// `deploy` of web:2 to the CODE_DEPLOY service under `policy`, through the CI role.
fn codedeploy_flow(sb: &SandboxProc, policy: &Value) -> Output {
    deploy_as_ci(sb, policy, &["--rollback"])
}

/// The CODE_DEPLOY service of the CodeDeploy tests, with web:2 registered to promote.
fn codedeploy_service(sb: &SandboxProc) {
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    crate::codedeploy::setup(sb, &v1, crate::codedeploy::ALL_AT_ONCE, 0, "True");
    sb.boto3(&format!("ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v2:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\nprint(json.dumps(True))"));
}

#[test]
fn codedeploy_needs_its_statements_and_each_action_in_them() {
    let sb = SandboxProc::start();
    codedeploy_service(&sb);
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--cluster",
            "c1",
            "--service",
            "web",
            "--codedeploy",
        ],
    );
    let statements = policy["Statement"].as_array().unwrap();
    let sid = |name: &str| {
        statements
            .iter()
            .position(|s| s["Sid"] == name)
            .unwrap_or_else(|| panic!("{name} in {policy}"))
    };
    assert_eq!(
        statements[sid("CodeDeployDeployments")]["Resource"],
        serde_json::json!([
            "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:AppECS-c1-web/DgpECS-c1-web"
        ])
    );
    assert_eq!(
        statements[sid("CodeDeployRevisions")]["Resource"],
        serde_json::json!(["arn:aws:codedeploy:us-east-1:123456789012:application:AppECS-c1-web"])
    );
    let out = codedeploy_flow(&sb, &policy);
    assert_eq!(out.code, 0, "under the rendered policy: {}", out.all());
    assert!(
        out.stdout.contains("AfterAllowTraffic succeeded"),
        "{}",
        out.stdout
    );
    // Without the flag, no CodeDeploy statement at all.
    let plain = rendered(
        &sb,
        &["iam", "policy", "--cluster", "c1", "--service", "web"],
    );
    assert!(!plain.to_string().contains("codedeploy"), "{plain}");
    // Each action the flow uses, taken away, fails it with that action named; StopDeployment
    // is used by --rollback when a deployment has no verdict in time, which this flow is not.
    for (statement, action) in [
        ("CodeDeployDeployments", "codedeploy:GetDeploymentGroup"),
        ("CodeDeployDeployments", "codedeploy:CreateDeployment"),
        ("CodeDeployDeployments", "codedeploy:GetDeployment"),
        ("CodeDeployDeployments", "codedeploy:ListDeploymentTargets"),
        (
            "CodeDeployDeployments",
            "codedeploy:BatchGetDeploymentTargets",
        ),
        (
            "CodeDeployRevisions",
            "codedeploy:RegisterApplicationRevision",
        ),
        ("CodeDeployConfigs", "codedeploy:GetDeploymentConfig"),
    ] {
        let mut cut = policy.clone();
        let i = sid(statement);
        match cut["Statement"][i]["Action"].as_array_mut() {
            Some(acts) => acts.retain(|a| a != action),
            None => cut["Statement"][i]["Action"] = serde_json::json!([]),
        }
        sb.control("POST", "/_sandbox/reset", "");
        codedeploy_service(&sb);
        let out = codedeploy_flow(&sb, &cut);
        assert_ne!(out.code, 0, "without {action}: {}", out.all());
        assert!(
            out.all()
                .contains(&format!("not authorized to perform: {action} ")),
            "without {action}: {}",
            out.all()
        );
    }
}

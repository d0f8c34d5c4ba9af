//! `stevedore doctor` against the sandbox: a healthy set-up passes every check, and each broken
//! set-up fails at the right check with the right fix.

use crate::harness::*;
use serde_json::Value;

/// Cluster `c1` with service `web` (task and execution roles) and repository `app`; role `ci`
/// trusting project `p1` of org-sandbox with `policy` (rendered by `stevedore iam policy`).
pub(crate) fn setup(sb: &SandboxProc) -> Value {
    let base = sb.push_image("base", "v1", &[]);
    sb.boto3(&format!(
        "ecr.create_repository(repositoryName='app')\n\
         ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', taskRoleArn='arn:aws:iam::123456789012:role/app-task',\n\
           executionRoleArn='arn:aws:iam::123456789012:role/exec', containerDefinitions=[{{'name': 'app', 'image': {base:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\n\
         print(1)"
    ));
    let policy = app_policy(sb, &["--task-role", "app-task", "--execution-role", "exec"]);
    set_role(sb, "p1", &policy);
    policy
}

pub(crate) fn set_role(sb: &SandboxProc, project: &str, policy: &Value) {
    let trust = rendered(
        sb,
        &[
            "iam",
            "trust",
            "--org-id",
            "org-sandbox",
            "--project-id",
            project,
        ],
    );
    sb.put_role("ci", Some(&trust), Some(policy));
}

pub(crate) fn doctor(sb: &SandboxProc, token: &str) -> Run {
    doctor_as(sb, token, &["--role-name", "ci"])
}

fn doctor_as(sb: &SandboxProc, token: &str, role: &[&str]) -> Run {
    let mut args = vec!["doctor"];
    args.extend_from_slice(role);
    args.extend_from_slice(&["--repo", "app", "--cluster", "c1", "--service", "web"]);
    stevedore(&args)
        .sandbox(sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", token)
}

/// The FAIL line and its fix, after asserting the run stopped there with exit 1.
fn failed_at(out: &Output, check: &str) -> (String, String) {
    assert_eq!(out.code, 1, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL line: {}", out.all()));
    assert!(
        lines[i].starts_with(&format!("FAIL  {check}: ")),
        "expected the {check} check to fail: {}",
        out.stdout
    );
    // Checks before the failure passed (a warning, such as a container without logs, fails
    // nothing).
    assert!(
        lines[..i]
            .iter()
            .all(|l| l.starts_with("ok    ") || l.starts_with("warn  ")),
        "{}",
        out.stdout
    );
    assert_eq!(
        lines.len(),
        i + 2,
        "doctor stops at the first failure: {}",
        out.stdout
    );
    let fix = lines[i + 1].trim_start();
    assert!(fix.starts_with("fix: "), "{}", out.stdout);
    (lines[i].to_string(), fix.to_string())
}

#[test]
fn a_healthy_set_up_passes_every_check_and_changes_nothing() {
    let sb = SandboxProc::start();
    setup(&sb);
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);
    let before = sb.boto3("print(json.dumps([ecs.list_task_definitions()['taskDefinitionArns'], ecs.describe_services(cluster='c1', services=['web'])['services'][0]['deployments'][0]['id'], ecr.list_images(repositoryName='app')['imageIds']]))");
    let out = doctor(&sb, &token).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let checks: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok    "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "oidc token",
            "role",
            "variables",
            "repository",
            "service",
            "task roles",
            "permissions"
        ],
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ecs:UpdateService"), "{}", out.stdout);
    // The service's task definition logs nowhere: said as a warning, which fails nothing.
    assert!(
        out.stdout
            .contains("warn  logs: no logs to show for app: give the container a logConfiguration"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    let after = sb.boto3("print(json.dumps([ecs.list_task_definitions()['taskDefinitionArns'], ecs.describe_services(cluster='c1', services=['web'])['services'][0]['deployments'][0]['id'], ecr.list_images(repositoryName='app')['imageIds']]))");
    assert_eq!(before, after, "the probes changed something");
}

#[test]
fn each_broken_set_up_gets_its_own_fix() {
    let sb = SandboxProc::start();
    let policy = setup(&sb);
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);

    // Wrong audience: a token minted for something else than the organization id.
    let wrong_aud = sb.token(&[
        "--org",
        "org-sandbox",
        "--project",
        "p1",
        "--aud",
        "sts.amazonaws.com",
    ]);
    let (line, fix) = failed_at(&doctor(&sb, &wrong_aud).run(), "role");
    assert!(
        line.contains("audience is 'sts.amazonaws.com', not the organization id 'org-sandbox'"),
        "{line}"
    );
    assert!(fix.contains("unset STEVEDORE_OIDC_AUDIENCE"), "{fix}");

    // Wrong sub: the role trusts another project.
    set_role(&sb, "p2", &policy);
    let (line, fix) = failed_at(&doctor(&sb, &token).run(), "role");
    assert!(
        line.contains("does not admit sub 'org/org-sandbox/project/p1/user/"),
        "{line}"
    );
    assert!(
        fix.contains("`stevedore iam trust --org-id org-sandbox --project-id p1`"),
        "{fix}"
    );
    set_role(&sb, "p1", &policy);

    // Region mismatch.
    let (line, fix) = failed_at(
        &doctor(&sb, &token).env("AWS_REGION", "us-west-2").run(),
        "variables",
    );
    assert!(
        line.contains("AWS_REGION=us-west-2 and AWS_DEFAULT_REGION=us-east-1 disagree"),
        "{line}"
    );
    assert!(fix.contains("unset AWS_REGION"), "{fix}");

    // Missing variable.
    let (line, fix) = failed_at(
        &doctor(&sb, &token)
            .without("AWS_DEFAULT_REGION")
            .without("AWS_REGION")
            .run(),
        "variables",
    );
    assert!(line.contains("AWS_DEFAULT_REGION is not set"), "{line}");
    assert!(fix.starts_with("fix: set AWS_DEFAULT_REGION"), "{fix}");

    // ECR Public without its alias.
    let (line, _) = failed_at(
        &doctor(&sb, &token)
            .env("STEVEDORE_PUBLIC", "true")
            .without("AWS_ECR_PUBLIC_REGISTRY_ALIAS")
            .run(),
        "variables",
    );
    assert!(
        line.contains("AWS_ECR_PUBLIC_REGISTRY_ALIAS is not set"),
        "{line}"
    );

    // Account mismatch.
    let (_, fix) = failed_at(
        &doctor_as(
            &sb,
            &token,
            &["--role-arn", "arn:aws:iam::123456789012:role/ci"],
        )
        .env("AWS_ACCOUNT_ID", "999999999999")
        .run(),
        "variables",
    );
    assert!(fix.contains("AWS_ACCOUNT_ID=123456789012"), "{fix}");

    // Missing repository: the role may describe it (its policy names it), it does not exist.
    sb.boto3("ecr.delete_repository(repositoryName='app', force=True)\nprint(1)");
    let (line, fix) = failed_at(&doctor(&sb, &token).run(), "repository");
    assert!(line.contains("repository app does not exist"), "{line}");
    assert!(
        fix.contains("`stevedore ecr ensure-repo --repo app`"),
        "{fix}"
    );
    // ... which is fine when the job creates it.
    let out = doctor(&sb, &token)
        .env("STEVEDORE_CREATE_REPO", "true")
        .run();
    assert!(
        out.stdout
            .contains("ok    repository: app does not exist yet; it will be created"),
        "{}",
        out.stdout
    );
    sb.boto3("ecr.create_repository(repositoryName='app')\nprint(1)");

    // Missing service.
    sb.boto3("ecs.delete_service(cluster='c1', service='web', force=True)\nprint(1)");
    let (line, fix) = failed_at(&doctor(&sb, &token).run(), "service");
    assert!(line.contains("service web does not exist"), "{line}");
    assert!(fix.contains("--create-service"), "{fix}");
    sb.boto3("ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\nprint(1)");

    // A policy without iam:PassRole for the task roles.
    let without = |sid: &str| {
        let mut p = policy.clone();
        p["Statement"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["Sid"] != sid);
        p
    };
    set_role(&sb, "p1", &without("PassTaskRoles"));
    let (line, fix) = failed_at(&doctor(&sb, &token).run(), "task roles");
    assert!(line.contains("iam:PassRole"), "{line}");
    assert!(
        fix.contains("allow iam:PassRole on arn:aws:iam::123456789012:role/"),
        "{fix}"
    );
    assert!(
        fix.contains("iam:PassedToService = ecs-tasks.amazonaws.com"),
        "{fix}"
    );

    // A policy without the tasks statement: the permission probes find it.
    set_role(&sb, "p1", &without("EcsTasks"));
    let (_, fix) = failed_at(&doctor(&sb, &token).run(), "permissions");
    assert!(fix.contains("allow ecs:ListTasks on *"), "{fix}");
    assert!(
        fix.contains("`stevedore iam policy --repo app --cluster c1 --service web`"),
        "{fix}"
    );
}

#[test]
fn a_blue_green_service_is_named_and_its_service_deployment_calls_checked() {
    let sb = SandboxProc::start();
    setup(&sb);
    sb.boto3("lb = [{'targetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1', 'containerName': 'app', 'containerPort': 8080,\n\
        'advancedConfiguration': {'alternateTargetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2', 'productionListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3', 'roleArn': 'arn:aws:iam::123456789012:role/lb'}}]\n\
        ecs.register_task_definition(family='web', taskRoleArn='arn:aws:iam::123456789012:role/app-task', executionRoleArn='arn:aws:iam::123456789012:role/exec',\n\
          containerDefinitions=[{'name': 'app', 'image': ecs.describe_task_definition(taskDefinition='web:1')['taskDefinition']['containerDefinitions'][0]['image'], 'portMappings': [{'containerPort': 8080}]}])\n\
        ecs.update_service(cluster='c1', service='web', taskDefinition='web:2', loadBalancers=lb, deploymentConfiguration={'strategy': 'BLUE_GREEN'})\n\
        print(1)");
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);
    // The policy of a rolling service: the service-deployment calls are missing.
    let out = doctor(&sb, &token).run();
    let (line, fix) = failed_at(&out, "permissions");
    assert!(line.contains("ecs:ListServiceDeployments"), "{line}");
    assert!(fix.contains("--service-deployments"), "{fix}");
    assert!(
        out.stdout
            .contains("ok    service: c1/web ACTIVE, web:2, strategy BLUE_GREEN"),
        "{}",
        out.stdout
    );
    // With them, every check passes.
    let policy = app_policy(
        &sb,
        &[
            "--task-role",
            "app-task",
            "--execution-role",
            "exec",
            "--service-deployments",
        ],
    );
    set_role(&sb, "p1", &policy);
    let out = doctor(&sb, &token).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("ecs:ContinueServiceDeployment"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_codedeploy_service_is_named_and_its_deployment_group_read_checked() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    crate::codedeploy::setup(&sb, &v1, crate::codedeploy::ALL_AT_ONCE, 0, "False");
    set_role(&sb, "p1", &app_policy(&sb, &[]));
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);
    // The policy of a rolling service: CodeDeploy's calls are missing.
    let out = doctor(&sb, &token).run();
    let (line, fix) = failed_at(&out, "permissions");
    assert!(line.contains("codedeploy:GetDeploymentGroup"), "{line}");
    assert!(fix.contains("--codedeploy"), "{fix}");
    assert!(
        out.stdout.contains("CODE_DEPLOY controller (deploys through CodeDeploy; by default application AppECS-c1-web, deployment group DgpECS-c1-web)"),
        "{}",
        out.stdout
    );
    set_role(&sb, "p1", &app_policy(&sb, &["--codedeploy"]));
    let out = doctor(&sb, &token).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("codedeploy:GetDeploymentGroup"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("ecs:UpdateService"),
        "a CODE_DEPLOY service is not updated: {}",
        out.stdout
    );
}

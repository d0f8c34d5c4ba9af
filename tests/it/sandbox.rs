//! stevedore against the stevedore sandbox: OIDC tokens verified for real (RS256, trust policy),
//! and registry credentials used against a real registry with TLS and htpasswd.

use crate::harness::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn auth_with_a_verified_token_and_a_refusal_that_explains_itself() {
    let sb = SandboxProc::start();
    let token = sb.token(&[
        "--project",
        "proj-1",
        "--vcs-origin",
        "github.com/acme/app",
        "--vcs-ref",
        "refs/heads/main",
    ]);
    let run = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .env("CIRCLE_PROJECT_REPONAME", "app")
        .env("CIRCLE_BUILD_NUM", "9");
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    run.env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    let exported = read_exports(&bash_env);
    let who = stevedore(&["whoami", "--json"])
        .sandbox(&sb, false)
        .env("AWS_ACCESS_KEY_ID", &exported["AWS_ACCESS_KEY_ID"])
        .env("AWS_SECRET_ACCESS_KEY", &exported["AWS_SECRET_ACCESS_KEY"])
        .env("AWS_SESSION_TOKEN", &exported["AWS_SESSION_TOKEN"])
        .run()
        .success();
    assert!(
        who.stdout.contains(":assumed-role/circleci-deployer/app-9"),
        "{}",
        who.stdout
    );

    // A token of another organisation: the sandbox's trust policy refuses it; stevedore explains.
    let other = sb.token(&["--org", "org-other", "--project", "proj-1"]);
    let out = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &other)
        .env("BASH_ENV", "/dev/null")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    // AWS's words, and the sandbox's own reason marked as such.
    assert!(
        out.stderr
            .contains("Not authorized to perform sts:AssumeRoleWithWebIdentity")
            && out
                .stderr
                .contains("(stevedore-sandbox only, AWS does not say why:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("aud=org-other")
            && out.stderr.contains("oidc.circleci.com/org/org-other:sub"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&other));
    // A token the sandbox's issuer did not sign.
    let forged = circleci_token("proj-1", 3600, "bm90LWEtc2lnbmF0dXJl");
    let out = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &forged)
        .env("BASH_ENV", "/dev/null")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("InvalidIdentityToken"),
        "{}",
        out.stderr
    );
}

#[test]
fn login_writes_credentials_the_real_registry_accepts() {
    let sb = SandboxProc::start();
    let run = stevedore(&[
        "ecr",
        "ensure-repo",
        "--repo",
        "team/app",
        "--keep-last",
        "5",
    ])
    .sandbox(&sb, true);
    run.run().success();
    let run = stevedore(&["ecr", "login"]).sandbox(&sb, true);
    let home = run.home();
    let out = run.run().success();
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    assert!(
        out.stdout.contains(&format!("Logged in to {registry}")),
        "{}",
        out.stdout
    );
    let config = home.path().join(".docker/config.json");

    // skopeo pushes with exactly that config.json over TLS to the htpasswd-protected registry.
    let image = tempfile::tempdir().unwrap();
    let layout = image.path().join("oci");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let config_blob =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let sha = |b: &[u8]| {
        let mut child = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b).unwrap();
        let o = child.wait_with_output().unwrap();
        String::from_utf8(o.stdout).unwrap()[..64].to_string()
    };
    let cfg_hex = sha(config_blob);
    std::fs::write(layout.join("blobs/sha256").join(&cfg_hex), config_blob).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{cfg_hex}","size":{}}},"layers":[]}}"#,
        config_blob.len()
    );
    let m_hex = sha(manifest.as_bytes());
    std::fs::write(layout.join("blobs/sha256").join(&m_hex), &manifest).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(layout.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{m_hex}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#, manifest.len())).unwrap();
    let certs = sb.cert_dir(image.path());
    let push = |authfile: &Path| {
        Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--quiet", "--authfile"])
            .arg(authfile)
            .arg("--dest-cert-dir")
            .arg(&certs)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{registry}/team/app:v1"))
            .output()
            .unwrap()
    };
    let ok = push(&config);
    assert!(
        ok.status.success(),
        "skopeo with stevedore's config.json: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The same push with a wrong password is refused: the credentials are what made it work.
    let wrong = image.path().join("wrong.json");
    use base64::Engine;
    std::fs::write(
        &wrong,
        format!(
            r#"{{"auths":{{"{registry}":{{"auth":"{}"}}}}}}"#,
            base64::engine::general_purpose::STANDARD.encode("AWS:wrong")
        ),
    )
    .unwrap();
    let refused = push(&wrong);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unauthorized"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Render a trust policy with `stevedore iam trust` and give it to a sandbox role.
fn role_from_rendered_trust(sb: &SandboxProc, role: &str, args: &[&str]) {
    let mut all = vec!["iam", "trust"];
    all.extend_from_slice(args);
    sb.put_role(role, Some(&rendered(sb, &all)), None);
}

/// `stevedore auth` into a sandbox role with a token.
fn assume(sb: &SandboxProc, role: &str, token: &str) -> Output {
    stevedore(&["auth", "--role-name", role])
        .sandbox(sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", token)
        .env("BASH_ENV", "/dev/null")
        .run()
}

#[test]
fn the_rendered_trust_policy_admits_the_right_project_and_branch_only() {
    let sb = SandboxProc::start();
    role_from_rendered_trust(
        &sb,
        "ci-main",
        &[
            "--org-id",
            "org-1",
            "--project-id",
            "proj-1",
            "--branch",
            "main",
            "--vcs-origin",
            "github.com/acme/app",
        ],
    );
    let token = |project: &str, origin: Option<&str>, branch: Option<&str>| {
        let mut args = vec!["--org", "org-1", "--project", project];
        if let (Some(o), Some(b)) = (origin, branch) {
            args.extend(["--vcs-origin", o, "--vcs-ref", b]);
        }
        sb.token(&args)
    };
    assert_eq!(
        assume(
            &sb,
            "ci-main",
            &token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/main")
            )
        )
        .code,
        0,
        "the right project and branch"
    );
    for (what, t) in [
        (
            "another project",
            token(
                "proj-2",
                Some("github.com/acme/app"),
                Some("refs/heads/main"),
            ),
        ),
        (
            "another branch",
            token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/feature"),
            ),
        ),
        (
            "another repository",
            token(
                "proj-1",
                Some("github.com/evil/app"),
                Some("refs/heads/main"),
            ),
        ),
        ("a v1 token without vcs-ref", token("proj-1", None, None)),
    ] {
        let out = assume(&sb, "ci-main", &t);
        assert_eq!(out.code, 1, "{what}: {}", out.all());
        assert!(
            out.stderr.contains("AccessDenied"),
            "{what}: {}",
            out.stderr
        );
    }
    // Without a branch lock, every branch of the project is admitted, another project is not.
    role_from_rendered_trust(
        &sb,
        "ci-any",
        &["--org-id", "org-1", "--project-id", "proj-1"],
    );
    assert_eq!(
        assume(
            &sb,
            "ci-any",
            &token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/feature")
            )
        )
        .code,
        0
    );
    assert_eq!(assume(&sb, "ci-any", &token("proj-1", None, None)).code, 0);
    assert_eq!(assume(&sb, "ci-any", &token("proj-2", None, None)).code, 1);
}

/// Run a boto3 snippet against the sandbox in `region` (its `ecs` client is made for it).
fn boto3_in(sb: &SandboxProc, region: &str, snippet: &str) -> serde_json::Value {
    sb.boto3(&format!(
        "ecs = boto3.client('ecs', **dict(kw, region_name={region:?}))\n{snippet}"
    ))
}

#[test]
fn resources_live_in_their_region_and_list_operations_answer_the_sdk() {
    let sb = SandboxProc::start();
    let image = sb.push_image("app", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='prod')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {image:?}}}])\n\
         ecs.create_service(cluster='prod', serviceName='web', taskDefinition='web:1', desiredCount=1)\n\
         print(1)"
    ));
    // boto3 (the paginators too) lists what us-east-1 holds, and nothing in eu-west-1.
    let home = boto3_in(&sb, "us-east-1", "print(json.dumps({\n\
        'clusters': ecs.list_clusters()['clusterArns'],\n\
        'services': [a for p in ecs.get_paginator('list_services').paginate(cluster='prod') for a in p['serviceArns']],\n\
        'taskdefs': ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns']}))");
    assert_eq!(
        home,
        serde_json::json!({
            "clusters": ["arn:aws:ecs:us-east-1:123456789012:cluster/prod"],
            "services": ["arn:aws:ecs:us-east-1:123456789012:service/prod/web"],
            "taskdefs": ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"]
        })
    );
    let away = boto3_in(
        &sb,
        "eu-west-1",
        "import botocore\n\
        try:\n    ecs.describe_services(cluster='prod', services=['web']); err = None\n\
        except botocore.exceptions.ClientError as e:\n    err = e.response['Error']['Code']\n\
        print(json.dumps({'error': err, 'clusters': ecs.list_clusters()['clusterArns'],\n\
          'taskdefs': ecs.list_task_definitions()['taskDefinitionArns']}))",
    );
    assert_eq!(
        away,
        serde_json::json!({"error": "ClusterNotFoundException", "clusters": [], "taskdefs": []})
    );
    // stevedore in the other region: one clear line, nothing changed in us-east-1.
    let out = stevedore(&[
        "deploy",
        "--region",
        "eu-west-1",
        "--cluster",
        "prod",
        "--service",
        "web",
        "--image",
        &image,
    ])
    .sandbox(&sb, true)
    .run();
    assert!(matches!(out.code, 1 | 2), "{}", out.all());
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cluster prod not found") && out.stderr.contains("eu-west-1"),
        "{}",
        out.stderr
    );
    let td = sb.boto3("print(json.dumps(ecs.describe_services(cluster='prod', services=['web'])['services'][0]['taskDefinition']))");
    assert!(td.as_str().unwrap().ends_with("web:1"), "{td}");
}

/// The sandbox's ECS as a third-party client sees it: tags registered come back with include
/// TAGS and through ListTagsForResource; a rollout whose tasks turn UNHEALTHY never drops the
/// healthy count below minimumHealthyPercent and is failed by the circuit breaker; events come
/// newest first with distinct, ordered times.
#[test]
fn ecs_fidelity_driven_by_boto3_tags_health_checks_and_events() {
    let sb = SandboxProc::start();
    let good = sb.push_image("app", "good", &[]);
    let sick = sb.push_image("app", "sick", &[("stevedore.sandbox.unhealthy-after", "3")]);
    let report = sb.boto3(&format!(
        r#"import time
check = {{'command': ['CMD-SHELL', 'wget -q -O- localhost:8080/health'], 'interval': 5, 'retries': 2}}
ecs.create_cluster(clusterName='c')
tags = [{{'key': 'team', 'value': 'web'}}, {{'key': 'cost-center', 'value': '42'}}]
ecs.register_task_definition(family='web', tags=tags, containerDefinitions=[{{'name': 'app', 'image': {good:?}, 'healthCheck': check}}])
ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {sick:?}, 'healthCheck': check}}])
arn1 = 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:1'
without = 'tags' in ecs.describe_task_definition(taskDefinition='web:1')
described = ecs.describe_task_definition(taskDefinition='web:1', include=['TAGS'])['tags']
listed = ecs.list_tags_for_resource(resourceArn=arn1)['tags']
ecs.create_service(cluster='c', serviceName='s', taskDefinition='web:1', desiredCount=4,
    deploymentConfiguration={{'minimumHealthyPercent': 100, 'maximumPercent': 200,
        'deploymentCircuitBreaker': {{'enable': True, 'rollback': True}}}})
def healthy():
    arns = ecs.list_tasks(cluster='c', serviceName='s')['taskArns']
    tasks = ecs.describe_tasks(cluster='c', tasks=arns)['tasks'] if arns else []
    return sum(1 for t in tasks if t['lastStatus'] == 'RUNNING' and t.get('healthStatus') == 'HEALTHY')
def primary():
    return ecs.describe_services(cluster='c', services=['s'])['services'][0]['deployments'][0]
deadline = time.time() + 30
while primary().get('rolloutState') != 'COMPLETED' and time.time() < deadline:
    time.sleep(0.05)
first = primary().get('rolloutState')
dep = ecs.update_service(cluster='c', service='s', taskDefinition='web:2')['service']['deployments'][0]['id']
lowest, polls, outcome = 99, 0, None
while time.time() < deadline:
    lowest = min(lowest, healthy())
    polls += 1
    deps = ecs.describe_services(cluster='c', services=['s'])['services'][0]['deployments']
    mine = [d for d in deps if d['id'] == dep]
    if mine and mine[0].get('rolloutState') == 'FAILED':
        outcome = mine[0]['rolloutStateReason']
        break
svc = ecs.describe_services(cluster='c', services=['s'])['services'][0]
events = [(e['createdAt'].timestamp(), e['message']) for e in svc['events']]
stopped = ecs.list_tasks(cluster='c', serviceName='s', desiredStatus='STOPPED')['taskArns']
reasons = sorted({{t.get('stoppedReason') for t in ecs.describe_tasks(cluster='c', tasks=stopped)['tasks']}}) if stopped else []
print(json.dumps({{'without': without, 'described': described, 'listed': listed, 'first': first,
    'lowest': lowest, 'polls': polls, 'outcome': outcome, 'events': events, 'reasons': reasons}}))"#
    ));
    let tags =
        serde_json::json!([{"key": "team", "value": "web"}, {"key": "cost-center", "value": "42"}]);
    assert_eq!(report["without"], false, "tags only when asked for");
    assert_eq!(report["described"], tags);
    assert_eq!(report["listed"], tags);
    assert_eq!(report["first"], "COMPLETED", "{report:#}");
    assert!(report["polls"].as_u64().unwrap() > 5, "{report:#}");
    assert_eq!(
        report["lowest"], 4,
        "never below 100% of 4 healthy: {report:#}"
    );
    assert!(
        report["outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("circuit breaker"),
        "{report:#}"
    );
    assert!(
        report["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Task failed container health checks"),
        "{report:#}"
    );
    let events = report["events"].as_array().unwrap();
    let times: Vec<f64> = events.iter().map(|e| e[0].as_f64().unwrap()).collect();
    assert!(times.len() > 5, "{report:#}");
    assert!(
        times.windows(2).all(|w| w[0] > w[1]),
        "newest first, distinct times: {times:?}"
    );
    assert!(
        events.iter().any(|e| e[1]
            .as_str()
            .unwrap()
            .contains("failed container health checks")),
        "{report:#}"
    );
}

#[test]
fn ecr_uri_names_the_sandboxs_registries_as_push_and_ecr_do() {
    let sb = SandboxProc::start();
    stevedore(&["ecr", "ensure-repo", "--repo", "team/app"])
        .sandbox(&sb, true)
        .run()
        .success();
    let uri = stevedore(&["ecr", "uri", "--repo", "team/app", "--tag", "v1"])
        .sandbox(&sb, true)
        .run()
        .success();
    let from_ecr = sb.boto3("print(json.dumps(ecr.describe_repositories(repositoryNames=['team/app'])['repositories'][0]['repositoryUri']))");
    assert_eq!(
        uri.stdout.trim(),
        format!("{}:v1", from_ecr.as_str().unwrap())
    );
    assert_eq!(
        uri.stdout.trim(),
        format!("{}/team/app:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"])
    );
    let public = stevedore(&["ecr", "uri", "--repo", "app", "--public"])
        .sandbox(&sb, true)
        .run()
        .success();
    assert_eq!(
        public.stdout.trim(),
        format!(
            "{}/sandbox/app",
            sb.env["STEVEDORE_SANDBOX_PUBLIC_REGISTRY"]
        )
    );
}

/// The README's sandbox examples run as written against a sandbox (all but `make sandbox`,
/// which starts one): each line in bash with the sandbox's variables, curl made to fail on an
/// HTTP error so a refused request cannot pass for one that worked.
#[test]
fn the_readme_sandbox_examples_run_as_written() {
    let readme = std::fs::read_to_string(crate::orb::root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\nmake sandbox ")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the README's sandbox block");
    let lines: Vec<&str> = block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(lines.len() >= 10, "{lines:?}");
    let sb = SandboxProc::start();
    let script = format!(
        "set -e\ncurl() {{ command curl --fail-with-body --silent --show-error \"$@\"; echo; }}\n{}\n",
        lines.join("\n")
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(crate::orb::root())
        .envs(&sb.env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The token line printed a token; the clock took its speed.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .next()
            .is_some_and(|t| t.split('.').count() == 3),
        "{text}"
    );
}

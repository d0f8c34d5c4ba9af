//! `stevedore ecr` against moto's ECR, read back with boto3 (a third-party client).

use crate::harness::*;
use base64::Engine;

#[test]
fn ensure_repo_creates_with_settings_and_is_idempotent() {
    let moto = Moto::start();
    let out = stevedore(&[
        "ecr",
        "ensure-repo",
        "--repo",
        "team/app",
        "--tag-mutability",
        "IMMUTABLE",
        "--encryption",
        "AES256",
        "--resource-tag",
        "team=payments,env=prod",
        "--keep-last",
        "10",
        "--expire-untagged-days",
        "7",
    ])
    .aws(&moto.url)
    .run()
    .success();
    assert!(
        out.stdout.contains(&format!(
            "Created repository team/app: {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app"
        )),
        "{}",
        out.stdout
    );

    let seen = moto.boto3(
        "r = ecr.describe_repositories(repositoryNames=['team/app'])['repositories'][0]\n\
         lp = json.loads(ecr.get_lifecycle_policy(repositoryName='team/app')['lifecyclePolicyText'])\n\
         tags = ecr.list_tags_for_resource(resourceArn=r['repositoryArn'])['tags']\n\
         print(json.dumps({'repo': r, 'lifecycle': lp, 'tags': tags}, default=str))",
    );
    assert_eq!(seen["repo"]["imageTagMutability"], "IMMUTABLE");
    assert_eq!(
        seen["repo"]["imageScanningConfiguration"]["scanOnPush"], true,
        "new repositories scan on push by default"
    );
    assert_eq!(
        seen["repo"]["encryptionConfiguration"]["encryptionType"],
        "AES256"
    );
    let rules = seen["lifecycle"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
    assert_eq!(rules[0]["selection"]["countNumber"], 7);
    assert_eq!(rules[1]["selection"]["tagStatus"], "any");
    assert_eq!(rules[1]["selection"]["countNumber"], 10);
    let mut tags: Vec<String> = seen["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                t["Key"].as_str().unwrap(),
                t["Value"].as_str().unwrap()
            )
        })
        .collect();
    tags.sort();
    assert_eq!(tags, ["env=prod", "team=payments"]);

    // Again, changing only the tag mutability: the repository is kept and updated, not recreated.
    let out = stevedore(&[
        "ecr",
        "ensure-repo",
        "--repo",
        "team/app",
        "--tag-mutability",
        "MUTABLE",
    ])
    .aws(&moto.url)
    .run()
    .success();
    assert!(
        out.stdout.contains("Repository team/app exists"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Set tag mutability of team/app to MUTABLE"),
        "{}",
        out.stdout
    );
    let seen = moto.boto3(
        "r = ecr.describe_repositories()['repositories']\nprint(json.dumps(r, default=str))",
    );
    assert_eq!(seen.as_array().unwrap().len(), 1);
    assert_eq!(seen[0]["imageTagMutability"], "MUTABLE");
    assert_eq!(
        seen[0]["imageScanningConfiguration"]["scanOnPush"], true,
        "settings not given are left alone"
    );
    // A third run with nothing to change changes nothing.
    let out = stevedore(&["ecr", "ensure-repo", "--repo", "team/app"])
        .aws(&moto.url)
        .run()
        .success();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
}

#[test]
fn scan_on_push_of_an_existing_repository_changes_only_when_asked() {
    // Created without scanning, then switched on. (The other direction cannot be observed in
    // moto: the SDK omits `scanOnPush: false`, which AWS reads as false and moto ignores.)
    let moto = Moto::start();
    stevedore(&[
        "ecr",
        "ensure-repo",
        "--repo",
        "svc",
        "--scan-on-push=false",
    ])
    .aws(&moto.url)
    .run()
    .success();
    let scan = || {
        moto.boto3("print(json.dumps(ecr.describe_repositories(repositoryNames=['svc'])['repositories'][0]['imageScanningConfiguration']['scanOnPush']))")
    };
    assert_eq!(scan(), false);
    let out = stevedore(&["ecr", "ensure-repo", "--repo", "svc"])
        .aws(&moto.url)
        .run()
        .success();
    assert!(!out.stdout.contains("scan-on-push"), "{}", out.stdout);
    assert_eq!(
        scan(),
        false,
        "an existing repository keeps its setting when the flag is not given"
    );
    let out = stevedore(&["ecr", "ensure-repo", "--repo", "svc"])
        .aws(&moto.url)
        .env("STEVEDORE_SCAN_ON_PUSH", "1")
        .run()
        .success();
    assert!(
        out.stdout.contains("Set scan-on-push of svc to true"),
        "{}",
        out.stdout
    );
    assert_eq!(scan(), true);
}

#[test]
fn ensure_repo_applies_policy_files_and_reads_flags_from_stevedore_variables() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let lifecycle = dir.path().join("lifecycle.json");
    std::fs::write(&lifecycle, r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["pr-"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#).unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#).unwrap();
    stevedore(&["ecr", "ensure-repo"])
        .aws(&moto.url)
        .env("STEVEDORE_REPO", "svc")
        .env(
            "STEVEDORE_LIFECYCLE_POLICY",
            lifecycle.display().to_string(),
        )
        .env("STEVEDORE_REPOSITORY_POLICY", policy.display().to_string())
        .env("STEVEDORE_SCAN_ON_PUSH", "false")
        .run()
        .success();
    let seen = moto.boto3(
        "lp = json.loads(ecr.get_lifecycle_policy(repositoryName='svc')['lifecyclePolicyText'])\n\
         rp = json.loads(ecr.get_repository_policy(repositoryName='svc')['policyText'])\n\
         r = ecr.describe_repositories(repositoryNames=['svc'])['repositories'][0]\n\
         print(json.dumps({'lp': lp, 'rp': rp, 'scan': r['imageScanningConfiguration']['scanOnPush']}))",
    );
    assert_eq!(
        seen["lp"]["rules"][0]["selection"]["tagPrefixList"][0],
        "pr-"
    );
    assert_eq!(seen["rp"]["Statement"][0]["Sid"], "pull");
    assert_eq!(seen["scan"], false);
}

#[test]
fn login_writes_docker_config_for_the_registry_and_keeps_other_entries() {
    let moto = Moto::start();
    let run = stevedore(&["ecr", "login"]).aws(&moto.url);
    let home = run.home();
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        r#"{"auths":{"ghcr.io":{"auth":"eDp5"}},"detachKeys":"ctrl-q"}"#,
    )
    .unwrap();
    let out = run.run().success();
    let host = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com");
    assert!(
        out.stdout.contains(&format!("Logged in to {host}")),
        "{}",
        out.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(docker.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(doc["auths"]["ghcr.io"]["auth"], "eDp5");
    assert_eq!(doc["detachKeys"], "ctrl-q");
    let auth = doc["auths"][&host]["auth"].as_str().unwrap();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .unwrap(),
    )
    .unwrap();
    let (user, password) = decoded.split_once(':').unwrap();
    assert_eq!(user, "AWS");
    // The token is what ECR issued, as boto3 reads it too.
    let expected = moto.boto3("print(json.dumps(ecr.get_authorization_token()['authorizationData'][0]['authorizationToken']))");
    assert_eq!(expected, auth);
    assert!(
        !out.all().contains(password),
        "the registry password must not be printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(docker.join("config.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o077,
            0
        );
    }
}

#[test]
fn login_via_docker_passes_the_password_on_stdin_only() {
    let moto = Moto::start();
    let bin = tempfile::tempdir().unwrap();
    let record = bin.path().join("record");
    script(bin.path(), "docker", &format!("echo \"ARGS $*\" > '{r}'\nprintf 'STDIN ' >> '{r}'\ncat >> '{r}'\necho 'Login Succeeded'", r = record.display()));
    let out = stevedore(&["ecr", "login", "--via-docker"])
        .aws(&moto.url)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .run()
        .success();
    let rec = std::fs::read_to_string(&record).unwrap();
    let host = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com");
    let args = rec.lines().next().unwrap();
    assert_eq!(
        args,
        format!("ARGS login --username AWS --password-stdin {host}")
    );
    let password = rec.lines().nth(1).unwrap().strip_prefix("STDIN ").unwrap();
    assert!(!password.is_empty() && !args.contains(password));
    assert!(!out.all().contains(password));
}

#[test]
fn uri_derives_private_public_and_china_addresses() {
    let private = stevedore(&["ecr", "uri", "--repo", "team/app", "--tag", "v1.2"])
        .env("AWS_DEFAULT_REGION", "eu-central-1")
        .env("AWS_ACCOUNT_ID", ACCOUNT)
        .run()
        .success();
    assert_eq!(
        private.stdout.trim(),
        format!("{ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com/team/app:v1.2")
    );
    let china = stevedore(&["ecr", "uri", "--repo", "app"])
        .env("AWS_REGION", "cn-north-1")
        .env("AWS_DEFAULT_REGION", "eu-central-1")
        .env("AWS_ACCOUNT_ID", ACCOUNT)
        .run()
        .success();
    assert_eq!(
        china.stdout.trim(),
        format!("{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/app"),
        "AWS_REGION wins over AWS_DEFAULT_REGION"
    );
    let public = stevedore(&["ecr", "uri", "--repo", "app", "--public", "--tag", "latest"])
        .env("AWS_ECR_PUBLIC_REGISTRY_ALIAS", "acme")
        .env("AWS_DEFAULT_REGION", "eu-central-1")
        .run()
        .success();
    assert_eq!(public.stdout.trim(), "public.ecr.aws/acme/app:latest");
}

#[test]
fn ecr_public_calls_go_to_us_east_1_whatever_the_region() {
    // A scripted endpoint stands in for ECR Public (moto has none); the SigV4 scope of the
    // request it receives tells the region the client used.
    let reply = r#"{"repositories":[{"repositoryArn":"arn:aws:ecr-public::123456789012:repository/app","repositoryName":"app","repositoryUri":"public.ecr.aws/acme/app"}]}"#;
    let ep = Scripted::start(vec![(200, reply.to_string())]);
    let out = stevedore(&["ecr", "ensure-repo", "--repo", "app", "--public"])
        .aws(&ep.url)
        .env("AWS_DEFAULT_REGION", "eu-west-3")
        .env("AWS_ECR_PUBLIC_REGISTRY_ALIAS", "acme")
        .run()
        .success();
    assert!(
        out.stdout
            .contains("Public repository app exists: public.ecr.aws/acme/app"),
        "{}",
        out.stdout
    );
    let req = ep.requests.lock().unwrap()[0].clone();
    assert!(req.contains("/us-east-1/ecr-public/aws4_request"), "{req}");
    assert!(
        req.to_ascii_lowercase()
            .contains("x-amz-target: spencerfrontendservice.describerepositories"),
        "{req}"
    );
}

//! Signing set up and around the push: the role's permission to sign (the push, doctor), the key
//! bootstrap creates, and BuildKit's own attestations carried through push, sign and deploy.

use crate::harness::*;
use crate::push::printed_digest;
use crate::signing::{
    create_key, deploy_requiring_signature, layout, push, registry_call, service, skopeo_copy,
};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

#[test]
fn a_role_without_kms_sign_fails_naming_it_and_pushes_nothing() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let arn = create_key(&sb, "ci-signing");
    let img = layout(work.path(), 7);
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    sb.boto3("ecr.create_repository(repositoryName='app'); print(1)");
    let as_ci = |policy: &Value| {
        sb.put_role("ci", None, Some(policy));
        let home = tempfile::tempdir().unwrap();
        let bash_env = home.path().join("bash_env");
        assert_eq!(crate::iam::assume_ci(&sb, &bash_env).code, 0);
        let mut run = stevedore(&[
            "push",
            "--repo",
            "app",
            "--tag",
            "v1",
            "--oci-layout",
            &img,
            "--sign",
            "awskms:///alias/ci-signing",
        ])
        .sandbox(&sb, false);
        let exports = read_exports(&bash_env);
        for (k, v) in &exports {
            run = run.env(k, v);
        }
        let out = run.env("BASH_ENV", "/dev/null").run();
        // The role's session credentials never reach the output, refused or not.
        for secret in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            assert!(
                !out.all().contains(exports[secret].as_str()),
                "{secret} printed: {}",
                out.all()
            );
        }
        out
    };
    let tags = || registry_tags(&sb, "app");

    let refused = as_ci(&rendered(&sb, &["iam", "policy", "--repo", "app"]));
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("kms:Sign"), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the role needs kms:Sign on that key"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was pushed"),
        "{}",
        refused.stderr
    );
    assert!(!refused.all().contains("uploaded"), "{}", refused.all());
    assert_eq!(
        tags(),
        Vec::<String>::new(),
        "nothing pushed, no signature tag"
    );

    // The statement `--signing-key` adds is what it takes.
    let allowed = as_ci(&rendered(
        &sb,
        &["iam", "policy", "--repo", "app", "--signing-key", &arn],
    ));
    assert_eq!(allowed.code, 0, "{}", allowed.all());
    let digest = printed_digest(&allowed.stdout);
    assert_eq!(
        tags(),
        vec![
            format!("{}.sig", digest.replace(':', "-")),
            "v1".to_string()
        ]
    );
    assert!(
        allowed
            .stdout
            .contains(&format!("{registry}/app:{}.sig", digest.replace(':', "-"))),
        "{}",
        allowed.stdout
    );
}

/// The tags of a repository, as the registry lists them (sorted).
fn registry_tags(sb: &SandboxProc, repo: &str) -> Vec<String> {
    let (status, body) = registry_call(sb, "GET", &format!("/v2/{repo}/tags/list"), None);
    if status == 404 {
        return vec![];
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{status} {body}: {e}"));
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// An OCI layout of a runnable image (pushed by the harness, copied out by skopeo) whose
/// index.json also names a BuildKit attestation manifest for it, as `docker buildx build
/// --attest type=sbom --output type=oci` writes: platform unknown/unknown, the in-toto
/// statement as its layer, `vnd.docker.reference.*` annotations naming the image.
fn buildkit_layout(sb: &SandboxProc, dir: &Path) -> String {
    let src = sb.push_runnable_image("base", "buildkit");
    let layout = dir.join("buildkit");
    skopeo_copy(sb, &src, &format!("oci:{}:latest", layout.display()));
    let put = |bytes: &[u8]| {
        let hex = crate::push::sha256_hex(bytes);
        std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
        json!({"digest": format!("sha256:{hex}"), "size": bytes.len()})
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut image = index["manifests"][0].clone();
    image["platform"] = json!({"architecture": "amd64", "os": "linux"});
    image.as_object_mut().unwrap().remove("annotations");
    let statement = json!({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "pkg:docker/app", "digest": {"sha256": image["digest"].as_str().unwrap().trim_start_matches("sha256:")}}],
        "predicate": {"spdxVersion": "SPDX-2.3"}})
    .to_string();
    let mut layer = put(statement.as_bytes());
    layer["mediaType"] = json!("application/vnd.in-toto+json");
    layer["annotations"] = json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
    let mut config = put(json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).to_string().as_bytes());
    config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]});
    let mut attestation = put(manifest.to_string().as_bytes());
    attestation["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    attestation["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    attestation["annotations"] = json!({"vnd.docker.reference.digest": image["digest"], "vnd.docker.reference.type": "attestation-manifest"});
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [image, attestation]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout.display().to_string()
}

#[test]
fn a_buildkit_index_with_attestation_manifests_is_pushed_whole_signed_and_runs_in_docker() {
    let sb = SandboxProc::start_docker();
    let work = tempfile::tempdir().unwrap();
    create_key(&sb, "ci-signing");
    let layout = buildkit_layout(&sb, work.path());
    let out = push(
        &sb,
        &layout,
        "v1",
        &["--sign", "awskms:///alias/ci-signing"],
    )
    .success();
    let digest = printed_digest(&out.stdout);
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    // Pushed whole: skopeo reads back the index with both entries, the attestation included.
    let (read, index) = crate::push::skopeo_inspect(&sb, &format!("{registry}/team/app:v1"));
    assert_eq!(read, digest);
    let kinds: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["os"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["linux", "unknown"], "{index}");
    // Deployed by the index digest, verified first; the engine runs the linux/amd64 image.
    service(&sb, &sb.push_runnable_image("base", "v1"));
    let d = deploy_requiring_signature(&sb, "v1");
    assert_eq!(d.code, 0, "{}", d.all());
    assert!(
        d.stdout
            .contains(&format!("verified {registry}/team/app@{digest}")),
        "{}",
        d.stdout
    );
    let image = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='web')['taskDefinition']['containerDefinitions'][0]['image']))");
    assert_eq!(image, json!(format!("{registry}/team/app@{digest}")));
    let running = sb.boto3(
        "t=ecs.list_tasks(cluster='c1', serviceName='web')['taskArns']\n\
        d=ecs.describe_tasks(cluster='c1', tasks=t)['tasks']\n\
        print(json.dumps([(x['taskDefinitionArn'].split('/')[-1], x['lastStatus']) for x in d]))",
    );
    assert!(
        running
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t[0] == "web:2" && t[1] == "RUNNING"),
        "{running}"
    );
}

#[test]
fn doctor_checks_the_role_may_sign_with_the_key_and_signs_nothing() {
    let sb = SandboxProc::start();
    let policy = crate::doctor::setup(&sb);
    let arn = create_key(&sb, "ci-signing");
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);
    let doctor = || {
        crate::doctor::doctor(&sb, &token)
            .env("STEVEDORE_SIGN", "awskms:///alias/ci-signing")
            .run()
    };
    let out = doctor();
    assert_eq!(out.code, 1, "{}", out.all());
    let fail = out
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_default();
    assert!(
        fail.starts_with("FAIL  permissions: ") && fail.contains("kms:Sign"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("stevedore iam policy --signing-key KEY-ARN"),
        "{}",
        out.stdout
    );

    let mut with_key = policy.clone();
    let statement = rendered(
        &sb,
        &["iam", "policy", "--repo", "app", "--signing-key", &arn],
    )["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "SignImages")
        .cloned()
        .unwrap();
    with_key["Statement"]
        .as_array_mut()
        .unwrap()
        .push(statement);
    crate::doctor::set_role(&sb, "p1", &with_key);
    let out = doctor();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("kms:Sign on awskms:///alias/ci-signing"),
        "{}",
        out.stdout
    );
    // The probe reached KMS: a Sign with DryRun, which KMS answers without signing.
    let calls = sb.control_get("/_sandbox/calls");
    let text = calls.to_string();
    assert!(text.contains("KMS.Sign"), "the probe reached KMS: {text}");
}

#[test]
fn bootstrap_creates_a_signing_key_only_the_role_may_sign_with() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("stevedore.json");
    let out = stevedore(&[
        "bootstrap",
        "--output",
        file.to_str().unwrap(),
        "--org-id",
        "org-1",
        "--project-id",
        "proj-1",
        "--repo",
        "app",
        "--create-signing-key",
    ])
    .env("AWS_ACCOUNT_ID", "123456789012")
    .env("AWS_DEFAULT_REGION", "us-east-1")
    .run()
    .success();
    assert!(
        out.stderr.contains("aws cloudformation deploy"),
        "{}",
        out.stderr
    );
    let lint = Command::new(venv().join("bin/cfn-lint"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint: {}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let moto = Moto::start();
    let got = moto.boto3(&format!(
        "cf=boto3.client('cloudformation', **kw)\nkms=boto3.client('kms', **kw)\niam=boto3.client('iam', **kw)\n\
         cf.create_stack(StackName='stevedore-ci', TemplateBody=open({file:?}).read(), Capabilities=['CAPABILITY_NAMED_IAM'])\n\
         s=cf.describe_stacks(StackName='stevedore-ci')['Stacks'][0]\n\
         out={{o['OutputKey']: o['OutputValue'] for o in s['Outputs']}}\n\
         alias=[a for a in kms.list_aliases()['Aliases'] if a['AliasName']=='alias/stevedore-ci-signing']\n\
         doc=iam.get_role_policy(RoleName='stevedore-ci', PolicyName='stevedore-sign')['PolicyDocument']\n\
         import ast\n\
         doc=ast.literal_eval(doc) if isinstance(doc, str) else doc\n\
         print(json.dumps({{'status': s['StackStatus'], 'outputs': out, 'alias_target': [a['TargetKeyId'] for a in alias], 'policy': doc}}))",
        file = file.to_str().unwrap()
    ));
    assert_eq!(got["status"], "CREATE_COMPLETE", "{got:#}");
    assert_eq!(
        got["outputs"]["SigningKey"],
        "awskms:///alias/stevedore-ci-signing"
    );
    let arn = got["outputs"]["SigningKeyArn"].as_str().unwrap();
    assert_eq!(
        got["alias_target"],
        json!([arn.rsplit('/').next().unwrap()])
    );
    let statement = &got["policy"]["Statement"][0];
    assert_eq!(statement["Action"], json!(["kms:Sign", "kms:GetPublicKey"]));
    assert_eq!(statement["Resource"], arn);
    // moto's CloudFormation makes every AWS::KMS::Key symmetric: the spec is read from the
    // template, where KMS will read it.
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let key = &template["Resources"]["SigningKey"]["Properties"];
    assert_eq!(
        (key["KeySpec"].as_str(), key["KeyUsage"].as_str()),
        (Some("ECC_NIST_P256"), Some("SIGN_VERIFY"))
    );
}

#[test]
fn an_image_left_out_by_skip_existing_tags_is_neither_signed_nor_attested() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    create_key(&sb, "ci-signing");
    push(&sb, &layout(work.path(), 8), "v1", &[]).success();
    let other = layout(work.path(), 9);
    let out = push(
        &sb,
        &other,
        "v1",
        &[
            "--skip-existing-tags",
            "--sign",
            "awskms:///alias/ci-signing",
            "--provenance",
        ],
    )
    .success();
    assert!(
        out.stdout.contains("not signed or attested"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("signed the image"), "{}", out.stdout);
    let tags = registry_tags(&sb, "team/app");
    assert_eq!(
        tags,
        vec!["v1".to_string()],
        "no signature or referrers tag"
    );
}

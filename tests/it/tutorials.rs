//! The flows people copy from tutorials, as they write them (issue 30): access keys in a
//! context (which brings an OIDC token too), arm64 on an amd64 machine, a public copy after the
//! private push, and "does the service answer".

use crate::harness::*;
use crate::push::{gz_layer, Layout};
use serde_json::json;
use std::process::Command;

/// skopeo's JSON answer to `args` about `reference` in the sandbox's private registry.
fn skopeo(sb: &SandboxProc, args: &[&str], reference: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let certs = sb.cert_dir(dir.path());
    let out = Command::new("skopeo")
        .args(args)
        .args(["--creds", &sb.registry_creds(), "--cert-dir"])
        .arg(&certs)
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The tags skopeo lists for a repository of the sandbox's private registry.
fn skopeo_tags(sb: &SandboxProc, repo: &str) -> serde_json::Value {
    let reference = format!("{}/{repo}", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    skopeo(sb, &["list-tags"], &reference)["Tags"].clone()
}

/// This machine's engine (Docker's classic builder, no buildx, no QEMU) asked for linux/arm64
/// after an amd64 build of the same Dockerfile hands back the cached amd64 image: what pushed an
/// amd64 image under an `-arm64` tag. `push --platform` refuses it, naming both, with nothing
/// created or tagged; an index without a platform asked for is refused the same way.
#[test]
fn an_image_of_another_platform_than_asked_is_refused_and_nothing_is_tagged() {
    let sb = SandboxProc::start();
    let ctx = tempfile::tempdir().unwrap();
    let nonce = format!("{}-{}", std::process::id(), free_port());
    std::fs::write(ctx.path().join("app"), &nonce).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\n",
    )
    .unwrap();
    let name = format!("stevedore-it-platform:{nonce}");
    // Removed however the test ends: a failed assertion must not leave it in the engine.
    let _forget = Forget(vec![name.clone()]);
    for platform in [None, Some("linux/arm64")] {
        let mut build = Command::new("docker");
        build.args(["build", "-q", "-t", &name]);
        if let Some(p) = platform {
            build.args(["--platform", p]);
        }
        let out = build.arg(ctx.path()).output().expect("docker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let arch = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            &name,
        ])
        .output()
        .unwrap();
    let arch = String::from_utf8_lossy(&arch.stdout).trim().to_string();
    // The repository holds one image already, so the registry lists its tags (docker-registry
    // answers 404 for a repository nothing was pushed to).
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let amd = l.image(&[gz_layer(10_000, 1)], "amd64");
    let arm = l.image(&[gz_layer(10_000, 2)], "arm64");
    l.index(vec![amd.clone()]);
    let layout = l.dir.display().to_string();
    stevedore(&[
        "push",
        "--repo",
        "app",
        "--create-repo",
        "--oci-layout",
        &layout,
        "--tag",
        "base",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let push = |platform: &str, tag: &str| {
        stevedore(&[
            "push",
            "--repo",
            "app",
            "--docker-image",
            &name,
            "--platform",
            platform,
            "--tag",
            tag,
            "--create-repo",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let out = push("linux/arm64", "v1-arm64");
    assert_eq!(
        arch, "linux/amd64",
        "the engine built {arch} this time; the refusal below needs its amd64 image"
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(
        out.stderr.trim_end(),
        "stevedore: --platform linux/arm64: the image is linux/amd64, not linux/arm64 (an engine without emulation or buildx builds its own architecture: build on a machine of that architecture, or with buildx and binfmt); nothing was pushed"
    );
    assert_eq!(skopeo_tags(&sb, "app"), json!(["base"]));

    // An index of amd64 and arm64, asked for three platforms.
    l.index(vec![amd, arm]);
    let index = |platforms: &str| {
        stevedore(&[
            "push",
            "--repo",
            "app",
            "--oci-layout",
            &layout,
            "--platform",
            platforms,
            "--tag",
            "multi",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let out = index("linux/amd64,linux/arm64,linux/arm/v7");
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(
        out.stderr.trim_end(),
        "stevedore: --platform linux/amd64, linux/arm64, linux/arm/v7: the index has no linux/arm/v7 image (it has linux/amd64, linux/arm64); nothing was pushed"
    );
    assert_eq!(skopeo_tags(&sb, "app"), json!(["base"]));

    // What the image is, asked for, is pushed.
    index("linux/amd64,linux/arm64").success();
    push("linux/amd64", "v1").success();
    let mut tags: Vec<String> = serde_json::from_value(skopeo_tags(&sb, "app")).unwrap();
    tags.sort();
    assert_eq!(tags, ["base", "multi", "v1"]);
}

/// An example's `usage` (orb/src/examples/NAME.yml), as a project's config in `dir`.
fn example(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join(format!("{name}.yml"));
    let ok = Command::new(venv().join("bin/python"))
        .args(["-c", "import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))['usage'], open(sys.argv[2], 'w'))"])
        .arg(crate::orb::root().join(format!("orb/src/examples/{name}.yml")))
        .arg(&config)
        .status()
        .unwrap();
    assert!(ok.success());
    config
}

/// A project's config written out in `dir`.
fn config(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// skopeo's view of an image's config (architecture, os) in the sandbox's private registry.
fn skopeo_config(sb: &SandboxProc, reference: &str) -> serde_json::Value {
    skopeo(sb, &["inspect", "--config"], reference)
}

/// Local images removed when dropped.
struct Forget(Vec<String>);

impl Drop for Forget {
    fn drop(&mut self) {
        let names: Vec<&str> = self.0.iter().map(String::as_str).collect();
        forget_local(&names);
    }
}

fn forget_local(names: &[&str]) {
    let _ = Command::new("docker")
        .args(["image", "rm", "--force"])
        .args(names)
        .output();
}

/// Repository `web` with image `v0`, and the Fargate service `web` of cluster `production`
/// running it on two tasks with public IPs.
fn fargate_web(sb: &SandboxProc) {
    sb.boto3("ecr.create_repository(repositoryName='web')\nprint(1)");
    let base = sb.push_image("web", "v0", &[]);
    sb.boto3(&FARGATE_WEB.replace("BASE", &format!("{base:?}")));
}

/// How many revisions family `web` has.
fn web_revisions(sb: &SandboxProc) -> usize {
    let arns = sb.boto3(
        "print(json.dumps(ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns']))",
    );
    arns.as_array().map_or(0, Vec::len)
}

const FARGATE_WEB: &str = "ecs.create_cluster(clusterName='production')\n\
    ecs.register_task_definition(family='web', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512',\n\
      containerDefinitions=[{'name': 'web', 'image': BASE, 'portMappings': [{'containerPort': 8080}]}])\n\
    ecs.create_service(cluster='production', serviceName='web', taskDefinition='web:1', desiredCount=2, launchType='FARGATE',\n\
      networkConfiguration={'awsvpcConfiguration': {'subnets': ['subnet-0a1b2c3d'], 'securityGroups': ['sg-0a1b2c3d'], 'assignPublicIp': 'ENABLED'}},\n\
      deploymentConfiguration={'deploymentCircuitBreaker': {'enable': True, 'rollback': True}})\n\
    print(1)";

/// The tutorial flows as users write them, each job with an OIDC token in its environment (a
/// context brings one): access keys (`credentials: keys`), OIDC with private ECR and Fargate,
/// ECR Public, arm64 on this amd64 machine without buildx, and a public copy after the private
/// push that must not change what the deploy runs.
#[test]
fn tutorial_configs_run_end_to_end_with_a_token_in_every_job() {
    use crate::orb::{packed_orb, project, Files, Job};
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    // The project's repository exists already (bootstrap made it), as the examples assume, and
    // the service runs an image of it.
    fargate_web(&sb);
    sb.put_role("ci", None, None);
    let files = Files::serve(&crate::orb::dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files)
        .with_env("LEGACY_AWS_KEY_ID", &sb.env["AWS_ACCESS_KEY_ID"])
        .with_env("LEGACY_AWS_SECRET", &sb.env["AWS_SECRET_ACCESS_KEY"])
        .with_env("CIRCLE_TAG", "v1.2.3");
    let checkout = tmp.path().join("project");
    project(&checkout, false);
    let nonce = format!("{}-{}", std::process::id(), free_port());
    std::fs::write(checkout.join("nonce"), &nonce).unwrap();
    scratch_dockerfile(&checkout, "COPY busybox /bin/busybox\nCOPY nonce /nonce\nCMD [\"/bin/busybox\", \"sleep\", \"3600\"]\n");
    let tags = |repo: &str| {
        sb.boto3(&format!("print(json.dumps(sorted(t for i in ecr.describe_images(repositoryName='{repo}')['imageDetails'] for t in i.get('imageTags', []))))"))
    };

    // Access keys in a context, under names of their own; no role anywhere.
    let out = job.run_config(&example("access_keys", tmp.path()), "push", &checkout);
    job.forget_built(&["web"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(
            "Using the access keys in AWS_ACCESS_KEY_ID as they are, as arn:aws:iam::123456789012:"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--credentials keys; the OIDC token in CIRCLE_OIDC_TOKEN_V2 is not used"),
        "{}",
        out.stdout
    );
    assert!(
        !out.all().contains(&sb.env["AWS_SECRET_ACCESS_KEY"]),
        "the secret key leaked"
    );
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(tags("web"), json!([sha, "v0"]));

    // OIDC, private ECR and Fargate: the project sets AWS_ROLE_ARN.
    let oidc = job.with_env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci");
    let out = oidc.run_config(
        &example("oidc_private_ecr_fargate", tmp.path()),
        "deploy",
        &checkout,
    );
    oidc.forget_built(&["web"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("with the OIDC token from CIRCLE_OIDC_TOKEN_V2"),
        "{}",
        out.stdout
    );
    let (digest, image) = {
        let v = sb.boto3(&format!("d = [i['imageDigest'] for i in ecr.describe_images(repositoryName='web')['imageDetails'] if '{sha}' in i.get('imageTags', [])][0]\ns = ecs.describe_services(cluster='production', services=['web'])['services'][0]\nprint(json.dumps([d, ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']['containerDefinitions'][0]['image']]))"));
        (
            v[0].as_str().unwrap().to_string(),
            v[1].as_str().unwrap().to_string(),
        )
    };
    assert!(
        image.ends_with(&format!("/web@{digest}")),
        "the service runs {image}"
    );

    // ECR Public, tagged with the release tag.
    let out = oidc.run_config(&example("ecr_public", tmp.path()), "release", &checkout);
    oidc.forget_built(&["tool"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let public = sb.boto3("import boto3 as b\npub = b.client('ecr-public', **kw)\nprint(json.dumps(sorted(t for i in pub.describe_images(repositoryName='tool')['imageDetails'] for t in i.get('imageTags', []))))");
    assert_eq!(public, json!(["latest", "v1.2.3"]));

    // arm64 on this amd64 machine, which has no buildx: the classic builder without its cache,
    // said in the output, and the push checks the platform.
    let arm = config(tmp.path(), "arm64", "version: 2.1\norbs:\n  stevedore: stevedore-ci/stevedore@1.0.0\nworkflows:\n  images:\n    jobs:\n      - stevedore/build_and_push_image:\n          repo: web-arm\n          create_repo: true\n          platform: linux/arm64\n          tag: ${CIRCLE_SHA1}-arm64\n");
    let out = oidc.run_config(&arm, "images", &checkout);
    oidc.forget_built(&["web-arm"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(
            "linux/arm64 is not this amd64 machine's platform and docker buildx is missing"
        ),
        "{}",
        out.stdout
    );
    let cfg = skopeo_config(
        &sb,
        &format!(
            "{}/web-arm:{sha}-arm64",
            sb.env["STEVEDORE_SANDBOX_REGISTRY"]
        ),
    );
    assert_eq!(
        (cfg["os"].as_str(), cfg["architecture"].as_str()),
        (Some("linux"), Some("arm64"))
    );

    // The private push, a public copy, then the deploy: the service runs the private image.
    std::fs::write(checkout.join("nonce"), format!("{nonce}-2")).unwrap();
    let copy = config(tmp.path(), "copy", "version: 2.1\norbs:\n  stevedore: stevedore-ci/stevedore@1.0.0\njobs:\n  release:\n    executor: stevedore/default\n    steps:\n      - checkout\n      - setup_remote_docker\n      - stevedore/install\n      - stevedore/auth\n      - stevedore/build_and_push:\n          repo: web\n          tag: v2\n      - run:\n          name: Copy to ECR Public\n          command: stevedore push --public --from web:v2 --repo web --create-repo --tag v2\n      - stevedore/deploy_service:\n          cluster: production\n          service: web\nworkflows:\n  release:\n    jobs:\n      - release\n");
    let out = oidc.run_config(&copy, "release", &checkout);
    oidc.forget_built(&["web"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = sb.boto3("import boto3 as b\npub = b.client('ecr-public', **kw)\nd = [i['imageDigest'] for i in ecr.describe_images(repositoryName='web')['imageDetails'] if 'v2' in i.get('imageTags', [])][0]\np = [i['imageDigest'] for i in pub.describe_images(repositoryName='web')['imageDetails'] if 'v2' in i.get('imageTags', [])][0]\ns = ecs.describe_services(cluster='production', services=['web'])['services'][0]\nprint(json.dumps([d, p, ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']['containerDefinitions'][0]['image']]))");
    assert_eq!(v[0], v[1], "the copy is the same image");
    let image = v[2].as_str().unwrap();
    assert!(
        image.starts_with(&sb.env["STEVEDORE_SANDBOX_REGISTRY"])
            && image.ends_with(&format!("/web@{}", v[0].as_str().unwrap())),
        "the service runs {image}, not the private push"
    );
}

/// A plain HTTP/1.0 GET; the whole answer.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A project whose image serves `/www` with busybox httpd on port 8080: `page` as its index,
/// or, when `None`, a CGI index that answers 500.
fn web_project(dir: &std::path::Path, page: Option<&str>) {
    std::fs::create_dir_all(dir.join("www/cgi-bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).expect("busybox-static (make deps)");
    match page {
        Some(p) => std::fs::write(dir.join("www/index.html"), p).unwrap(),
        None => {
            let cgi = dir.join("www/cgi-bin/index.cgi");
            std::fs::write(&cgi, "#!/bin/busybox sh\necho 'Status: 500 Internal Server Error'\necho 'Content-Type: text/plain'\necho\necho 'the database is gone'\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    scratch_dockerfile(dir, "COPY busybox /bin/busybox\nCOPY www /www\nEXPOSE 8080\nCMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
}

const RELEASE: &str = "version: 2.1
orbs:
  stevedore: stevedore-ci/stevedore@1.0.0
jobs:
  release:
    executor: stevedore/default
    steps:
      - checkout
      - setup_remote_docker
      - stevedore/install
      - stevedore/auth:
          role_name: circleci-deployer
      - stevedore/build_and_push:
          repo: web
          tag: ${CIRCLE_SHA1},latest
      - stevedore/run_task:
          cluster: production
          task_definition: web-migrate
          pushed_image: true
          command: '[\"/bin/busybox\", \"true\"]'
          launch_type: FARGATE
          subnets: subnet-0a1b2c3d
          security_groups: sg-0a1b2c3d
      - stevedore/deploy_service:
          cluster: production
          service: web
          rollback: true
          check_url: /
          check_timeout: 15s
workflows:
  release:
    jobs:
      - release
";

/// Docker mode, where the tasks are real containers: a migration with the pushed image, then a
/// deploy whose `check_url: /` is answered by the new task's busybox httpd on its public IP; then
/// an image whose page is a 500: the step fails with exit 3 naming the answer, and the service
/// is put back on the revision before (boto3).
#[test]
fn a_deploy_checks_that_the_new_tasks_answer_on_their_public_ip_and_rolls_back_when_not() {
    use crate::orb::{packed_orb, Files, Job};
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start_docker();
    sb.boto3("ecr.create_repository(repositoryName='web')\nprint(1)");
    let base = sb.push_runnable_image("web", "v0");
    sb.boto3(&FARGATE_WEB.replace("BASE", &format!("{base:?}")).replace("desiredCount=2", "desiredCount=1").replace(
        "print(1)",
        &format!("ecs.register_task_definition(family='web-migrate', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512', containerDefinitions=[{{'name': 'migrate', 'image': {base:?}}}])\nprint(1)"),
    ));
    sb.put_role("circleci-deployer", None, None);
    let files = Files::serve(&crate::orb::dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    let release = config(tmp.path(), "release", RELEASE);

    let nonce = format!("{}-{}", std::process::id(), free_port());
    let good = tmp.path().join("good");
    web_project(&good, Some(&format!("hello from {nonce}\n")));
    let out = job.run_config(&release, "release", &good);
    job.forget_built(&["web"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = &out.stdout;
    assert!(
        text.contains("Essential container in task exited (migrate exited 0)"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("checked http://127.77."))
        .unwrap_or_else(|| panic!("no check line: {text}"));
    assert!(line.contains(":8080/: answered 200 in "), "{line}");
    // The address checked is the one EC2 answers for the task's interface, and it serves the page.
    let ip = sb.boto3("import boto3 as b\nec2 = b.client('ec2', **kw)\nt = ecs.describe_tasks(cluster='production', tasks=ecs.list_tasks(cluster='production', serviceName='web')['taskArns'])['tasks'][0]\neni = [d['value'] for d in t['attachments'][0]['details'] if d['name'] == 'networkInterfaceId'][0]\nprint(json.dumps(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])['NetworkInterfaces'][0]['Association']['PublicIp']))");
    let ip = ip.as_str().unwrap();
    assert!(
        line.starts_with(&format!("checked http://{ip}:8080/")),
        "{line} vs {ip}"
    );
    let page = http_get(&format!("{ip}:8080"), "/");
    assert!(
        page.starts_with("HTTP/1.0 200") || page.starts_with("HTTP/1.1 200"),
        "{page}"
    );
    assert!(
        page.ends_with(&format!("\r\n\r\nhello from {nonce}\n")),
        "{page}"
    );

    let bad = tmp.path().join("bad");
    web_project(&bad, None);
    let out = job.run_config(&release, "release", &bad);
    job.forget_built(&["web"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains(":8080/ answered 500, expected 2xx ("),
        "{}",
        out.stdout
    );
    let td = sb.boto3("print(json.dumps(ecs.describe_services(cluster='production', services=['web'])['services'][0]['taskDefinition'].rsplit('/', 1)[1]))");
    assert_eq!(
        td,
        json!("web:2"),
        "rolled back to the revision the first run deployed"
    );
}

/// `--verify` is told where the new tasks answer: the URL of each task's public IP, as EC2's
/// DescribeNetworkInterfaces (boto3) has it for the interface DescribeTasks names; and EC2's
/// errors reach boto3 in EC2's shape.
#[test]
fn verify_is_told_the_new_tasks_public_ips_as_ec2_answers_them() {
    let sb = SandboxProc::start();
    fargate_web(&sb);
    let v1 = sb.push_image("web", "v1", &[]);
    let home = tempfile::tempdir().unwrap();
    let seen = home.path().join("seen");
    let verify = format!(
        "printf '%s\\n---\\n%s\\n---\\n%s\\n' \"$STEVEDORE_VERIFY_URLS\" \"$STEVEDORE_VERIFY_PUBLIC_IPS\" \"$STEVEDORE_VERIFY_PORT\" > {}",
        seen.display()
    );
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "production",
        "--service",
        "web",
        "--image",
        &v1,
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
        "--verify",
        &verify,
        "--check-url",
        "/",
    ])
    .sandbox(&sb, true)
    .env(
        "BASH_ENV",
        home.path().join("bash_env").display().to_string(),
    )
    .run()
    .success();
    let ips = sb.boto3("import boto3 as b\nec2 = b.client('ec2', **kw)\nts = ecs.describe_tasks(cluster='production', tasks=ecs.list_tasks(cluster='production', serviceName='web')['taskArns'])['tasks']\nts = [t for t in ts if t['taskDefinitionArn'].endswith('web:2')]\nenis = [[d['value'] for d in t['attachments'][0]['details'] if d['name'] == 'networkInterfaceId'][0] for t in ts]\nnis = ec2.describe_network_interfaces(NetworkInterfaceIds=enis)['NetworkInterfaces']\nprint(json.dumps(sorted(n['Association']['PublicIp'] for n in nis)))");
    let ips: Vec<String> = serde_json::from_value(ips).unwrap();
    assert_eq!(ips.len(), 2, "{ips:?}");
    let text = std::fs::read_to_string(&seen).unwrap();
    let parts: Vec<&str> = text.split("\n---\n").collect();
    let mut urls: Vec<&str> = parts[0].lines().collect();
    urls.sort();
    let want: Vec<String> = ips.iter().map(|ip| format!("http://{ip}:8080")).collect();
    assert_eq!(urls, want, "{text}");
    let mut public: Vec<&str> = parts[1].lines().collect();
    public.sort();
    assert_eq!(public, ips);
    assert_eq!(parts[2].trim(), "8080");
    // The same URLs are left for the job's later steps.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". {}; printf '%s' \"$STEVEDORE_SERVICE_URLS\"",
            home.path().join("bash_env").display()
        ))
        .output()
        .unwrap();
    let sourced = String::from_utf8(sourced.stdout).unwrap();
    let mut handed: Vec<&str> = sourced.lines().collect();
    handed.sort();
    assert_eq!(handed, want);
    for ip in &ips {
        assert!(
            out.stdout
                .contains(&format!("checked http://{ip}:8080/: answered 200 in ")),
            "{}",
            out.stdout
        );
    }
    // EC2's own error shape, as boto3 reads it.
    let e = sb.boto3("import boto3 as b, botocore\nec2 = b.client('ec2', **kw)\ntry:\n    ec2.describe_network_interfaces(NetworkInterfaceIds=['eni-0000000000000dead'])\n    print(json.dumps('answered'))\nexcept botocore.exceptions.ClientError as e:\n    print(json.dumps([e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]))");
    assert_eq!(e, json!(["InvalidNetworkInterfaceID.NotFound", 400]));
}

/// `--check-url` and its companions are checked before anything is registered.
#[test]
fn check_url_input_is_refused_before_anything_is_registered() {
    let sb = SandboxProc::start();
    fargate_web(&sb);
    let v1 = sb.push_image("web", "v1", &[]);
    let common = [
        "deploy",
        "--cluster",
        "production",
        "--service",
        "web",
        "--image",
        &v1,
    ];
    for (extra, names) in [
        (vec!["--check-url", "health"], "--check-url"),
        (vec!["--check-url"], "--check-url"),
        (
            vec!["--check-url", "/", "--expect-status", "700"],
            "--expect-status",
        ),
        (
            vec!["--check-url", "/", "--check-timeout", "soon"],
            "--check-timeout",
        ),
        (
            vec!["--check-url", "/", "--wait-until", "none"],
            "--check-url",
        ),
    ] {
        let mut args = common.to_vec();
        args.extend(&extra);
        let out = stevedore(&args).sandbox(&sb, true).run();
        assert_eq!(out.code, 2, "{extra:?}: {}", out.all());
        let line = out.stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "{extra:?}: {line}");
        assert!(line.contains(names), "{extra:?}: {line}");
    }
    assert_eq!(web_revisions(&sb), 1, "nothing was registered");
}

/// A blue/green service is checked at its pause hook with `--verify`: `--check-url`, which would
/// not run there, is refused before anything is registered rather than skipped.
#[test]
fn check_url_on_a_blue_green_service_is_refused_not_skipped() {
    let (sb, v2) = crate::strategies::with_service("'strategy': 'BLUE_GREEN'");
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--image",
        &v2,
        "--check-url",
        "/",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("--check-url checks a rolling deployment once it completes, and service web deploys BLUE_GREEN"),
        "{}",
        out.stderr
    );
    assert_eq!(web_revisions(&sb), 1, "nothing was registered");
}

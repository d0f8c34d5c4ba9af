//! Regression tests for the holes issue #12 lists, one per numbered finding, named after it: what
//! an attacker or an unlucky user found, and what stevedore does about it now.

use crate::harness::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sha256_hex(bytes: &[u8]) -> String {
    stevedore::image::source::sha256_hex(bytes)
}

/// A tarball at `out` holding `files` (name → bytes) and `links` (name → symlink target).
fn tarball(out: &Path, files: &[(&str, Vec<u8>)], links: &[(&str, &str)]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Raw names: the builder's own path checks would refuse the hostile ones.
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        h.set_cksum();
        b.append(&h, &bytes[..]).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_link_name(target).unwrap();
        h.set_mode(0o777);
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    b.finish().unwrap();
}

/// A one-layer image config for a layer whose uncompressed content is `layer`.
fn config_for(layer: &[u8]) -> Vec<u8> {
    json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(layer))]}})
    .to_string()
    .into_bytes()
}

/// Push an archive as the sandbox's admin to repository `repo`.
fn push_archive(sb: &SandboxProc, archive: &Path, repo: &str) -> Output {
    stevedore(&[
        "push",
        "--repo",
        repo,
        "--create-repo",
        "--tag",
        "v1",
        "--archive",
        archive.to_str().unwrap(),
    ])
    .sandbox(sb, true)
    .run()
}

/// The tags of a repository in the sandbox's ECR (none when it has no image).
fn tags(sb: &SandboxProc, repo: &str) -> serde_json::Value {
    sb.boto3(&format!(
        "try:\n    r = ecr.describe_images(repositoryName={repo:?})['imageDetails']\nexcept Exception:\n    r = []\nprint(json.dumps([t for i in r for t in i.get('imageTags', [])]))"
    ))
}

#[test]
fn finding_1_a_hostile_archive_cannot_upload_host_files() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    // A host file the archive tries to smuggle out, as ~/.docker/config.json would be.
    let secret = work.path().join("host-secret.json");
    std::fs::write(&secret, br#"{"auths": {"canary": "SECRET-CANARY-41"}}"#).unwrap();
    let secret_path = secret.to_str().unwrap().to_string();
    let layer = b"not really a tar, but hashed as one".to_vec();
    let config = config_for(&layer);
    let up = "../".repeat(12) + secret_path.trim_start_matches('/');
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        {
            let p = work.path().join("absolute-config.tar");
            let m = json!([{"Config": secret_path, "Layers": []}]).to_string();
            tarball(&p, &[("manifest.json", m.into_bytes())], &[]);
            ("Config as an absolute host path", p, "is absolute")
        },
        {
            let p = work.path().join("dotdot-config.tar");
            let m = json!([{"Config": up, "Layers": []}]).to_string();
            tarball(&p, &[("manifest.json", m.into_bytes())], &[]);
            ("Config climbing out with ..", p, "goes up with '..'")
        },
        {
            let p = work.path().join("linked-config.tar");
            let m = json!([{"Config": "config.json", "Layers": []}]).to_string();
            tarball(
                &p,
                &[("manifest.json", m.into_bytes())],
                &[("config.json", &secret_path)],
            );
            (
                "Config through a symlink to the host",
                p,
                "points to an absolute path",
            )
        },
        {
            let p = work.path().join("linked-layer.tar");
            let m = json!([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).to_string();
            tarball(
                &p,
                &[
                    ("manifest.json", m.into_bytes()),
                    ("c.json", config.clone()),
                ],
                &[("l/layer.tar", &up)],
            );
            (
                "a layer through a relative symlink out",
                p,
                "points outside the archive",
            )
        },
        {
            let p = work.path().join("dotdot-entry.tar");
            tarball(&p, &[("../../escaped.txt", b"x".to_vec())], &[]);
            ("an entry named ../..", p, "goes up with '..'")
        },
    ];
    for (what, archive, why) in cases {
        let out = push_archive(&sb, &archive, "hostile");
        assert_eq!(out.code, 2, "{what}: {}", out.all());
        assert!(out.stderr.contains(why), "{what}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{what}: {}",
            out.stderr
        );
        assert!(!out.all().contains("SECRET-CANARY-41"), "{what}");
    }
    assert_eq!(tags(&sb, "hostile"), json!([]), "nothing was pushed");
    assert!(!work.path().join("escaped.txt").exists());

    // A gzip layer whose content does not match the config's diff id is refused too.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"other content").unwrap();
        e.finish().unwrap()
    };
    let p = work.path().join("gzip-layer.tar");
    let m = json!([{"Config": "c.json", "Layers": ["layer.tar.gz"]}]).to_string();
    tarball(
        &p,
        &[
            ("manifest.json", m.into_bytes()),
            ("c.json", config),
            ("layer.tar.gz", gz),
        ],
        &[],
    );
    let out = push_archive(&sb, &p, "hostile");
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    assert_eq!(tags(&sb, "hostile"), json!([]));
}

#[test]
fn finding_7_a_decompression_bomb_is_refused_within_the_stated_limit() {
    let work = tempfile::tempdir().unwrap();
    // 1.1 GiB of zeros in a gzip of a few megabytes: past the 1 GiB allowance.
    let bomb = work.path().join("bomb.tar.gz");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {dir} && truncate -s 1100M zeros && tar --format=gnu -cf - zeros | gzip -1 > {out} && rm zeros",
            dir = work.path().display(),
            out = bomb.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(
        size * 50 < 1 << 30,
        "small enough that the 1 GiB allowance applies: {size}"
    );
    let out = stevedore(&["push", "--repo", "app", "--archive", bomb.to_str().unwrap()])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCOUNT_ID", "123456789012")
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .env("TMPDIR", work.path().to_str().unwrap())
        .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("unpacks to more than 1.07 GB"),
        "{}",
        out.stderr
    );
    // Nothing of it is left in the temporary directory.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "bomb.tar.gz")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn finding_3_secrets_land_only_in_owner_only_files() {
    let moto = Moto::start();
    // An existing world-readable $BASH_ENV (CircleCI creates it 0644) is made owner-only.
    let run = stevedore(&["auth", "--role-name", "deployer"]).aws(&moto.url);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    std::fs::write(&bash_env, "export EARLIER=1\n").unwrap();
    std::fs::set_permissions(
        &bash_env,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    run.env("BASH_ENV", bash_env.to_str().unwrap())
        .run()
        .success();
    assert!(read_exports(&bash_env).contains_key("AWS_SESSION_TOKEN"));
    assert_eq!(mode(&bash_env), 0o600);

    // A link planted where the profile's temporary file used to go redirects nothing.
    let run =
        stevedore(&["auth", "--role-name", "deployer", "--profile-name", "ci"]).aws(&moto.url);
    let home = run.home();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    let trap = home.path().join("attacker-reads-this");
    std::fs::write(&trap, "").unwrap();
    std::os::unix::fs::symlink(&trap, aws.join("credentials.stevedore-tmp")).unwrap();
    run.run().success();
    assert_eq!(
        std::fs::read_to_string(&trap).unwrap(),
        "",
        "nothing written through the link"
    );
    let creds = aws.join("credentials");
    assert!(std::fs::read_to_string(&creds).unwrap().contains("[ci]"));
    assert_eq!(mode(&creds), 0o600);

    // The same for docker's config.json, which `ecr login` fills with a registry password; an
    // existing world-readable one becomes owner-only.
    let run = stevedore(&["ecr", "login"]).aws(&moto.url);
    let home = run.home();
    let docker = home.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), "{}").unwrap();
    std::fs::set_permissions(
        docker.join("config.json"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let trap = home.path().join("attacker-reads-this-too");
    std::fs::write(&trap, "").unwrap();
    std::os::unix::fs::symlink(&trap, docker.join("config.json.stevedore-tmp")).unwrap();
    run.env("DOCKER_CONFIG", docker.to_str().unwrap())
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(&trap).unwrap(),
        "",
        "nothing written through the link"
    );
    assert!(std::fs::read_to_string(docker.join("config.json"))
        .unwrap()
        .contains("auths"));
    assert_eq!(mode(&docker.join("config.json")), 0o600);

    // A template cannot print a secret from the environment into the dry run's diff.
    let sb = SandboxProc::start();
    let image = sb.push_image("app", "v1", &[]);
    one_service(&sb, &image);
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.json.hbs");
    std::fs::write(
        &template,
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "{{image}}",
        "environment": [{"name": "LEAK", "value": "{{env.AWS_SECRET_ACCESS_KEY}}"}]}]}"#,
    )
    .unwrap();
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--dry-run",
        "--template",
        template.to_str().unwrap(),
        "--var",
        &format!("image={image}"),
    ])
    .sandbox(&sb, true)
    .run();
    let secret = &sb.env["AWS_SECRET_ACCESS_KEY"];
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        !out.all().contains(secret.as_str()),
        "the secret leaked: {}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("AWS_SECRET_ACCESS_KEY looks like a secret and is withheld"),
        "{}",
        out.stderr
    );
}

#[test]
fn finding_7_absurd_input_is_one_line_and_exit_2_before_any_call() {
    let sb = SandboxProc::start();
    let image = sb.push_image("app", "v1", &[]);
    one_service(&sb, &image);
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.hbs");
    std::fs::write(
        &deep,
        "{{#if a}}".repeat(20_000) + &"{{/if}}".repeat(20_000),
    )
    .unwrap();
    let nested = dir.path().join("nested.hbs");
    std::fs::write(&nested, "{{#if a}}".repeat(100) + &"{{/if}}".repeat(100)).unwrap();
    let many = dir.path().join("many.hbs");
    std::fs::write(&many, "{{a}}".repeat(50_000)).unwrap();
    let huge = dir.path().join("huge.json");
    std::fs::write(
        &huge,
        format!(
            "{{\"family\": \"web\", \"pad\": \"{}\"}}",
            "x".repeat(50 << 20)
        ),
    )
    .unwrap();
    let unwritable = dir.path().join("no-such-dir/out.json");
    let base = ["deploy", "--cluster", "c1", "--service", "web"];
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "timeout of 2^64 s",
            vec![
                "--image".into(),
                image.clone(),
                "--timeout".into(),
                "18446744073709551616s".into(),
            ],
            "--timeout",
        ),
        (
            "timeout of i64::MAX s",
            vec![
                "--image".into(),
                image.clone(),
                "--timeout".into(),
                "9223372036854775807s".into(),
            ],
            "--timeout",
        ),
        (
            "poll interval of 2^64 s",
            vec![
                "--image".into(),
                image.clone(),
                "--poll-interval".into(),
                "18446744073709551616".into(),
            ],
            "--poll-interval",
        ),
        (
            "poll interval 0",
            vec![
                "--image".into(),
                image.clone(),
                "--poll-interval".into(),
                "0s".into(),
            ],
            "--poll-interval",
        ),
        (
            "timeout 0",
            vec![
                "--image".into(),
                image.clone(),
                "--timeout".into(),
                "0s".into(),
            ],
            "--timeout",
        ),
        (
            "a template nested 20,000 deep",
            vec!["--template".into(), deep.display().to_string()],
            "more than the 262 kB",
        ),
        (
            "a template nested 100 deep",
            vec!["--template".into(), nested.display().to_string()],
            "nest 100 deep",
        ),
        (
            "a template of 50,000 expressions",
            vec!["--template".into(), many.display().to_string()],
            "50000 expressions",
        ),
        (
            "a 50 MB task definition file",
            vec!["--task-definition-file".into(), huge.display().to_string()],
            "more than the 1.05 MB",
        ),
        (
            "/dev/zero as a task definition file",
            vec!["--task-definition-file".into(), "/dev/zero".into()],
            "is not a regular file",
        ),
        (
            "an unwritable --output-file",
            vec![
                "--image".into(),
                image.clone(),
                "--output-file".into(),
                unwritable.display().to_string(),
            ],
            "--output-file",
        ),
    ];
    for (what, extra, named) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().map(String::as_str));
        let started = std::time::Instant::now();
        let out = stevedore(&args).sandbox(&sb, true).run();
        assert_eq!(out.code, 2, "{what}: {}", out.all());
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{what}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(named), "{what}: {}", out.stderr);
        assert!(
            started.elapsed().as_secs() < 20,
            "{what} took {:?}",
            started.elapsed()
        );
    }
    // --service ',' names no service: refused, not "done".
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        ",",
        "--image",
        &image,
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("no service named"), "{}", out.stderr);
    // None of it registered or updated anything.
    let td = sb.boto3("print(json.dumps([ecs.list_task_definitions()['taskDefinitionArns'], ecs.describe_services(cluster='c1', services=['web'])['services'][0]['taskDefinition']]))");
    assert_eq!(
        td,
        json!([
            ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"],
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
        ])
    );
}

#[test]
fn finding_4_digest_pinning_fails_closed() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    one_service(&sb, &v1);
    // ECR cannot hand out a registry token: whether the image's registry is ECR is unknown.
    sb.control(
        "PUT",
        "/_sandbox/faults",
        r#"{"error_share": 1.0, "operations": ["GetAuthorizationToken"]}"#,
    );
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            "--cluster",
            "c1",
            "--service",
            "web",
            "--image",
            &v2,
            "--poll-interval",
            "200ms",
        ];
        args.extend_from_slice(extra);
        stevedore(&args).sandbox(&sb, true).run()
    };
    let out = deploy(&[]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains(&format!("cannot pin {v2} to a digest")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--pin-digests=false"), "{}", out.stderr);
    let tds = sb.boto3("print(json.dumps(ecs.list_task_definitions()['taskDefinitionArns']))");
    assert_eq!(
        tds.as_array().unwrap().len(),
        1,
        "nothing registered: {tds}"
    );
    // Accepting tags is a choice the user states.
    let out = deploy(&["--pin-digests=false"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let image = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='web:2')['taskDefinition']['containerDefinitions'][0]['image']))");
    assert_eq!(image.as_str().unwrap(), v2);
}

#[test]
fn finding_5_a_later_step_re_assumes_with_what_the_auth_step_recorded() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    one_service(&sb, &v1);
    // The orb's auth step: the role is a parameter of this step only.
    let token = sb.token(&["--project", "proj-1"]);
    let auth = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &token);
    let home = auth.home();
    let bash_env = home.path().join("bash_env");
    auth.env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    let exported = read_exports(&bash_env);
    assert!(
        !std::fs::read_to_string(&bash_env).unwrap().contains(&token),
        "the token is never recorded"
    );
    // The deploy step: what $BASH_ENV holds and the job's token, no role; the sandbox clock
    // jumps past the credentials' expiry during the wait.
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 1}"#);
    let jump = sb.control_later(vec![(
        1500,
        "POST",
        "/_sandbox/clock",
        r#"{"advance": 3700}"#.into(),
    )]);
    let mut run = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--image",
        &v2,
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
    ])
    .sandbox(&sb, false)
    .env("CIRCLE_OIDC_TOKEN_V2", &token);
    for (k, v) in &exported {
        run = run.env(k, v);
    }
    let out = run.run();
    jump.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("re-assumed arn:aws:iam::123456789012:role/circleci-deployer"),
        "{}",
        out.stdout
    );
    // What made it possible: the role the auth step recorded for later steps.
    assert!(
        exported.contains_key("STEVEDORE_REASSUME_ROLE_ARN"),
        "{exported:?}"
    );
}

/// An endpoint that accepts connections and never answers, as a stopped or wedged one does.
struct BlackHole {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((s, _)) = listener.accept() {
                    held.push(s);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        BlackHole { url, stop }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn finding_6_the_deadline_holds_against_a_hung_endpoint_and_transient_errors_are_not_fatal() {
    let hole = BlackHole::start();
    let started = std::time::Instant::now();
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--image",
        "app:v2",
        "--timeout",
        "20s",
    ])
    .aws(&hole.url)
    .env("AWS_MAX_ATTEMPTS", "5")
    .run();
    let took = started.elapsed();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(took.as_secs_f64() < 25.0, "took {took:?}");
    assert!(took.as_secs_f64() >= 19.0, "gave up early: {took:?}");
    assert!(
        out.all()
            .contains("did not answer DescribeServices before the deadline"),
        "{}",
        out.all()
    );

    // Transient 5xx while following the rollout: said once, followed to the end, exit 0.
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    one_service(&sb, &v1);
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 1}"#);
    let storm = sb.control_later(vec![
        (
            1200,
            "PUT",
            "/_sandbox/faults",
            r#"{"error_share": 1.0, "operations": ["DescribeServices"]}"#.into(),
        ),
        (1500, "PUT", "/_sandbox/faults", "{}".into()),
    ]);
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--image",
        &v2,
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
    ])
    .sandbox(&sb, true)
    .run();
    storm.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stdout
            .matches("the rollout goes on in ECS, still following it")
            .count(),
        1,
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("web: deployed web:2"), "{}", out.stdout);
}

/// A cluster `c1` with a service `web` running one task of family `web:1` (`image`).
fn one_service(sb: &SandboxProc, image: &str) {
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\necs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {image:?}}}])\necs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\nprint(1)"));
}

/// DescribeServices calls the sandbox has answered so far.
fn describe_services_calls(sb: &SandboxProc) -> usize {
    sb.control_get("/_sandbox/calls")
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == "ECS.DescribeServices")
        .count()
}

#[test]
fn finding_8_twenty_services_share_their_describe_services_calls() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    let names: Vec<String> = (0..20).map(|i| format!("web{i}")).collect();
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v1:?}}}])\n\
         for n in {names:?}: ecs.create_service(cluster='c1', serviceName=n, taskDefinition='web:1', desiredCount=1)\n\
         print(1)"
    ));
    // Let the services settle, then roll out in real time, so a rollout spans many polls.
    std::thread::sleep(std::time::Duration::from_millis(800));
    sb.control("POST", "/_sandbox/clock", r#"{"speed": 1}"#);
    let deploy = |services: &str| {
        let before = describe_services_calls(&sb);
        let started = std::time::Instant::now();
        stevedore(&[
            "deploy",
            "--cluster",
            "c1",
            "--service",
            services,
            "--image",
            &v2,
            "--poll-interval",
            "300ms",
            "--timeout",
            "60s",
        ])
        .sandbox(&sb, true)
        .run()
        .success();
        (
            describe_services_calls(&sb) - before,
            started.elapsed().as_secs_f64(),
        )
    };
    let (one, one_secs) = deploy("web0");
    let (twenty, twenty_secs) = deploy(&names[1..].join(","));
    eprintln!("DescribeServices: 1 service {one} calls in {one_secs:.1} s; 19 services {twenty} calls in {twenty_secs:.1} s");
    // Unbatched, 19 services poll 19 times as often as one; batched, two calls (10 + 9) a poll,
    // plus one fresh read as each service's update returns.
    let per_second_one = one as f64 / one_secs;
    let per_second_many = twenty as f64 / twenty_secs;
    assert!(
        per_second_many <= 4.0 * per_second_one + 1.0,
        "19 services made {twenty} calls in {twenty_secs:.1} s against {one} in {one_secs:.1} s for one"
    );
}

/// POST an awsJson1_1 request to the sandbox signed with its admin keys for `region` and
/// `service` at `time`; `tamper` may edit the Authorization header. The status and body.
fn signed_call(
    sb: &SandboxProc,
    target: &str,
    region: &str,
    service: &str,
    time: std::time::SystemTime,
    tamper: impl Fn(String) -> String,
) -> (u16, String) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use std::io::{Read, Write};
    let url = &sb.env["AWS_ENDPOINT_URL"];
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let creds = aws_credential_types::Credentials::new(
        &sb.env["AWS_ACCESS_KEY_ID"],
        &sb.env["AWS_SECRET_ACCESS_KEY"],
        None,
        None,
        "test",
    );
    let identity = creds.into();
    let body = "{}";
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target),
    ];
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let full = format!("{url}/");
    let signable = SignableRequest::new(
        "POST",
        &full,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in instructions.headers() {
        let v = if k.eq_ignore_ascii_case("authorization") {
            tamper(v.to_string())
        } else {
            v.to_string()
        };
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    (
        status,
        reply
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn finding_9_the_sandbox_refuses_what_aws_refuses() {
    let sb = SandboxProc::start();
    let now = std::time::SystemTime::now();
    let ecs = "AmazonEC2ContainerServiceV20141113.DescribeClusters";
    let same = |a: String| a;
    // The control: a well-signed request is answered.
    let (status, body) = signed_call(&sb, ecs, "us-east-1", "ecs", now, same);
    assert_eq!(status, 200, "{body}");
    let cases: Vec<(&str, (u16, String), &str)> = vec![
        (
            "a date two years off",
            signed_call(
                &sb,
                ecs,
                "us-east-1",
                "ecs",
                now - std::time::Duration::from_secs(2 * 365 * 86_400),
                same,
            ),
            "Signature expired",
        ),
        (
            "a date an hour ahead",
            signed_call(
                &sb,
                ecs,
                "us-east-1",
                "ecs",
                now + std::time::Duration::from_secs(3600),
                same,
            ),
            "Signature not yet current",
        ),
        (
            "a scope for another service",
            signed_call(&sb, ecs, "us-east-1", "ecr", now, same),
            "Credential should be scoped to correct service: 'ecs'",
        ),
        (
            "ECR Public outside us-east-1",
            signed_call(
                &sb,
                "SpencerFrontendService.DescribeRepositories",
                "eu-west-1",
                "ecr-public",
                now,
                same,
            ),
            "Credential should be scoped to a valid region",
        ),
        (
            "an unsigned host header",
            signed_call(&sb, ecs, "us-east-1", "ecs", now, |a| {
                a.replace(
                    "SignedHeaders=content-type;host;",
                    "SignedHeaders=content-type;",
                )
            }),
            "'Host' or ':authority' must be a 'SignedHeader'",
        ),
    ];
    for (what, (status, body), says) in cases {
        assert_eq!(status, 403, "{what}: {body}");
        assert!(body.contains(says), "{what}: {body}");
    }
    // ECS's name rules, through boto3.
    let refused = sb.boto3("import botocore\nout = []\nfor kind, name in [('cluster', 'x' * 300), ('cluster', 'caf\\u00e9'), ('service', 's' * 300), ('service', 'caf\\u00e9')]:\n    try:\n        if kind == 'cluster':\n            ecs.create_cluster(clusterName=name)\n        else:\n            ecs.create_cluster(clusterName='c1'); ecs.register_task_definition(family='f', containerDefinitions=[{'name': 'a', 'image': 'x'}]); ecs.create_service(cluster='c1', serviceName=name, taskDefinition='f')\n        out.append('accepted')\n    except botocore.exceptions.ClientError as e:\n        out.append(e.response['Error']['Code'])\nprint(json.dumps(out))");
    assert_eq!(refused, json!(vec!["InvalidParameterException"; 4]));
    // A registry push to a repository ECR does not have: NAME_UNKNOWN, as ECR answers.
    let work = tempfile::tempdir().unwrap();
    let layout = sb.oci_layout(work.path());
    let certs = sb.cert_dir(work.path());
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-creds", &sb.registry_creds()])
        .arg(format!("--dest-cert-dir={}", certs.display()))
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!(
            "docker://{}/never-created:v1",
            sb.env["STEVEDORE_SANDBOX_REGISTRY"]
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success());
    assert!(
        err.contains("name unknown") || err.contains("name_unknown"),
        "{err}"
    );
}

//! The promises the README's security section makes, each tried by a test that sets out to break
//! it (issue #29): the registry credential goes only to its origin, what tasks and AWS send is
//! data (escaped, every line prefixed), secret values are hidden in what is printed and stored,
//! and what comes from outside is bounded.

use crate::harness::*;
use crate::signing::{layout, push};
use serde_json::{json, Value};

/// The registry calls the sandbox's fronts answered since the last reset.
fn registry_calls(sb: &SandboxProc) -> Vec<Value> {
    sb.control_get("/_sandbox/registry-calls")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_registry_credential_never_reaches_another_origin_or_plain_http() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let host = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    let port = host.rsplit(':').next().unwrap().to_string();

    // A Location on plain HTTP, served by a recorder on loopback: refused before connecting.
    let recorder = Scripted::start(vec![(201, String::new()); 4]);
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        &json!({"upload_location": recorder.url}).to_string(),
    );
    let out = push(&sb, &layout(work.path(), 1), "v1", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("refusing plain HTTP"), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim().lines().count(),
        1,
        "one line: {}",
        out.stderr
    );
    assert_eq!(recorder.request_count(), 0, "the HTTP recorder was reached");

    // A Location on another origin (the same registry under another name, so the request is
    // answered and recorded): the blob goes there without the credential, and the registry's
    // refusal ends the push with one line.
    sb.control("DELETE", "/_sandbox/registry-calls", "");
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        &json!({"upload_location": format!("https://localhost:{port}")}).to_string(),
    );
    let out = push(&sb, &layout(work.path(), 2), "v2", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr
            .contains("sends the registry's credential only to"),
        "{}",
        out.stderr
    );
    let calls = registry_calls(&sb);
    let puts: Vec<&Value> = calls
        .iter()
        .filter(|c| c["method"] == "PUT" && c["path"].as_str().unwrap().contains("/blobs/uploads/"))
        .collect();
    assert!(
        !puts.is_empty(),
        "no upload reached the other origin: {calls:?}"
    );
    assert!(
        puts.iter().all(|c| c["authorization"] == false),
        "the credential went to another origin: {puts:?}"
    );
    let starts = calls
        .iter()
        .filter(|c| c["method"] == "POST")
        .collect::<Vec<_>>();
    assert!(
        !starts.is_empty() && starts.iter().all(|c| c["authorization"] == true),
        "the registry itself still gets the credential: {starts:?}"
    );

    // Without the fault the same push goes through: the check is of the origin, not of pushes.
    sb.control("PUT", "/_sandbox/registry-faults", "{}");
    push(&sb, &layout(work.path(), 3), "v3", &[]).success();
}

/// What a hostile container prints: an OSC 52 clipboard write, cursor-up + erase-line, a
/// carriage return over a forged verdict, NUL, BEL and a C1 control.
const HOSTILE: &str = "\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\n\u{1b}[1A\u{1b}[2Kdeployed web: FORGED\nok\rdeployed web: FORGED\nnul\u{0}bel\u{7}nel\u{85}end";

#[test]
fn a_task_cannot_write_terminal_commands_or_a_line_of_its_own_into_the_job_log() {
    let sb = SandboxProc::start();
    let image = sb.push_image(
        "migrate",
        "hostile",
        &[
            ("stevedore.sandbox.exit-code", "3"),
            ("stevedore.sandbox.exit-after", "1"),
            ("stevedore.sandbox.log-lines", HOSTILE),
        ],
    );
    let good = sb.push_image("app", "v1", &[]);
    let logging = "'logConfiguration': {'logDriver': 'awslogs', 'options': {'awslogs-group': '/ecs/m', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs'}}";
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='m', containerDefinitions=[{{'name': 'm', 'image': {image:?}, {logging}}}])\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {image:?}, {logging}}}])\n\
         ecs.register_task_definition(family='good', containerDefinitions=[{{'name': 'app', 'image': {good:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='good:1', desiredCount=1,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': True, 'rollback': False}}}})\n\
         print(1)"
    ));
    let ran = stevedore(&[
        "run-task",
        "--cluster",
        "c1",
        "--task-definition",
        "m",
        "--poll-interval",
        "200ms",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(ran.code, 3, "{}", ran.all());
    let deployed = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--task-definition",
        "web",
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
    ])
    .sandbox(&sb, true)
    .run();
    assert_ne!(deployed.code, 0, "{}", deployed.all());
    for out in [&ran, &deployed] {
        let all = out.all();
        for bad in ['\u{1b}', '\r', '\u{0}', '\u{7}', '\u{85}'] {
            assert!(!all.contains(bad), "{bad:?} reached the log raw:\n{all}");
        }
        assert!(
            all.contains("\\x1b]52;c;"),
            "the OSC 52 write is shown escaped:\n{all}"
        );
        assert!(all.contains("ok\\rdeployed web: FORGED"), "{all}");
        assert!(all.contains("nul\\x00bel\\x07nel\\u0085end"), "{all}");
        for line in all.lines().filter(|l| l.contains("FORGED")) {
            let relayed = line.trim_start().trim_start_matches("[web] ").trim_start();
            assert!(
                relayed.starts_with("m| ") || relayed.starts_with("app| "),
                "a line of the task's stands alone: {line:?}"
            );
        }
    }
}

const DB_CANARY: &str = "DBPASSWORD-CANARY-3c9e";
const TOKEN_CANARY: &str = "APITOKEN-CANARY-77d1";

#[test]
fn secret_named_variables_are_hidden_in_the_dry_run_and_every_report_file() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    crate::deploy::setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let work = tempfile::tempdir().unwrap();
    let env =
        format!("app:DB_PASSWORD={DB_CANARY}\napp:API_TOKEN={TOKEN_CANARY}\napp:MODE=staging");
    let base = |extra: &[&str]| {
        let mut args = vec!["--service", "web", "--image", v2.as_str()];
        args.extend_from_slice(extra);
        crate::deploy::deploy(&sb, &args).env("STEVEDORE_ENV", &env)
    };
    let dry = base(&["--dry-run"]).run().success();
    for canary in [DB_CANARY, TOKEN_CANARY] {
        assert!(
            !dry.all().contains(canary),
            "the dry run printed {canary}:\n{}",
            dry.all()
        );
    }
    assert!(
        dry.stdout
            .contains("+ containerDefinitions[app].environment[DB_PASSWORD]"),
        "the dry run still says the variable is added: {}",
        dry.stdout
    );
    assert!(dry.stdout.contains("(hidden, 22 B)"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("staging"),
        "other values show: {}",
        dry.stdout
    );

    // A report directory where a link to another file waits under a report's name.
    let reports = work.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let elsewhere = work.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, "untouched").unwrap();
    std::os::unix::fs::symlink(&elsewhere, reports.join("summary.md")).unwrap();
    let out = base(&["--report", reports.to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "untouched",
        "the link was followed"
    );
    for name in ["report.json", "report.html", "summary.md"] {
        let path = reports.join(name);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "{name} is a file, not a link");
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{name} is owner-only"
        );
        assert_eq!(meta.uid(), own_uid(), "{name} is the job's own");
        let text = std::fs::read_to_string(&path).unwrap();
        for canary in [DB_CANARY, TOKEN_CANARY] {
            assert!(!text.contains(canary), "{name} stores {canary}");
        }
    }
    let json = std::fs::read_to_string(reports.join("report.json")).unwrap();
    assert!(
        json.contains("environment[DB_PASSWORD]"),
        "the report names the change: {json}"
    );
    assert!(!out.all().contains(DB_CANARY), "{}", out.all());
    // The variable itself reached ECS: hidden from what is printed, not from the deploy.
    let registered = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='web')['taskDefinition']['containerDefinitions'][0]['environment']))");
    assert!(registered.to_string().contains(DB_CANARY), "{registered}");
}

/// This process's user id, read from a file it created (no libc call needed).
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid()
}

/// The revisions of family `web` registered so far.
fn web_revisions(sb: &SandboxProc) -> usize {
    sb.boto3("print(len(ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns']))")
        .as_u64()
        .unwrap() as usize
}

#[test]
fn a_required_signature_holds_on_every_path_that_runs_an_image() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    crate::signing::create_key(&sb, "ci-signing");
    let key = "awskms:///alias/ci-signing";
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    push(&sb, &layout(work.path(), 1), "good", &["--sign", key]).success();
    push(&sb, &layout(work.path(), 2), "bad", &[]).success();
    let (good, bad) = (
        format!("{registry}/team/app:good"),
        format!("{registry}/team/app:bad"),
    );
    crate::signing::service(&sb, &good);
    // A revision of the unsigned image, registered by someone else: what a promotion deploys.
    sb.boto3(&format!(
        "ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {bad:?}}}])\n\
         cluster = 'arn:aws:ecs:us-east-1:123456789012:cluster/c1'\n\
         scheduler.create_schedule(Name='nightly', ScheduleExpression='cron(0 3 * * ? *)', FlexibleTimeWindow={{'Mode': 'OFF'}},\n\
             Target={{'Arn': cluster, 'RoleArn': 'arn:aws:iam::123456789012:role/s', 'EcsParameters': {{'TaskDefinitionArn': 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:1'}}}})\n\
         print(1)"
    ));
    let file = |name: &str, image: &str, sidecar: Option<&str>| {
        let mut containers = vec![json!({"name": "app", "image": image})];
        if let Some(s) = sidecar {
            containers.push(json!({"name": "side", "image": s, "essential": false}));
        }
        let p = work.path().join(name);
        std::fs::write(
            &p,
            json!({"family": "web", "containerDefinitions": containers}).to_string(),
        )
        .unwrap();
        p.display().to_string()
    };
    let template = work.path().join("td.hbs");
    std::fs::write(
        &template,
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "{{image}}"}]}"#,
    )
    .unwrap();
    let template = template.display().to_string();
    let image_var = format!("image={bad}");
    let unsigned_file = file("bad.json", &bad, None);
    let schedule = || {
        sb.boto3("print(json.dumps(scheduler.get_schedule(Name='nightly')['Target']['EcsParameters']['TaskDefinitionArn']))")
    };
    let tasks = || {
        sb.boto3("print(sum(len(ecs.list_tasks(cluster='c1', startedBy='stevedore', desiredStatus=d)['taskArns']) for d in ['RUNNING', 'STOPPED']))")
    };
    let (before_tasks, before_schedule) = (tasks(), schedule());
    let with_key = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--require-signature", key]);
        stevedore(&all).sandbox(&sb, true).run()
    };
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            "--cluster",
            "c1",
            "--service",
            "web",
            "--poll-interval",
            "300ms",
            "--timeout",
            "60s",
        ];
        args.extend_from_slice(extra);
        with_key(&args)
    };
    #[rustfmt::skip]
    let refused: Vec<(&str, Output)> = vec![
        ("a task-definition file", deploy(&["--task-definition-file", &unsigned_file])),
        ("a template", deploy(&["--template", &template, "--var", &image_var])),
        ("a promotion", deploy(&["--task-definition", "web:2"])),
        ("the current revision", {
            sb.boto3("ecs.update_service(cluster='c1', service='web', taskDefinition='web:2')\nprint(1)");
            let out = deploy(&["--env", "app:MODE=x"]);
            sb.boto3("ecs.update_service(cluster='c1', service='web', taskDefinition='web:1')\nprint(1)");
            out
        }),
        ("run-task", with_key(&["run-task", "--cluster", "c1", "--task-definition", "web:2", "--poll-interval", "300ms"])),
        ("schedule", with_key(&["schedule", "--schedule", "nightly", "--task-definition", "web:2"])),
        ("a sidecar outside ECR", deploy(&["--task-definition-file", &file("side.json", &good, Some("busybox:1.36"))])),
    ];
    for (path, out) in &refused {
        assert_ne!(out.code, 0, "{path}: an unsigned image ran:\n{}", out.all());
        assert!(
            out.stderr.contains("no signature") || out.stderr.contains("is not in ECR"),
            "{path}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("nothing was registered"),
            "{path}: {}",
            out.stderr
        );
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{path}: one line: {}",
            out.stderr
        );
        assert_eq!(web_revisions(&sb), 2, "{path}: a revision was registered");
    }
    assert_eq!(tasks(), before_tasks, "run-task started a task");
    assert_eq!(schedule(), before_schedule, "the schedule moved");
    let svc = sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['web'])['services'][0]['taskDefinition']))");
    assert!(svc.as_str().unwrap().ends_with("web:1"), "{svc}");

    // The same paths with signed images go through, pinned to the verified digest; a sidecar
    // named by --allow-unsigned runs unverified, as said.
    let signed_file = file("good.json", &good, Some("busybox:1.36"));
    // Not followed: the sandbox has no busybox to pull, so the sidecar's tasks would not start.
    let out = deploy(&[
        "--task-definition-file",
        &signed_file,
        "--allow-unsigned",
        "busybox:",
        "--wait-until",
        "none",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("not verified: busybox:1.36 (--allow-unsigned)"),
        "{}",
        out.stdout
    );
    let images = sb.boto3("print(json.dumps([c['image'] for c in ecs.describe_task_definition(taskDefinition='web')['taskDefinition']['containerDefinitions']]))");
    assert!(
        images[0].as_str().unwrap().contains("/team/app@sha256:"),
        "{images}"
    );
    assert_eq!(images[1], json!("busybox:1.36"), "{images}");
    let out = with_key(&[
        "schedule",
        "--schedule",
        "nightly",
        "--task-definition",
        "web:1",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        schedule()
            .as_str()
            .unwrap()
            .contains("task-definition/web:"),
        "{}",
        out.all()
    );
}

/// A CircleCI-shaped v2 token whose `sub` and claims name `git_ref` of github.com/acme/app.
fn token_for(git_ref: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = json!({
        "iss": "https://oidc.circleci.com/org/org-1", "aud": "org-1",
        "sub": format!("org/org-1/project/p1/user/u1/vcs-origin/github.com/acme/app/vcs-ref/{git_ref}"),
        "exp": 4_102_444_800u64, "iat": 1_700_000_000u64,
        "oidc.circleci.com/vcs-origin": "github.com/acme/app",
        "oidc.circleci.com/vcs-ref": git_ref,
    });
    format!(
        "{}.{}.c2ln",
        e.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        e.encode(claims.to_string())
    )
}

#[test]
fn a_provenance_names_what_the_jobs_token_says_and_refuses_variables_that_disagree() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    crate::signing::create_key(&sb, "ci-signing");
    let key = "awskms:///alias/ci-signing";
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    let attested = |tag: &str, token: &str| {
        let l = layout(work.path(), tag.len() as u8);
        crate::signing::push_run(&sb, &l, tag, &["--sign", key, "--provenance"])
            .env("CIRCLE_OIDC_TOKEN_V2", token)
            .run()
    };
    // The job's variables say main (`in_job` sets CIRCLE_BRANCH=main); its token says feature.
    let out = attested("feature", &token_for("refs/heads/feature"));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("the job's OIDC token says the ref is refs/heads/feature, but CIRCLE_BRANCH/CIRCLE_TAG say refs/heads/main"),
        "{}",
        out.stderr
    );
    let tags = sb.boto3("try:\n    r = ecr.describe_images(repositoryName='team/app')['imageDetails']\nexcept Exception:\n    r = []\nprint(json.dumps(len(r)))");
    assert_eq!(tags, json!(0), "a refused provenance pushed something");
    // Token and variables agree: signed, and `verify --provenance-branch main` accepts it.
    attested("mainline", &token_for("refs/heads/main")).success();
    stevedore(&[
        "verify",
        &format!("{registry}/team/app:mainline"),
        "--key",
        key,
        "--provenance-branch",
        "main",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
}

/// A sandbox holding `team/app:v1` signed by alias/ci-signing, its registry then given `fault`;
/// the image's reference.
fn signed_behind_a_fault(fault: Value) -> (SandboxProc, String) {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    crate::signing::create_key(&sb, "ci-signing");
    push(
        &sb,
        &layout(work.path(), 1),
        "v1",
        &["--sign", "awskms:///alias/ci-signing"],
    )
    .success();
    sb.control("PUT", "/_sandbox/registry-faults", &fault.to_string());
    let image = format!("{}/team/app:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    (sb, image)
}

#[test]
fn a_512_mb_signature_manifest_is_refused_in_bounded_memory() {
    let (sb, image) = signed_behind_a_fault(json!({"huge_signature_manifest": 512u64 << 20}));
    let key = "awskms:///alias/ci-signing";
    let (out, peak) = stevedore(&["verify", &image, "--key", key])
        .sandbox(&sb, true)
        .run_measured();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr
            .contains("is more than the 4.19 MB stevedore reads"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    println!(
        "peak RSS of verify against a 512 MiB signature manifest: {} MiB",
        peak >> 20
    );
    // Read whole, the manifest alone would be 512 MiB (the unbounded reader held ~1 GiB). The
    // run's own footprint varies with the machine's load (33 MiB alone, 114 MiB seen under the
    // whole suite: allocator arenas of a debug build), so the bound is what proves the point:
    // well under the manifest's size.
    assert!(peak < 256 << 20, "verify held {} MiB", peak >> 20);
}

#[test]
fn what_the_verify_command_leaves_in_the_background_ends_with_the_check() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    crate::deploy::setup(&sb, &v1, "{'enable': True, 'rollback': False}");
    let work = tempfile::tempdir().unwrap();
    let pid_file = work.path().join("pid");
    // A check that passes and leaves a `sleep` behind, as `curl … &` or a port-forward would.
    let check = format!("sleep 300 & echo $! > {}; true", pid_file.display());
    let out = crate::deploy::deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--verify", &check],
    )
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(!pid.is_empty(), "the check did not run");
    // Killed with the check's group; a zombie is gone once its parent (sh, gone too) is reaped.
    let alive =
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !alive()
    });
    assert!(
        gone,
        "the check's background `sleep` ({pid}) outlived the deploy"
    );
}

#[test]
fn an_sbom_over_the_bound_is_refused_before_anything_is_pushed() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let sbom = work.path().join("sbom.json");
    // Sparse: 65 MiB as the file system says, nothing on disk.
    std::fs::File::create(&sbom)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let out = push(
        &sb,
        &layout(work.path(), 1),
        "v1",
        &["--sbom", sbom.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("is 68.2 MB, more than the 67.1 MB an SBOM may be"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    let repos = sb.boto3("print(json.dumps(len(ecr.describe_repositories()['repositories'])))");
    assert_eq!(repos, json!(0), "the refused push created the repository");
}

#[test]
fn a_registry_that_stops_sending_fails_the_call_at_the_read_deadline() {
    let (sb, image) = signed_behind_a_fault(json!({"stall_signature_manifest": true}));
    let key = "awskms:///alias/ci-signing";
    let out = stevedore(&["verify", &image, "--key", key])
        .sandbox(&sb, true)
        .env("STEVEDORE_REGISTRY_READ_TIMEOUT", "2s")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("reading manifest"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    let bad = stevedore(&["verify", &image, "--key", key])
        .sandbox(&sb, true)
        .env("STEVEDORE_REGISTRY_READ_TIMEOUT", "soon")
        .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr.contains("STEVEDORE_REGISTRY_READ_TIMEOUT=soon"),
        "{}",
        bad.stderr
    );
}

//! The orb end to end: a job of the packed orb, expanded as CircleCI does and run step by step in
//! bash (`tests/orb/circleci_job.py`, which says what of CircleCI it copies) against the sandbox, with the release archive of `make dist`
//! served from a local HTTP server and installed by the orb's own install command.

use crate::harness::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where the release archives the orb installs are: `$STEVEDORE_TEST_DIST` (`make test` packs its
/// debug build there), else `make dist`'s `dist/`.
pub(crate) fn dist_dir() -> PathBuf {
    std::env::var_os("STEVEDORE_TEST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("dist"))
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `python -m http.server` on a free port, killed on drop.
pub(crate) struct Files {
    child: Child,
    url: String,
}

impl Files {
    pub(crate) fn serve(dir: &Path) -> Files {
        let port = free_port();
        let child = Command::new(venv().join("bin/python"))
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Files {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A project with a Dockerfile: a static busybox, and the sandbox's crash labels when asked.
pub(crate) fn project(dir: &Path, crash: bool) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).expect("busybox-static (make deps)");
    let labels = if crash {
        "LABEL stevedore.sandbox.exit-code=3 stevedore.sandbox.exit-after=1\n"
    } else {
        ""
    };
    scratch_dockerfile(
        dir,
        &format!(
            "COPY busybox /bin/busybox\n{labels}CMD [\"/bin/busybox\", \"sleep\", \"3600\"]\n"
        ),
    );
}

pub(crate) struct Job<'a> {
    sb: &'a SandboxProc,
    token: String,
    orb: PathBuf,
    home: PathBuf,
    files: &'a Files,
    /// `CIRCLE_BUILD_NUM`, which names the image the job's `docker build` tags locally: a number
    /// of this job's own, as tests building in parallel share this machine's engine.
    pub(crate) build_num: u64,
    /// Variables the project (or a context) adds to every job.
    extra: Vec<(String, String)>,
}

impl<'a> Job<'a> {
    /// A job of the organization `org-sandbox`, project `p1`, its home under `tmp`.
    pub(crate) fn new(sb: &'a SandboxProc, orb: PathBuf, tmp: &Path, files: &'a Files) -> Job<'a> {
        let job = Job {
            sb,
            token: sb.token(&["--org", "org-sandbox", "--project", "p1"]),
            orb,
            home: tmp.join("home"),
            files,
            build_num: unique_number(),
            extra: vec![],
        };
        std::fs::create_dir_all(&job.home).unwrap();
        job
    }

    /// The project's (or a context's) variable `name`, in every job this runs.
    pub(crate) fn with_env(mut self, name: &str, value: &str) -> Job<'a> {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The local tag the orb's build of `repo` gives its image (`stevedore-build-<repo>:<num>`).
    pub(crate) fn built(&self, repo: &str) -> String {
        format!("stevedore-build-{repo}:{}", self.build_num)
    }

    /// Remove the images the jobs' `docker build` of these repositories left in this machine's
    /// engine (on CircleCI the remote engine goes with the job), so test runs do not fill it.
    pub(crate) fn forget_built(&self, repos: &[&str]) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force"])
            .args(repos.iter().map(|r| self.built(r)))
            .output();
    }

    /// Run `build_push_and_deploy` with a clean environment: what CircleCI gives a job, the
    /// sandbox's variables (no admin keys), and no stevedore on PATH.
    fn run(&self, checkout: &Path, tag: &str) -> Output {
        let params = [
            "repo=app".to_string(),
            format!("tag={tag},${{CIRCLE_BUILD_NUM}}"),
            "create_repo=true".into(),
            "keep_last=5".into(),
            "cluster=c1".into(),
            "service=web".into(),
            "container=app".into(),
            "role_name=ci".into(),
            "timeout=2m".into(),
            // The job's check of the new revision runs in the deploy step, told which service.
            "verify=test \"$STEVEDORE_VERIFY_SERVICE\" = web".into(),
        ];
        let out = self.run_job("build_push_and_deploy", checkout, &params);
        self.forget_built(&["app"]);
        out
    }

    /// Run one job of the packed orb with these parameters (and the local release archives).
    pub(crate) fn run_job(&self, job: &str, checkout: &Path, params: &[String]) -> Output {
        let work = tempfile::tempdir().unwrap();
        let mut cmd = self.harness();
        cmd.args(["--job", job, "--checkout"])
            .arg(checkout)
            .arg("--workdir")
            .arg(work.path());
        for p in params
            .iter()
            .cloned()
            .chain([format!("download_base_url={}", self.files.url)])
        {
            cmd.arg("--param").arg(p);
        }
        Self::output(cmd)
    }

    /// Run a workflow of a project config that imports the orb (each job on a fresh machine),
    /// with the local release archives as the orb's default download URL.
    pub(crate) fn run_config(&self, config: &Path, workflow: &str, checkout: &Path) -> Output {
        let mut cmd = self.harness();
        cmd.arg("--config")
            .arg(config)
            .args(["--workflow", workflow, "--checkout"])
            .arg(checkout)
            .arg("--default")
            .arg(format!("download_base_url={}", self.files.url));
        Self::output(cmd)
    }

    /// The harness with a clean environment: what CircleCI gives a job, the sandbox's
    /// variables (no admin keys), and no stevedore on PATH.
    fn harness(&self) -> Command {
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.arg(root().join("tests/orb/circleci_job.py"))
            .arg("--orb")
            .arg(&self.orb);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("CIRCLE_OIDC_TOKEN_V2", &self.token)
            .env("CIRCLE_SHA1", "0123456789abcdef0123456789abcdef01234567")
            .env("CIRCLE_BUILD_NUM", self.build_num.to_string())
            .env("CIRCLE_PROJECT_REPONAME", "demo");
        for (k, v) in &self.sb.env {
            let admin =
                k.starts_with("AWS_ACCESS_KEY_ID") || k.starts_with("AWS_SECRET_ACCESS_KEY");
            if !admin && !k.starts_with("STEVEDORE_SANDBOX") {
                cmd.env(k, v);
            }
        }
        cmd.envs(self.extra.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn output(mut cmd: Command) -> Output {
        let out = cmd.output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The orb packed with the archives of `make dist`, into `dir`.
pub(crate) fn packed_orb(dir: &Path) -> PathBuf {
    let version = env!("CARGO_PKG_VERSION");
    let sums = dist_dir().join(format!("v{version}/SHA256SUMS"));
    assert!(
        sums.exists(),
        "{} is missing: run `make dist` first (`make test` packs its own build)",
        sums.display()
    );
    let orb = dir.join("orb.yml");
    let packed = Command::new(venv().join("bin/python"))
        .arg(root().join("scripts/orbtool.py"))
        .args(["pack", "--src"])
        .arg(root().join("orb/src"))
        .args(["--version", version, "--checksums"])
        .arg(&sums)
        .arg("-o")
        .arg(&orb)
        .output()
        .unwrap();
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    orb
}

#[test]
fn build_push_and_deploy_runs_end_to_end_and_a_crashing_image_fails_with_the_reason() {
    let version = env!("CARGO_PKG_VERSION");
    let dist = dist_dir();
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());

    let sb = SandboxProc::start();
    let base = sb.push_image("base", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {base:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=2,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': True, 'rollback': True}}}})\n\
         print(1)"
    ));
    // The job's role holds exactly what `stevedore iam policy` renders for it.
    let policy = app_policy(&sb, &[]);
    sb.put_role("ci", None, Some(&policy));

    let files = Files::serve(&dist);
    let job = Job::new(&sb, orb, tmp.path(), &files);

    let good = tmp.path().join("good");
    project(&good, false);
    let out = job.run(&good, "v1");
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "Installed stevedore {version} for x86_64-unknown-linux-musl"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("#### job build_push_and_deploy: all"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("verifying: test \"$STEVEDORE_VERIFY_SERVICE\" = web\nverified in "),
        "{}",
        out.stdout
    );
    let signature = job.token.rsplit('.').next().unwrap();
    assert!(
        !out.all().contains(signature),
        "the OIDC token leaked into the job's output"
    );
    let image = sb.boto3("s = ecs.describe_services(cluster='c1', services=['web'])['services'][0]\nprint(json.dumps(ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']['containerDefinitions'][0]['image']))");
    let image = image.as_str().unwrap();
    assert!(image.contains("/app@sha256:"), "the service runs {image}");
    let tags = sb.boto3("print(json.dumps(sorted(t for i in ecr.describe_images(repositoryName='app')['imageDetails'] for t in i.get('imageTags', []))))");
    assert_eq!(tags, json!([job.build_num.to_string(), "v1"]));
    let lifecycle = sb.boto3("print(json.dumps(json.loads(ecr.get_lifecycle_policy(repositoryName='app')['lifecyclePolicyText'])['rules'][0]['selection']['countNumber']))");
    assert_eq!(lifecycle, json!(5));

    // A crashing image: the job fails at the deploy step with the rollout's reason; the binary
    // installed by the first run is reused.
    let bad = tmp.path().join("bad");
    project(&bad, true);
    let out = job.run(&bad, "v2");
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout
            .contains(&format!("stevedore {version} is installed already")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Essential container in task exited (app exited 3)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("(Deploy to Amazon ECS) failed with exit code 3"),
        "{}",
        out.stdout
    );
}

#[test]
fn per_architecture_builds_and_publish_index_run_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    // The job's role holds exactly what `stevedore iam policy` renders for the repository.
    let policy = rendered(&sb, &["iam", "policy", "--repo", "multi"]);
    sb.put_role("ci", None, Some(&policy));
    let files = Files::serve(&dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    // Each architecture as its own job (on CircleCI an amd64 and an arm64 machine at once, each
    // with its own checkout and engine).
    for arch in ["amd64", "arm64"] {
        let checkout = tmp.path().join(format!("project-{arch}"));
        project(&checkout, false);
        // This machine's engine (Docker 20.10's classic builder) reuses a cached FROM-scratch
        // step whatever --platform asks, so a same-content amd64 image built by a test running
        // alongside would come back labelled amd64 for arm64. A first step of its own per
        // architecture keeps the cache apart, as separate machines do on CircleCI.
        let dockerfile = checkout.join("Dockerfile");
        let steps = std::fs::read_to_string(&dockerfile).unwrap();
        std::fs::write(checkout.join("built-for"), arch).unwrap();
        std::fs::write(
            &dockerfile,
            steps.replacen(
                "FROM scratch\n",
                "FROM scratch\nCOPY built-for /built-for\n",
                1,
            ),
        )
        .unwrap();
        let out = job.run_job(
            "build_and_push_image",
            &checkout,
            &[
                "repo=multi".into(),
                "create_repo=true".into(),
                format!("platform=linux/{arch}"),
                format!("tag=${{CIRCLE_SHA1}}-{arch}"),
                "role_name=ci".into(),
            ],
        );
        job.forget_built(&["multi"]);
        assert_eq!(out.code, 0, "{arch}: {}", out.all());
    }
    // publish_index checks nothing out: an empty working directory.
    let workdir = tmp.path().join("index-job");
    std::fs::create_dir_all(&workdir).unwrap();
    let out = job.run_job(
        "publish_index",
        &workdir,
        &[
            "repo=multi".into(),
            "tag=${CIRCLE_SHA1},latest".into(),
            "role_name=ci".into(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("#### job publish_index: all"),
        "{}",
        out.stdout
    );
    // ECR's own view (boto3): the index, tagged, naming the two pushed images by platform.
    let index = sb.boto3(
        "r = ecr.batch_get_image(repositoryName='multi', imageIds=[{'imageTag': 'latest'}])['images'][0]\n\
         m = json.loads(r['imageManifest'])\n\
         a = {i['imageTags'][0]: i['imageDigest'] for i in ecr.describe_images(repositoryName='multi', filter={'tagStatus': 'TAGGED'})['imageDetails'] if 'imageTags' in i and len(i['imageTags']) == 1}\n\
         print(json.dumps([m['mediaType'], [(d['platform']['architecture'], d['digest']) for d in m['manifests']], a]))",
    );
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(index[0], "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        index[1],
        json!([
            ["amd64", index[2][format!("{sha}-amd64")]],
            ["arm64", index[2][format!("{sha}-arm64")]]
        ]),
        "{index}"
    );
}

#[test]
fn deploy_service_update_hands_the_service_parameters_to_the_deploy() {
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    let base = sb.push_image("base", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {base:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\n\
         print(1)"
    ));
    sb.put_role("ci", None, None);
    let files = Files::serve(&dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    // The aws-ecs orb's desired_count and enable_circuit_breaker, as parameters of this job.
    let image = format!("image={base}");
    let params = |extra: &[&str]| -> Vec<String> {
        let mut p = vec![
            "cluster=c1".to_string(),
            "service=web".into(),
            "timeout=2m".into(),
            "role_name=ci".into(),
        ];
        p.extend(extra.iter().map(|e| e.to_string()));
        p
    };
    let out = job.run_job(
        "deploy_service_update",
        tmp.path(),
        &params(&[&image, "desired_count=3", "circuit_breaker=rollback"]),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let svc = sb.boto3("s = ecs.describe_services(cluster='c1', services=['web'])['services'][0]\nprint(json.dumps([s['taskDefinition'].rsplit('/', 1)[1], s['desiredCount'], s['deploymentConfiguration']['deploymentCircuitBreaker'], s['runningCount']]))");
    // web:2: the image pinned to its digest.
    assert_eq!(
        svc,
        json!(["web:2", 3, {"enable": true, "rollback": true}, 3]),
        "{}",
        out.stdout
    );
    // The same again: nothing to deploy; with force_new_deployment, a new deployment of web:2.
    let out = job.run_job("deploy_service_update", tmp.path(), &params(&[&image]));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("nothing to deploy"), "{}", out.stdout);
    let out = job.run_job(
        "deploy_service_update",
        tmp.path(),
        &params(&[&image, "force_new_deployment=true"]),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("web: deployed web:2 ("),
        "{}",
        out.stdout
    );
    // A revision named with no image: deployed as it is, nothing registered (the aws-ecs orb's
    // skip_task_definition_registration).
    let out = job.run_job(
        "deploy_service_update",
        tmp.path(),
        &params(&["task_definition=web:1"]),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.stdout.contains("registered"), "{}", out.stdout);
    assert!(
        out.stdout.contains("web: deployed web:1 ("),
        "{}",
        out.stdout
    );
}

/// `build_cache: true`: the first job pushes the image under `buildcache` too; a later job on a
/// fresh engine pulls it and its RUN step comes from that cache (a step no other build here has,
/// so no local cache can answer for it).
#[test]
fn build_cache_in_the_repository_is_used_by_the_next_job() {
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    let policy = rendered(&sb, &["iam", "policy", "--repo", "cached"]);
    sb.put_role("ci", None, Some(&policy));
    let files = Files::serve(&dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    let checkout = tmp.path().join("project");
    project(&checkout, false);
    let nonce = format!("{}-{}", std::process::id(), free_port());
    scratch_dockerfile(&checkout, &format!("COPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {nonce} > /deps\"]\nCOPY app /app\n"));
    let cache_ref = format!("{}/cached:buildcache", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    let forget = || {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force", &job.built("cached"), &cache_ref])
            .output();
    };
    let mut outs = vec![];
    for tag in ["c1", "c2"] {
        std::fs::write(checkout.join("app"), tag).unwrap();
        forget();
        let params = [
            "repo=cached".to_string(),
            format!("tag={tag}"),
            "create_repo=true".into(),
            "build_cache=true".into(),
            "role_name=ci".into(),
        ];
        outs.push(job.run_job("build_and_push_image", &checkout, &params));
    }
    forget();
    assert_eq!(outs[0].code, 0, "{}", outs[0].all());
    assert!(
        outs[0].stdout.contains("building without it"),
        "{}",
        outs[0].stdout
    );
    assert_eq!(outs[1].code, 0, "{}", outs[1].all());
    let lines: Vec<&str> = outs[1].stdout.lines().collect();
    let run = lines
        .iter()
        .position(|l| l.contains(&format!("echo {nonce}")))
        .expect("the RUN step");
    assert_eq!(
        lines.get(run + 1).map(|l| l.trim()),
        Some("---> Using cache"),
        "{}",
        outs[1].stdout
    );
    let tags = sb.boto3("print(json.dumps(sorted(t for i in ecr.describe_images(repositoryName='cached')['imageDetails'] for t in i.get('imageTags', []))))");
    assert_eq!(tags, json!(["buildcache", "c1", "c2"]));
}

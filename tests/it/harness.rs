//! Test harness: run the real binary with a clean environment, and start (and always stop) the
//! local AWS endpoints the tests talk to.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

/// The project's Python venv (moto, boto3): `STEVEDORE_TEST_VENV` or `<repo>/.venv`.
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("STEVEDORE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    assert!(
        dir.join("bin/moto_server").is_file(),
        "moto is not installed in {}: run `make test`, which installs it",
        dir.display()
    );
    dir
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto's server on a port of its own, killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ACCOUNT_ID", ACCOUNT)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(port, "/moto-api/").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Run a boto3 snippet against this server (a third-party client reading what stevedore did).
    /// The snippet gets `ecr` and `sts` clients and prints JSON; returns it parsed.
    pub fn boto3(&self, snippet: &str) -> serde_json::Value {
        let program = format!(
            "import boto3, json\nkw=dict(endpoint_url={url:?}, region_name={REGION:?}, aws_access_key_id='test', aws_secret_access_key='test')\necr=boto3.client('ecr', **kw)\nsts=boto3.client('sts', **kw)\n{snippet}\n",
            url = self.url
        );
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", &program])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 snippet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("boto3 snippet prints JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.starts_with("HTTP/1.").then_some(buf)
}

/// A scripted HTTP endpoint: answers each request with the next canned (status, body) and
/// records each request (head and body). For what moto cannot do: refuse a token, fail transiently.
pub struct Scripted {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn start(replies: Vec<(u16, String)>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for (status, body) in replies {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut req = vec![0; len];
                let _ = reader.read_exact(&mut req);
                seen.lock()
                    .unwrap()
                    .push(format!("{head}\r\n{}", String::from_utf8_lossy(&req)));
                let content_type = if body.starts_with('{') {
                    "application/x-amz-json-1.1"
                } else {
                    "text/xml"
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Scripted { url, requests }
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// An STS awsQuery error document.
pub fn sts_error(code: &str, message: &str) -> String {
    format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>")
}

/// A successful AssumeRoleWithWebIdentity reply carrying the given secret values.
pub fn sts_assumed(secret: &str, session: &str) -> String {
    format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>\
<Credentials><AccessKeyId>ASIASCRIPTED</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{session}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/ci/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
    )
}

/// A CircleCI-shaped JWT (unsigned: moto and the scripted endpoint do not verify) whose
/// signature part is `sig`, so tests can look for it in output.
pub fn circleci_token(project: &str, exp_in_secs: i64, sig: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "iss": "https://oidc.circleci.com/org/org-1",
        "aud": "org-1",
        "sub": format!("org/org-1/project/{project}/user/user-1/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"),
        "exp": now + exp_in_secs,
        "iat": now,
    });
    format!(
        "{}.{}.{sig}",
        e.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        e.encode(claims.to_string())
    )
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A fluent builder for one run of the `stevedore` binary with a clean environment: no AWS,
/// CircleCI or STEVEDORE variables leak in from the machine, and HOME is a fresh directory.
pub struct Run {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    home: std::sync::Arc<tempfile::TempDir>,
}

pub fn stevedore(args: &[&str]) -> Run {
    let home = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_default(),
    );
    env.insert("HOME".to_string(), home.path().display().to_string());
    // moto answers unimplemented calls with 500; one attempt keeps failures fast.
    env.insert("AWS_MAX_ATTEMPTS".to_string(), "1".to_string());
    env.insert("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string());
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        env,
        stdin: None,
        home,
    }
}

impl Run {
    pub fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.env.insert(k.to_string(), v.as_ref().to_string());
        self
    }

    /// Point every AWS service at `url`, with a region and access keys.
    pub fn aws(self, url: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", url)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCOUNT_ID", ACCOUNT)
            .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
    }

    pub fn without(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// The run's HOME; hold on to it to read files after the run (it is deleted when the last
    /// holder drops it).
    pub fn home(&self) -> std::sync::Arc<tempfile::TempDir> {
        self.home.clone()
    }

    pub fn run(&self) -> Output {
        // STEVEDORE_TEST_BIN runs the suite against another build (an older release, say).
        let bin = std::env::var_os("STEVEDORE_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_stevedore").into());
        let mut cmd = Command::new(bin);
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn stevedore");
        let input = self.stdin.clone().unwrap_or_default();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Parse `export K='v'` lines as written to $BASH_ENV.
pub fn read_exports(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').replace(r"'\''", "'")))
        .collect()
}

/// Write an executable script into `dir` (for stand-ins of `circleci` and `docker`).
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The `stevedore-sandbox` binary of this workspace: `STEVEDORE_SANDBOX_BIN`, or beside this
/// test's own target directory.
pub fn sandbox_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STEVEDORE_SANDBOX_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("stevedore-sandbox");
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace (`make test` does)",
        bin.display()
    );
    bin
}

/// A running `stevedore-sandbox up`, stopped on drop; `env` holds the exports it printed.
pub struct SandboxProc {
    child: Child,
    pub env: BTreeMap<String, String>,
}

impl SandboxProc {
    pub fn start() -> SandboxProc {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(sandbox_bin());
        cmd.args(["up", "--clock-speed", "20", "--docker", "off"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("STEVEDORE_SANDBOX_DIR");
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start stevedore-sandbox");
        let mut env = BTreeMap::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with("# stevedore-sandbox ready") {
                break;
            }
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                env.insert(k.to_string(), v.trim_matches('\'').to_string());
            }
        }
        assert!(
            env.contains_key("AWS_ENDPOINT_URL"),
            "the sandbox did not start"
        );
        std::thread::spawn(move || for _ in lines {});
        SandboxProc { child, env }
    }

    /// Mint a token with `stevedore-sandbox token`.
    pub fn token(&self, args: &[&str]) -> String {
        let out = Command::new(sandbox_bin())
            .arg("token")
            .args(args)
            .env("STEVEDORE_SANDBOX_DIR", &self.env["STEVEDORE_SANDBOX_DIR"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

impl Run {
    /// Point the run at a sandbox: its endpoint, CA bundle and variables; `admin` adds its keys.
    pub fn sandbox(mut self, sb: &SandboxProc, admin: bool) -> Self {
        for (k, v) in &sb.env {
            let wanted = !k.starts_with("STEVEDORE_SANDBOX")
                && (admin
                    || !k.starts_with("AWS_ACCESS_KEY_ID")
                        && !k.starts_with("AWS_SECRET_ACCESS_KEY"));
            if wanted {
                self = self.env(k, v);
            }
        }
        self
    }
}

impl SandboxProc {
    /// Run a boto3 snippet against the sandbox as its administrator (a third-party client);
    /// the snippet has `ecs` and `ecr` clients and prints JSON.
    pub fn boto3(&self, snippet: &str) -> serde_json::Value {
        let program = format!(
            "import boto3, json\nkw=dict(endpoint_url={url:?}, region_name={region:?}, aws_access_key_id={ak:?}, aws_secret_access_key={sk:?})\necs=boto3.client('ecs', **kw)\necr=boto3.client('ecr', **kw)\n{snippet}\n",
            url = self.env["AWS_ENDPOINT_URL"],
            region = self.env["AWS_DEFAULT_REGION"],
            ak = self.env["AWS_ACCESS_KEY_ID"],
            sk = self.env["AWS_SECRET_ACCESS_KEY"],
        );
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", &program])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 snippet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("boto3 snippet prints JSON")
    }

    /// PUT a control document (faults, clock) to the sandbox.
    pub fn control(&self, method: &str, path: &str, body: &str) {
        control_at(&self.env["STEVEDORE_SANDBOX_URL"], method, path, body);
    }

    /// Control requests sent one after another from a thread, each after its delay in
    /// milliseconds (a fault storm, a clock jump in the middle of a run); join the handle.
    pub fn control_later(
        &self,
        steps: Vec<(u64, &'static str, &'static str, String)>,
    ) -> std::thread::JoinHandle<()> {
        let url = self.env["STEVEDORE_SANDBOX_URL"].clone();
        std::thread::spawn(move || {
            for (delay, method, path, body) in steps {
                std::thread::sleep(std::time::Duration::from_millis(delay));
                control_at(&url, method, path, &body);
            }
        })
    }

    /// An OCI layout of a small image (copied out of the sandbox's registry with skopeo).
    pub fn oci_layout(&self, dir: &Path) -> PathBuf {
        let src = self.push_image("base", "src", &[]);
        let dest = dir.join("oci");
        let certs = self.cert_dir(dir);
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--src-creds", &self.registry_creds()])
            .arg(format!("--src-cert-dir={}", certs.display()))
            .arg(format!("docker://{src}"))
            .arg(format!("oci:{}:v1", dest.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dest
    }

    /// Build an OCI image (one small layer, these config labels) and push it with skopeo to the
    /// sandbox's registry; returns the full reference `<registry>/<repo>:<tag>`.
    pub fn push_image(&self, repo: &str, tag: &str, labels: &[(&str, &str)]) -> String {
        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("oci");
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |bytes: &[u8]| -> (String, usize) {
            let mut child = Command::new("sha256sum")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(bytes).unwrap();
            let hex = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..64]
                .to_string();
            std::fs::write(blobs.join(&hex), bytes).unwrap();
            (format!("sha256:{hex}"), bytes.len())
        };
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Labels": labels}, "rootfs": {"type": "layers", "diff_ids": []}, "created": format!("{repo}:{tag}")});
        let (cd, cs) = put(config.to_string().as_bytes());
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": []});
        let (md, ms) = put(manifest.to_string().as_bytes());
        std::fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
        std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
        let certs = self.cert_dir(work.path());
        // ECR wants the repository to exist before a push; create it as a pipeline would.
        let token = self.boto3(&format!(
            "try:\n  ecr.create_repository(repositoryName={repo:?})\nexcept ecr.exceptions.RepositoryAlreadyExistsException:\n  pass\nprint(json.dumps(ecr.get_authorization_token()['authorizationData'][0]['authorizationToken']))"
        ));
        use base64::Engine;
        let creds = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(token.as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let reference = format!("{}/{repo}:{tag}", self.env["STEVEDORE_SANDBOX_REGISTRY"]);
        let out = Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--quiet",
                "--dest-creds",
                &creds,
                "--dest-cert-dir",
            ])
            .arg(&certs)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{reference}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        reference
    }
}

impl SandboxProc {
    /// `AWS:<password>` of the private registry, as GetAuthorizationToken hands it out.
    pub fn registry_creds(&self) -> String {
        use base64::Engine;
        let token = self.boto3("print(json.dumps(ecr.get_authorization_token()['authorizationData'][0]['authorizationToken']))");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(token.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    }
}

impl SandboxProc {
    /// GET a control document from the sandbox.
    pub fn control_get(&self, path: &str) -> serde_json::Value {
        let url = &self.env["STEVEDORE_SANDBOX_URL"];
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {reply}"))
    }
}

/// The JSON a `stevedore` command prints (`iam policy`, `iam trust`), run against the sandbox.
pub fn rendered(sb: &SandboxProc, args: &[&str]) -> serde_json::Value {
    let out = stevedore(args).sandbox(sb, false).run().success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", out.stdout))
}

impl SandboxProc {
    /// Give role `name` a trust policy (default: any project of org-sandbox) and, optionally,
    /// a permissions policy the sandbox evaluates on every call.
    pub fn put_role(
        &self,
        name: &str,
        trust: Option<&serde_json::Value>,
        permissions: Option<&serde_json::Value>,
    ) {
        let any_project = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/org-sandbox"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"oidc.circleci.com/org/org-sandbox:aud": "org-sandbox"}}
        }]});
        self.control(
            "PUT",
            &format!("/_sandbox/roles/{name}"),
            &serde_json::json!({"trust_policy": trust.unwrap_or(&any_project), "permissions_policy": permissions})
                .to_string(),
        );
    }
}

/// `stevedore iam policy` for repository `app` and service `web` of cluster `c1`, plus `extra`
/// flags, rendered against the sandbox.
pub fn app_policy(sb: &SandboxProc, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "iam",
        "policy",
        "--repo",
        "app",
        "--cluster",
        "c1",
        "--service",
        "web",
    ];
    args.extend_from_slice(extra);
    rendered(sb, &args)
}

impl SandboxProc {
    /// `<dir>/certs` holding the sandbox's CA as `ca.crt`, for skopeo's `--*-cert-dir`.
    pub fn cert_dir(&self, dir: &Path) -> PathBuf {
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(&self.env["AWS_CA_BUNDLE"], certs.join("ca.crt")).unwrap();
        certs
    }
}

/// Send one control request to the sandbox at `url`; it must succeed.
fn control_at(url: &str, method: &str, path: &str, body: &str) {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 2"), "{reply}");
}

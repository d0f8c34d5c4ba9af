//! The sandbox, started and stopped per test, and what tests ask of it: tokens, images, boto3.

use super::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// A running `stevedore-sandbox up` (tasks simulated, clock at 20x), stopped on drop; `env`
/// holds the exports it printed.
pub struct SandboxProc {
    /// Held so that the sandbox stops when this is dropped.
    _proc: stevedore_testkit::Sandbox,
    pub env: BTreeMap<String, String>,
}

impl SandboxProc {
    pub fn start() -> SandboxProc {
        Self::start_with(&["--clock-speed", "20", "--docker", "off"])
    }

    /// Tasks as real containers of this machine's Docker engine, on the real clock.
    pub fn start_docker() -> SandboxProc {
        Self::start_with(&["--clock-speed", "1", "--docker", "on"])
    }

    fn start_with(args: &[&str]) -> SandboxProc {
        let proc = stevedore_testkit::Sandbox::start(&sandbox_bin(), args, Stdio::null());
        let env = proc.env.clone();
        SandboxProc { _proc: proc, env }
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
    /// the snippet has `ecs`, `ecr`, `events`, `scheduler`, `logs`, `cd` and `kms` clients and
    /// prints JSON.
    pub fn boto3(&self, snippet: &str) -> serde_json::Value {
        let program = format!(
            "import boto3, json\nkw=dict(endpoint_url={url:?}, region_name={region:?}, aws_access_key_id={ak:?}, aws_secret_access_key={sk:?})\necs=boto3.client('ecs', **kw)\necr=boto3.client('ecr', **kw)\nevents=boto3.client('events', **kw)\nscheduler=boto3.client('scheduler', **kw)\nlogs=boto3.client('logs', **kw)\ncd=boto3.client('codedeploy', **kw)\nkms=boto3.client('kms', **kw)\n{snippet}\n",
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

    /// A control request whose answer is JSON (running a schedule's target).
    pub fn control_json(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let reply = control_at(&self.env["STEVEDORE_SANDBOX_URL"], method, path, body);
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {reply}"))
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
        self.push_image_with(repo, tag, labels, false)
    }

    /// [`Self::push_image`] of an image Docker can run: one layer with a static busybox and
    /// `/hello.txt` reading `image REPO-TAG`.
    pub fn push_runnable_image(&self, repo: &str, tag: &str) -> String {
        self.push_image_with(repo, tag, &[], true)
    }

    fn push_image_with(
        &self,
        repo: &str,
        tag: &str,
        labels: &[(&str, &str)],
        runnable: bool,
    ) -> String {
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
        let (mut diff_ids, mut layers) = (vec![], vec![]);
        if runnable {
            let root = work.path().join("rootfs");
            std::fs::create_dir_all(root.join("bin")).unwrap();
            std::fs::copy("/bin/busybox", root.join("bin/busybox"))
                .expect("busybox-static (make deps installs it)");
            std::fs::write(root.join("hello.txt"), format!("image {repo}-{tag}\n")).unwrap();
            let tar = work.path().join("layer.tar");
            let ok = Command::new("tar")
                .arg("-C")
                .arg(&root)
                .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
                .arg(&tar)
                .arg(".")
                .status()
                .unwrap();
            assert!(ok.success());
            let (diff, _) = put(&std::fs::read(&tar).unwrap());
            let gz = Command::new("gzip")
                .args(["-n", "-c"])
                .arg(&tar)
                .output()
                .unwrap()
                .stdout;
            let (digest, size) = put(&gz);
            diff_ids.push(serde_json::json!(diff));
            layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}));
        }
        let mut config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Labels": labels}, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "created": format!("{repo}:{tag}")});
        if runnable {
            // Docker reads `created` as a time; the layer's file makes the image unique.
            config["created"] = serde_json::json!("1970-01-01T00:00:00Z");
            config["config"]["Cmd"] = serde_json::json!(["/bin/busybox", "sleep", "3600"]);
        }
        let (cd, cs) = put(config.to_string().as_bytes());
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": layers});
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

/// Send one control request to the sandbox at `url`; it must succeed. The whole reply.
fn control_at(url: &str, method: &str, path: &str, body: &str) -> String {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 2"), "{reply}");
    reply
}

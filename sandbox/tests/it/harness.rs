//! Starts the real `stevedore-sandbox` binary (killed on drop, and by the kernel if this test
//! process dies), builds images as OCI layouts and pushes them with skopeo.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Sandbox {
    proc: stevedore_testkit::Sandbox,
    pub env: BTreeMap<String, String>,
    pub http: reqwest::Client,
}

impl Sandbox {
    pub fn start(speed: f64) -> Sandbox {
        let proc = stevedore_testkit::Sandbox::start(
            Path::new(env!("CARGO_BIN_EXE_stevedore-sandbox")),
            &["--clock-speed", &speed.to_string()],
            Stdio::inherit(),
        );
        let env = proc.env.clone();
        Sandbox {
            proc,
            env,
            http: reqwest::Client::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn url(&self) -> &str {
        &self.env["STEVEDORE_SANDBOX_URL"]
    }
    pub fn registry(&self) -> &str {
        &self.env["STEVEDORE_SANDBOX_REGISTRY"]
    }
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(&self.env["STEVEDORE_SANDBOX_DIR"])
    }

    /// SDK configuration with the given credentials (the administrator's when `None`).
    pub async fn config(&self, creds: Option<Credentials>, max_attempts: u32) -> SdkConfig {
        let creds = creds.unwrap_or_else(|| {
            Credentials::new(
                &self.env["AWS_ACCESS_KEY_ID"],
                &self.env["AWS_SECRET_ACCESS_KEY"],
                None,
                None,
                "sandbox-admin",
            )
        });
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.env["AWS_DEFAULT_REGION"].clone()))
            .endpoint_url(self.url())
            .credentials_provider(creds)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(std::time::Duration::from_millis(10)),
            )
            .load()
            .await
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(serde_json::Value::Null)
    }

    pub async fn token(&self, body: serde_json::Value) -> String {
        self.control(reqwest::Method::POST, "/_sandbox/token", body)
            .await["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The registry password, as ECR's GetAuthorizationToken hands it out.
    pub async fn registry_password(&self) -> String {
        use base64::Engine;
        let ecr = aws_sdk_ecr::Client::new(&self.config(None, 1).await);
        let out = ecr.get_authorization_token().send().await.unwrap();
        let token = out.authorization_data()[0]
            .authorization_token()
            .unwrap()
            .to_string();
        let decoded = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .unwrap(),
        )
        .unwrap();
        decoded.split_once(':').unwrap().1.to_string()
    }

    /// Push an OCI layout to `<registry>/<repo>:<tag>` with skopeo (creating the repository in
    /// ECR first, as a push to an unknown one is NAME_UNKNOWN); returns skopeo's digest.
    pub async fn skopeo_push(&self, layout: &Path, repo: &str, tag: &str) -> String {
        let ecr = aws_sdk_ecr::Client::new(&self.config(None, 1).await);
        if let Err(e) = ecr.create_repository().repository_name(repo).send().await {
            let code = aws_sdk_ecr::error::ProvideErrorMetadata::code(&e);
            assert_eq!(code, Some("RepositoryAlreadyExistsException"), "{e:?}");
        }
        let certs = self.dir().join("skopeo-certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(self.dir().join("ca.pem"), certs.join("ca.crt")).unwrap();
        let password = self.registry_password().await;
        let digest_file = self.dir().join(format!("digest-{}", rand::random::<u32>()));
        let out = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--quiet", "--dest-cert-dir"])
            .arg(&certs)
            .args(["--dest-creds", &format!("AWS:{password}"), "--digestfile"])
            .arg(&digest_file)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.registry()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(digest_file)
            .unwrap()
            .trim()
            .to_string()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// Write an OCI image layout with one small layer and these config labels; returns its path.
pub fn oci_image(parent: &Path, name: &str, labels: &[(&str, &str)]) -> PathBuf {
    let dir = parent.join(name);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let src = parent.join(format!("{name}-rootfs"));
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(src.join("hello.txt"), format!("image {name}\n")).unwrap();
    // A static busybox makes the image runnable, so Docker mode runs it for real; its command
    // does what the labels tell the simulation.
    std::fs::copy("/bin/busybox", src.join("bin/busybox"))
        .expect("busybox-static (make deps installs it)");
    // A shell, for CMD-SHELL health checks (Docker runs them with /bin/sh -c).
    std::os::unix::fs::symlink("busybox", src.join("bin/sh")).unwrap();
    let tar_path = parent.join(format!("{name}.tar"));
    let st = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
        .arg(&tar_path)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let tar = std::fs::read(&tar_path).unwrap();
    let gz = Command::new("gzip")
        .args(["-n", "-c"])
        .arg(&tar_path)
        .output()
        .unwrap()
        .stdout;
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer_digest, layer_size) = put(&gz);
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    let cmd = match (
        labels.get("stevedore.sandbox.exit-code"),
        labels.get("stevedore.sandbox.exit-after"),
    ) {
        (Some(code), after) => serde_json::json!([
            "/bin/busybox",
            "sh",
            "-c",
            format!(
                "sleep {}; exit {}",
                after.and_then(|a| a.as_str()).unwrap_or("5"),
                code.as_str().unwrap_or("1")
            )
        ]),
        (None, _) => serde_json::json!(["/bin/busybox", "sleep", "3600"]),
    };
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Labels": labels, "Cmd": cmd}, "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar))]}});
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}]});
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    dir
}

pub use stevedore_testkit::Moto;

/// What the cross-check needs of moto beyond starting it.
pub trait MotoExt {
    /// A subnet and a security group in moto's EC2 (moto checks that they exist, as AWS does;
    /// the sandbox models no VPC and accepts any).
    fn network(&self) -> (String, String);
    /// SDK configuration for moto's server.
    async fn config(&self) -> SdkConfig;
}

impl MotoExt for Moto {
    fn network(&self) -> (String, String) {
        let program = format!(
            "import boto3\nec2=boto3.client('ec2', endpoint_url={:?}, region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\nvpc=ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']\nsn=ec2.create_subnet(VpcId=vpc, CidrBlock='10.0.1.0/24')['Subnet']['SubnetId']\nsg=ec2.create_security_group(GroupName='g', Description='g', VpcId=vpc)['GroupId']\nprint(sn, sg)",
            self.url
        );
        let text = self.python(&program);
        let mut parts = text.split_whitespace().map(String::from);
        (parts.next().unwrap(), parts.next().unwrap())
    }

    async fn config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("AKIDMOTO", "moto", None, None, "moto"))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }
}

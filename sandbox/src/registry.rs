//! The data plane: the CNCF distribution registry (Debian's `docker-registry`) as a child
//! process on 127.0.0.1 with TLS and htpasswd (bcrypt) auth, and a small client for what the
//! ECR API reports about images.

use crate::tls::Tls;
use anyhow::{bail, Context, Result};
use base64::Engine;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Manifest media types asked for when reading images.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A running registry, reached by clients through its TLS front (see [`crate::proxy`]).
pub struct Registry {
    /// `127.0.0.1:<port>` of the front: the address clients use.
    pub host: String,
    /// The registry itself, for the sandbox's own reads.
    direct: String,
    _front: crate::proxy::Proxy,
    pub user: String,
    pub password: String,
    child: tokio::process::Child,
    client: reqwest::Client,
}

impl Registry {
    /// Start `docker-registry serve` in `dir` on a free port and wait until it answers.
    pub async fn start(
        dir: &Path,
        tls: &Tls,
        shared: crate::proxy::Shared,
        public: bool,
    ) -> Result<Registry> {
        let program = which("docker-registry").context("docker-registry is not installed (Debian package docker-registry); run `make deps` or pass --no-registry")?;
        std::fs::create_dir_all(dir.join("storage"))?;
        let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
        let hash = bcrypt::hash(&password, 5).context("bcrypt")?;
        std::fs::write(dir.join("htpasswd"), format!("AWS:{hash}\n"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  relativeurls: true\n  secret: {secret}\n  tls:\n    certificate: {cert}\n    key: {key}\nauth:\n  htpasswd:\n    realm: stevedore-sandbox\n    path: {htpasswd}\n",
            storage = dir.join("storage").display(),
            secret = Alphanumeric.sample_string(&mut rand::rng(), 24),
            cert = tls.cert_pem.display(),
            key = tls.key_pem.display(),
            htpasswd = dir.join("htpasswd").display(),
        );
        let config_path = dir.join("config.yml");
        std::fs::write(&config_path, config)?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("serve")
            .arg(&config_path)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("registry.log"))?);
        // The registry must die with the sandbox, even when the sandbox is killed outright.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().context("starting docker-registry")?;
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.ca_pem)?)?;
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(30))
            .build()?;
        let direct = format!("127.0.0.1:{port}");
        let upstream_auth = {
            use base64::Engine;
            let raw = format!("AWS:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        };
        let front = crate::proxy::start(direct.clone(), upstream_auth, public, tls, shared).await?;
        let mut reg = Registry {
            host: front.host.clone(),
            direct,
            _front: front,
            user: "AWS".into(),
            password,
            child,
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reg
                .client
                .get(format!("https://{}/v2/", reg.direct))
                .send()
                .await
            {
                if r.status().as_u16() == 401 {
                    break;
                }
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                bail!(
                    "docker-registry exited with {status}; see {}",
                    dir.join("registry.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "docker-registry did not answer on {} within 20 s",
                    reg.direct
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(reg)
    }

    /// docker's `auth` value: base64 of `AWS:<password>`, which is also ECR's token format.
    pub fn auth_token(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password))
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}/v2/{path}", self.direct)
    }

    /// Tags of a repository (empty when it holds nothing).
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let r = self
            .client
            .get(self.url(&format!("{repo}/tags/list")))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        if r.status().as_u16() == 404 {
            return Ok(vec![]);
        }
        let v: Value = r.error_for_status()?.json().await?;
        Ok(v.get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A manifest by tag or digest: (digest, media type, bytes); `None` when absent.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, String, Vec<u8>)>> {
        let r = self
            .client
            .get(self.url(&format!("{repo}/manifests/{reference}")))
            .header("Accept", MANIFEST_ACCEPT)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        if r.status().as_u16() == 404 {
            return Ok(None);
        }
        let r = r.error_for_status()?;
        let digest = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let media = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(Some((digest, media, r.bytes().await?.to_vec())))
    }

    /// Put a manifest under a reference; returns its digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<String, String> {
        let r = self
            .client
            .put(self.url(&format!("{repo}/manifests/{reference}")))
            .header("Content-Type", media_type)
            .basic_auth(&self.user, Some(&self.password))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            let status = r.status();
            return Err(format!("{status}: {}", r.text().await.unwrap_or_default()));
        }
        Ok(r.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string())
    }

    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<bool> {
        let r = self
            .client
            .delete(self.url(&format!("{repo}/manifests/{digest}")))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        Ok(r.status().is_success())
    }

    /// A blob (e.g. an image config).
    pub async fn blob(&self, repo: &str, digest: &str) -> Result<Option<Vec<u8>>> {
        let r = self
            .client
            .get(self.url(&format!("{repo}/blobs/{digest}")))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        if r.status().as_u16() == 404 {
            return Ok(None);
        }
        Ok(Some(r.error_for_status()?.bytes().await?.to_vec()))
    }

    /// The config labels of an image (the first platform's, for an index).
    pub async fn labels(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<serde_json::Map<String, Value>>> {
        let Some((_, _, body)) = self.manifest(repo, reference).await? else {
            return Ok(None);
        };
        let mut manifest: Value = serde_json::from_slice(&body)?;
        // An index: the first image a linux/amd64 host runs, as the engine picks it; BuildKit's
        // attestation manifests (platform unknown/unknown) are never run.
        if let Some(first) = manifest
            .get("manifests")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .find(|d| d.pointer("/platform/os").and_then(Value::as_str) != Some("unknown"))
            })
        {
            let digest = first
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let Some((_, _, inner)) = self.manifest(repo, &digest).await? else {
                return Ok(None);
            };
            manifest = serde_json::from_slice(&inner)?;
        }
        let config = manifest
            .pointer("/config/digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(blob) = self.blob(repo, &config).await? else {
            return Ok(None);
        };
        let config: Value = serde_json::from_slice(&blob)?;
        Ok(Some(
            config
                .pointer("/config/Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        ))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGKILL the registry, for a shutdown that cannot own it (something still holds the app).
    pub fn kill(&self) {
        if let Some(pid) = self.child.id() {
            // Safe: a plain kill(2) of our own child.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

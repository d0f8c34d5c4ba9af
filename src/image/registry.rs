//! An OCI distribution client for pushing, shaped by what works with ECR: HEAD every blob first,
//! cross-repository mount when asked, then one POST and one streaming PUT per blob (no chunked
//! PATCH), retries with jittered backoff on 408, 429, 5xx and broken connections (restarting only
//! the failed blob), and a fresh token on 401.
//!
//! The credential goes only to its origin: `Authorization` is sent to the registry's own scheme,
//! host and port; an upload `Location` on another host gets the blob without it, and a plain
//! `http://` Location or redirect is refused (reqwest itself drops the header when a redirect
//! changes host or port). What the registry sends is bounded: manifests and listings by
//! [`MAX_MANIFEST`], error bodies by [`MAX_ERROR_BODY`], every read by a deadline.

use crate::aws::error::backoff;
use crate::image::source::Blob;
pub use crate::image::wire::not_found;
use crate::image::wire::{bounded, error_text, https_redirects_only, upload_target};
use anyhow::{Context, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Fetches a new `Basic` credential (base64 of `user:password`) when the registry answers 401.
pub type Refresh =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String>> + Send>> + Send + Sync>;

pub const MAX_ATTEMPTS: u32 = 6;
pub use crate::image::wire::{MAX_ERROR_BODY, MAX_MANIFEST};
/// How long a response may go without a byte arriving (`STEVEDORE_REGISTRY_READ_TIMEOUT`
/// changes it): a registry that stops sending fails the call instead of hanging the job.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Registry {
    http: reqwest::Client,
    /// `https://host`.
    pub base: String,
    pub host: String,
    auth: tokio::sync::RwLock<String>,
    refresh: Option<Refresh>,
}

/// What happened to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    Skipped,
    Mounted,
    Uploaded { attempts: u32 },
}

/// A failure worth another attempt, or not.
enum Attempt {
    Retry(String),
    Fatal(anyhow::Error),
}

/// What a 403 from ECR means: the role's policy lacks the action behind the request (HEAD
/// answers carry no body to say so).
fn forbidden(what: &str, host: &str, action: &str, repo: &str) -> anyhow::Error {
    let prefix = if host == crate::config::public_registry_host() {
        "ecr-public"
    } else {
        "ecr"
    };
    anyhow::anyhow!(
        "{what}: 403 Forbidden: the registry refused; the role needs {prefix}:{action} on repository {repo} (`stevedore iam policy` renders the statements)"
    )
}

fn retryable_status(s: u16) -> bool {
    s == 408 || s == 429 || s >= 500
}

impl Registry {
    pub fn new(host: &str, basic: String, refresh: Option<Refresh>) -> Result<Registry> {
        let read_timeout = crate::config::env_var("STEVEDORE_REGISTRY_READ_TIMEOUT")
            .map(|v| {
                crate::validate::duration(&v).map_err(|e| {
                    crate::error::usage!(
                        "STEVEDORE_REGISTRY_READ_TIMEOUT={v}: {e}; give a duration such as 30s or 2m"
                    )
                })
            })
            .transpose()?
            .unwrap_or(READ_TIMEOUT);
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(read_timeout)
            .redirect(https_redirects_only())
            .pool_max_idle_per_host(16);
        for var in ["AWS_CA_BUNDLE", "SSL_CERT_FILE"] {
            if let Some(bundle) = crate::config::env_var(var) {
                if let Ok(pem) = std::fs::read(&bundle) {
                    for cert in reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default() {
                        http = http.add_root_certificate(cert);
                    }
                }
            }
        }
        Ok(Registry {
            http: http.build()?,
            base: format!("https://{host}"),
            host: host.to_string(),
            auth: tokio::sync::RwLock::new(basic),
            refresh,
        })
    }

    async fn header(&self) -> String {
        format!("Basic {}", self.auth.read().await)
    }

    async fn reauth(&self) -> Result<()> {
        let Some(r) = &self.refresh else {
            anyhow::bail!(
                "the registry refused the credentials (401) and there is no way to renew them"
            )
        };
        let new = r().await.context("renewing the registry token")?;
        *self.auth.write().await = new;
        Ok(())
    }

    /// Where an upload's `Location` points, and whether the credential may go there.
    fn upload_target(&self, location: &str) -> Result<(String, bool)> {
        upload_target(&self.base, location)
    }

    /// Whether the blob is in the repository already.
    pub async fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let r = self
            .send(&format!("HEAD blob {digest}"), |http| http.head(&url))
            .await?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            403 => Err(forbidden(
                &format!("HEAD blob {digest}"),
                &self.host,
                "BatchCheckLayerAvailability",
                repo,
            )),
            s => anyhow::bail!("HEAD blob {digest}: {s}"),
        }
    }

    /// Send a request built by `make`, with a fresh token on the first 401 and jittered retries
    /// on 408, 429, 5xx and broken connections. Returns the first other answer.
    async fn send(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut reauthed = false;
        for attempt in 1..=MAX_ATTEMPTS {
            match make(&self.http)
                .header("Authorization", self.header().await)
                .send()
                .await
            {
                Ok(r) if r.status().as_u16() == 401 && !reauthed => {
                    reauthed = true;
                    self.reauth().await?;
                }
                Ok(r) if !retryable_status(r.status().as_u16()) => return Ok(r),
                Ok(r) if attempt == MAX_ATTEMPTS => {
                    anyhow::bail!("{what}: {} after {MAX_ATTEMPTS} attempts", r.status())
                }
                Err(e) if attempt == MAX_ATTEMPTS => anyhow::bail!(
                    "{what}: {e}{} after {MAX_ATTEMPTS} attempts",
                    e.source_text()
                ),
                _ => tokio::time::sleep(backoff(attempt)).await,
            }
        }
        anyhow::bail!("{what}: no answer")
    }

    /// Push one blob the registry lacks (see [`Registry::blob_exists`]): mount, or POST + PUT,
    /// retried as a whole on transient failures.
    pub async fn push_blob(
        &self,
        repo: &str,
        blob: &Blob,
        mount_from: Option<&str>,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<BlobOutcome> {
        let mut reauthed = false;
        for attempt in 1..=MAX_ATTEMPTS {
            match self.upload_once(repo, blob, mount_from, progress).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => return Ok(BlobOutcome::Uploaded { attempts: attempt }),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(why)) if why.starts_with("401") && !reauthed => {
                    reauthed = true;
                    self.reauth().await?;
                }
                Err(Attempt::Retry(why)) if attempt < MAX_ATTEMPTS => {
                    let wait = backoff(attempt);
                    progress(format!(
                        "blob {} retry {attempt}/{} in {} ms: {why}",
                        short(&blob.digest),
                        MAX_ATTEMPTS - 1,
                        wait.as_millis()
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(Attempt::Retry(why)) => anyhow::bail!(
                    "blob {}: gave up after {MAX_ATTEMPTS} attempts: {why}",
                    blob.digest
                ),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// One attempt. `Ok(Some(Mounted))` when mounted, `Ok(None)` when uploaded.
    async fn upload_once(
        &self,
        repo: &str,
        blob: &Blob,
        mount_from: Option<&str>,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<Option<BlobOutcome>, Attempt> {
        let transport = |e: reqwest::Error| Attempt::Retry(format!("{e}{}", e.source_text()));
        let mut url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        if let Some(from) = mount_from.filter(|f| *f != repo) {
            url = format!("{url}?mount={}&from={from}", blob.digest);
        }
        let r = self
            .http
            .post(&url)
            .header("Authorization", self.header().await)
            .header("Content-Length", "0")
            .send()
            .await
            .map_err(transport)?;
        let status = r.status().as_u16();
        if status == 201 && mount_from.is_some() {
            return Ok(Some(BlobOutcome::Mounted));
        }
        if status != 202 {
            let body = error_text(r).await;
            return Err(if status == 401 || retryable_status(status) {
                Attempt::Retry(format!("{status} starting the upload"))
            } else {
                Attempt::Fatal(anyhow::anyhow!(
                    "starting the upload of {}: {status}: {}",
                    blob.digest,
                    body.trim()
                ))
            });
        }
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Attempt::Fatal(anyhow::anyhow!(
                    "the registry started an upload without a Location"
                ))
            })?;
        let (target, same_origin) = self.upload_target(location).map_err(Attempt::Fatal)?;
        let sep = if target.contains('?') { '&' } else { '?' };
        let put_url = format!("{target}{sep}digest={}", blob.digest);
        let file = tokio::fs::File::open(&blob.path)
            .await
            .map_err(|e| Attempt::Fatal(anyhow::anyhow!("opening {}: {e}", blob.path.display())))?;
        let meter = super::progress::Meter::start();
        let body = reqwest::Body::wrap_stream(super::progress::counted(file, meter.sent.clone()));
        let mut put = self.http.put(put_url);
        if same_origin {
            put = put.header("Authorization", self.header().await);
        }
        let put = put
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", blob.size.to_string())
            .body(body)
            .send();
        let id = short(&blob.digest);
        let live = super::progress::live();
        let every = if live {
            super::progress::LIVE_EVERY
        } else {
            super::progress::EVERY
        };
        let r = super::progress::with_ticks(put, every, || {
            if live {
                super::progress::redraw(&meter.line(id, blob.size))
            } else {
                progress(meter.line(id, blob.size))
            }
        })
        .await
        .map_err(transport)?;
        let status = r.status().as_u16();
        // ECR answers 201 as the spec says for the final PUT; some registries answer 204.
        if status == 201 || status == 204 {
            if let Some(d) = r
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
            {
                if d != blob.digest {
                    return Err(Attempt::Fatal(anyhow::anyhow!(
                        "the registry stored {d} for blob {}",
                        blob.digest
                    )));
                }
            }
            return Ok(None);
        }
        let body = error_text(r).await;
        if status == 401 && !same_origin {
            // A fresh token would not help: the credential is never sent to that host.
            return Err(Attempt::Fatal(anyhow::anyhow!(
                "uploading {}: the upload location on another host answered 401; stevedore sends the registry's credential only to {} itself",
                blob.digest,
                self.host
            )));
        }
        if status == 401 || retryable_status(status) {
            Err(Attempt::Retry(format!("{status} uploading")))
        } else {
            Err(Attempt::Fatal(anyhow::anyhow!(
                "uploading {}: {status}: {}",
                blob.digest,
                body.trim()
            )))
        }
    }

    /// The digest a tag points to, if it exists.
    pub async fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<String>> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let r = self
            .send(&format!("HEAD manifest {reference}"), |http| {
                http.head(&url).header("Accept", manifest_accept())
            })
            .await?;
        match r.status().as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(r
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(String::from)),
            403 => Err(forbidden(
                &format!("HEAD manifest {reference}"),
                &self.host,
                "BatchGetImage",
                repo,
            )),
            s => anyhow::bail!("HEAD manifest {reference}: {s}"),
        }
    }

    /// PUT a manifest under a tag or digest; checks the registry's digest against ours. The
    /// answer's `OCI-Subject` (the subject a registry with the referrers API indexed it under).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        m: &crate::image::source::Manifest,
    ) -> Result<Option<String>> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let r = self
            .send(&format!("PUT manifest {reference}"), |http| {
                http.put(&url)
                    .header("Content-Type", &m.media_type)
                    .body(m.bytes.clone())
            })
            .await?;
        let status = r.status();
        if !status.is_success() {
            anyhow::bail!(
                "PUT manifest {reference}: {status}: {}",
                error_text(r).await
            );
        }
        if let Some(d) = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            anyhow::ensure!(
                d == m.digest,
                "the registry stored manifest {reference} as {d}, not {}",
                m.digest
            );
        }
        Ok(r.headers()
            .get("oci-subject")
            .and_then(|v| v.to_str().ok())
            .map(String::from))
    }

    /// The OCI 1.1 referrers listing of `digest` (an image index), of `artifact_type` when
    /// given; `None` when the registry has no referrers API (404).
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        let mut url = format!("{}/v2/{repo}/referrers/{digest}", self.base);
        if let Some(t) = artifact_type {
            url = format!(
                "{url}?artifactType={}",
                t.replace('+', "%2B").replace('/', "%2F")
            );
        }
        let r = self
            .send(&format!("GET referrers of {digest}"), |http| {
                http.get(&url)
                    .header("Accept", "application/vnd.oci.image.index.v1+json")
            })
            .await?;
        match r.status().as_u16() {
            404 => Ok(None),
            403 => Err(forbidden(
                "GET referrers",
                &self.host,
                "BatchGetImage",
                repo,
            )),
            s if (200..300).contains(&s) => Ok(Some(
                bounded(
                    r,
                    MAX_MANIFEST,
                    &format!("the referrers listing of {digest}"),
                )
                .await?,
            )),
            s => anyhow::bail!("GET referrers of {digest}: {s}"),
        }
    }
}

impl Registry {
    /// GET with a fresh token on 401 and retries on transient failures.
    async fn get(&self, url: &str, accept: Option<&str>) -> Result<reqwest::Response> {
        let r = self
            .send(&format!("GET {url}"), |http| {
                let req = http.get(url);
                match accept {
                    Some(a) => req.header("Accept", a),
                    None => req,
                }
            })
            .await?;
        anyhow::ensure!(r.status().is_success(), "GET {url}: {}", r.status());
        Ok(r)
    }

    /// A manifest or index by tag or digest, checked against its digest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<crate::image::source::Manifest> {
        match self.find_manifest(repo, reference).await? {
            Ok(m) => Ok(m),
            Err(body) => anyhow::bail!("{}", not_found(repo, reference, &body)),
        }
    }

    /// A manifest or index by tag or digest, checked against its digest; `Err(body)` is the
    /// registry's 404 answer, for callers that treat a missing manifest as bad input.
    pub async fn find_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<std::result::Result<crate::image::source::Manifest, String>> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let accept = manifest_accept();
        let r = self
            .send(&format!("GET {url}"), |http| {
                http.get(&url).header("Accept", &accept)
            })
            .await?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Err(error_text(r).await));
        }
        if r.status() == reqwest::StatusCode::FORBIDDEN {
            return Err(forbidden(
                &format!("GET manifest {reference}"),
                &self.host,
                "BatchGetImage",
                repo,
            ));
        }
        anyhow::ensure!(r.status().is_success(), "GET {url}: {}", r.status());
        let media_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(crate::image::source::OCI_MANIFEST)
            .to_string();
        let bytes = bounded(r, MAX_MANIFEST, &format!("manifest {reference}")).await?;
        let digest = format!("sha256:{}", crate::image::source::sha256_hex(&bytes));
        if reference.starts_with("sha256:") {
            anyhow::ensure!(
                digest == reference,
                "manifest {reference} arrived as {digest}"
            );
        }
        Ok(Ok(crate::image::source::Manifest {
            digest,
            media_type,
            bytes,
        }))
    }

    /// A small blob (an image config) in memory, checked against its digest; refused when it
    /// is larger than `max` bytes, so a layer is never read this way.
    pub async fn small_blob(&self, repo: &str, digest: &str, max: u64) -> Result<Vec<u8>> {
        let r = self
            .get(&format!("{}/v2/{repo}/blobs/{digest}", self.base), None)
            .await?;
        let bytes = bounded(r, max, &format!("blob {digest}")).await?;
        let got = format!("sha256:{}", crate::image::source::sha256_hex(&bytes));
        anyhow::ensure!(got == digest, "blob {digest} arrived as {got}");
        Ok(bytes)
    }

    /// Download a blob into `path`.
    pub async fn download_blob(
        &self,
        repo: &str,
        digest: &str,
        path: &std::path::Path,
    ) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let r = self
            .get(&format!("{}/v2/{repo}/blobs/{digest}", self.base), None)
            .await?;
        let mut file = tokio::fs::File::create(path).await?;
        let mut stream = r.bytes_stream();
        use futures_util::StreamExt;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        Ok(())
    }
}

/// The manifest media types a push or copy reads.
fn manifest_accept() -> String {
    use crate::image::source::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
    format!("{OCI_INDEX}, {OCI_MANIFEST}, {DOCKER_LIST}, {DOCKER_MANIFEST}")
}

/// The first 12 hex digits of a digest, for progress lines.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

trait SourceText {
    fn source_text(&self) -> String;
}

impl SourceText for reqwest::Error {
    /// The causes reqwest hides (connection reset, TLS), for retry messages.
    fn source_text(&self) -> String {
        let mut out = String::new();
        let mut src = std::error::Error::source(self);
        while let Some(s) = src {
            out.push_str(": ");
            out.push_str(&s.to_string());
            src = s.source();
        }
        out
    }
}

//! A TLS front for each registry: what clients talk to. It forwards every request to the
//! registry (TLS to TLS) and, for fault-injection tests, fails or cuts a share of blob uploads
//! the way flaky networks and registries do.

use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Faults for blob uploads (the final PUT of `…/blobs/uploads/…`), set through
/// `/_sandbox/registry-faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryFaults {
    /// Share (0–1) of blob uploads answered with HTTP 500.
    pub fail_share: f64,
    /// Share of blob uploads whose connection is cut after part of the body.
    pub cut_share: f64,
    /// The next N blob uploads fail with 500 (deterministic).
    pub fail_next: u32,
    /// The next N requests of any kind are refused with 401, as when a registry token expires.
    pub unauthorized_next: u32,
    /// Blob uploads are received at most this fast, in bytes a second (0: as fast as they come),
    /// as over a slow link: what a client's progress output is tested against.
    pub upload_bytes_per_sec: u64,
    /// Answer the referrers API with 404 and send no `OCI-Subject`, as a registry without OCI
    /// 1.1's referrers API does (the CNCF registry 2.8 itself).
    pub without_referrers_api: bool,
    /// Answer the start of a blob upload with a `Location` on this origin (`http://host:port`,
    /// `https://localhost:port`) instead of the registry's own relative one, as a hostile or
    /// misconfigured registry may: what a client's credential scoping is tested against.
    pub upload_location: Option<String>,
    /// Answer every GET of a signature manifest (`…/manifests/sha256-….sig`) with this many
    /// bytes (0: off), streamed without a Content-Length, as a hostile registry may: what a
    /// client's size bound is tested against.
    pub huge_signature_manifest: u64,
    /// Answer every GET of a signature manifest with one byte, then nothing, never ending: a
    /// registry that hangs mid-answer, what a client's read deadline is tested against.
    pub stall_signature_manifest: bool,
    /// Counters: what was injected so far.
    pub failed: u32,
    pub cut: u32,
    pub uploads: u32,
}

pub type SharedFaults = Arc<Mutex<RegistryFaults>>;

/// A registry password the sandbox's GetAuthorizationToken issued to a principal. The front
/// checks each request against the principal's permissions policy, as ECR does, then forwards
/// it with the registry's own credentials.
#[derive(Debug, Clone)]
pub struct Grant {
    pub principal: String,
    /// `None`: the principal may do anything (admin keys, roles without a policy).
    pub policy: Option<serde_json::Value>,
    pub region: String,
    pub account: String,
}

/// Issued registry passwords and the principals they stand for.
pub type Grants = Arc<Mutex<std::collections::HashMap<String, Grant>>>;

/// The repositories ECR knows, as `(public, name)`: a registry request for any other is
/// answered `NAME_UNKNOWN`, as ECR answers a push to a repository that was never created.
pub type Repositories = Arc<Mutex<std::collections::BTreeSet<(bool, String)>>>;

/// Every request the fronts answered, in order, as `METHOD /path` with the registry
/// (`private`/`public`): what a test reads at `/_sandbox/registry-calls` to prove which requests
/// a client made (a stitching that reads no layer blob, a warm push in two requests).
pub type CallLog = Arc<Mutex<Vec<RegistryCall>>>;

/// One request a front answered.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryCall {
    pub registry: &'static str,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Whether the request carried an `Authorization` header.
    pub authorization: bool,
}

/// What both fronts share with the API server.
#[derive(Clone, Default)]
pub struct Shared {
    pub faults: SharedFaults,
    pub grants: Grants,
    pub repositories: Repositories,
    pub calls: CallLog,
    pub referrers: crate::referrers::Index,
}

/// One front's own settings.
struct Front {
    upstream: String,
    /// `Basic …` with the registry's own credentials.
    upstream_auth: String,
    public: bool,
    shared: Shared,
}

enum Fault {
    /// Pass the upload on, at most this many bytes a second (0: unlimited).
    None(u64),
    Fail,
    Cut,
}

fn decide(faults: &SharedFaults) -> Fault {
    let mut f = faults.lock().unwrap_or_else(|p| p.into_inner());
    f.uploads += 1;
    if f.fail_next > 0 {
        f.fail_next -= 1;
        f.failed += 1;
        return Fault::Fail;
    }
    let r: f64 = rand::random();
    if r < f.fail_share {
        f.failed += 1;
        Fault::Fail
    } else if r < f.fail_share + f.cut_share {
        f.cut += 1;
        Fault::Cut
    } else {
        Fault::None(f.upload_bytes_per_sec)
    }
}

/// `body`, received at most `rate` bytes a second (0: unlimited).
fn throttled<S, E>(body: S, rate: u64) -> impl futures_util::Stream<Item = Result<bytes::Bytes, E>>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>>,
{
    let start = tokio::time::Instant::now();
    let mut total = 0u64;
    body.then(move |chunk| {
        if let (Ok(c), true) = (&chunk, rate > 0) {
            total += c.len() as u64;
        }
        let due = start + std::time::Duration::from_secs_f64(total as f64 / rate.max(1) as f64);
        async move {
            if rate > 0 {
                tokio::time::sleep_until(due).await;
            }
            chunk
        }
    })
}

/// A 401 when the test asked for the next requests to be refused, as an expired token is.
fn injected_unauthorized(faults: &SharedFaults) -> Option<Response<Body>> {
    let mut f = faults.lock().unwrap_or_else(|p| p.into_inner());
    if f.unauthorized_next == 0 {
        return None;
    }
    f.unauthorized_next -= 1;
    let mut r = Response::new(Body::from(
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required (injected)"}]}"#,
    ));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        "www-authenticate",
        axum::http::HeaderValue::from_static("Basic realm=\"stevedore-sandbox\""),
    );
    Some(r)
}

/// A running front; `host` is what clients use.
pub struct Proxy {
    pub host: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a TLS front on a free port for the registry at `upstream` (`127.0.0.1:port`).
pub async fn start(
    upstream: String,
    upstream_auth: String,
    public: bool,
    tls: &crate::tls::Tls,
    shared: Shared,
) -> Result<Proxy> {
    let front = Arc::new(Front {
        upstream,
        upstream_auth,
        public,
        shared,
    });
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&tls.cert_pem)?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_pem)?;
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the registry certificate")?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.ca_pem)?)?;
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = listener.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, client, front) = (acceptor.clone(), client.clone(), front.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (client, front) = (client.clone(), front.clone());
                        async move {
                            let (method, path) =
                                (req.method().to_string(), req.uri().path().to_string());
                            let authorization = req.headers().contains_key("authorization");
                            let answer = forward(client, &front, req.map(Body::new)).await;
                            let status = answer.as_ref().map_or(0, |r| r.status().as_u16());
                            front
                                .shared
                                .calls
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(RegistryCall {
                                    registry: if front.public { "public" } else { "private" },
                                    method,
                                    path,
                                    status,
                                    authorization,
                                });
                            answer
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    Ok(Proxy { host, task })
}

/// The password of a Basic `Authorization` header.
fn basic_password(req: &Request<Body>) -> Option<String> {
    use base64::Engine;
    let v = req.headers().get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let (_, pw) = String::from_utf8(raw)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some(pw)
}

/// ECR's answer to a registry request the principal's policy does not allow.
fn denied(message: &str) -> Response<Body> {
    let body = serde_json::json!({"errors": [{"code": "DENIED", "message": message}]});
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Check an issued password's principal against the request; `Some` is the refusal.
fn authorize(front: &Front, req: &Request<Body>) -> Option<Response<Body>> {
    let pw = basic_password(req)?;
    let grant = front
        .shared
        .grants
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&pw)
        .cloned()?;
    let policy = grant.policy.as_ref()?;
    let scope = crate::iam::Scope {
        region: &grant.region,
        account: &grant.account,
    };
    let needs = crate::iam::registry_needs(
        &scope,
        front.public,
        req.method().as_str(),
        req.uri().path(),
    );
    crate::iam::first_denied(policy, &needs)
        .map(|(need, d)| denied(&crate::iam::denial(&grant.principal, need, d)))
}

/// The `huge_signature_manifest` or `stall_signature_manifest` fault's answer to a GET of a
/// signature manifest.
fn huge_manifest(faults: &SharedFaults, req: &Request<Body>) -> Option<Response<Body>> {
    let (size, stall) = {
        let f = faults.lock().unwrap_or_else(|p| p.into_inner());
        (f.huge_signature_manifest, f.stall_signature_manifest)
    };
    let path = req.uri().path();
    if (size == 0 && !stall) || req.method() != axum::http::Method::GET || !path.ends_with(".sig") {
        return None;
    }
    const CHUNK: u64 = 64 << 10;
    let body = if stall {
        let first = futures_util::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{"))
        });
        Body::from_stream(first.chain(futures_util::stream::pending()))
    } else {
        Body::from_stream(
            futures_util::stream::iter(0..size.div_ceil(CHUNK)).map(move |i| {
                let n = CHUNK.min(size - i * CHUNK) as usize;
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; n]))
            }),
        )
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
    );
    Some(r)
}

/// ECR's `NAME_UNKNOWN` answer to a request for a repository it does not know.
fn unknown_repository(front: &Front, path: &str) -> Option<Response<Body>> {
    let (name, _) = crate::iam::registry_repository(front.public, path)?;
    let known = front
        .shared
        .repositories
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&(front.public, name.to_string()));
    if !known {
        let body = serde_json::json!({"errors": [{"code": "NAME_UNKNOWN",
            "message": format!("The repository with name '{name}' does not exist in the registry"),
            "detail": {"name": name}}]});
        let mut r = Response::new(Body::from(body.to_string()));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/json"),
        );
        return Some(r);
    }
    None
}

async fn forward(
    client: reqwest::Client,
    front: &Front,
    req: Request<Body>,
) -> Result<Response<Body>, std::io::Error> {
    let faults = &front.shared.faults;
    if let Some(r) = injected_unauthorized(faults) {
        return Ok(r);
    }
    if let Some(refusal) = authorize(front, &req) {
        return Ok(refusal);
    }
    if let Some(r) = unknown_repository(front, req.uri().path()) {
        return Ok(r);
    }
    if let Some(r) = huge_manifest(faults, &req) {
        return Ok(r);
    }
    let issued = basic_password(&req).is_some_and(|pw| {
        front
            .shared
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&pw)
    });
    let without_referrers = faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .without_referrers_api;
    let path = req.uri().path().to_string();
    if let Some((name, digest)) = crate::referrers::listing(&path).filter(|_| !without_referrers) {
        let filter = crate::referrers::artifact_type_filter(req.uri().query());
        let index = &front.shared.referrers;
        return Ok(crate::referrers::answer(
            index,
            front.public,
            name,
            digest,
            filter.as_deref(),
        ));
    }
    let put = req.method() == axum::http::Method::PUT;
    if let Some((name, _)) = crate::referrers::manifest_put(&path).filter(|_| put) {
        // Manifests are small: read it whole, so what the registry accepted can be indexed.
        let name = name.to_string();
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 8 << 20)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let req = Request::from_parts(parts, Body::from(bytes.clone()));
        let mut answer = send_upstream(&client, front, req, issued, 0).await?;
        let digest = answer
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        if let (true, Some(d)) = (answer.status().is_success(), digest) {
            let index = &front.shared.referrers;
            let subject = crate::referrers::record(index, front.public, &name, &bytes, &d);
            if let Some(s) = subject.filter(|_| !without_referrers) {
                if let Ok(v) = axum::http::HeaderValue::from_str(&s) {
                    answer.headers_mut().insert("oci-subject", v);
                }
            }
        }
        return Ok(answer);
    }
    let blob_put =
        req.method() == axum::http::Method::PUT && req.uri().path().contains("/blobs/uploads/");
    let mut rate = 0;
    if blob_put {
        match decide(faults) {
            Fault::None(r) => rate = r,
            Fault::Fail => {
                // Read the body first, as a registry that fails at the end of an upload does.
                let mut body = req.into_body().into_data_stream();
                while let Some(chunk) = body.next().await {
                    if chunk.is_err() {
                        break;
                    }
                }
                let mut r = Response::new(Body::from(
                    r#"{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}"#,
                ));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return Ok(r);
            }
            Fault::Cut => {
                // Take some of the body, then drop the connection without an answer.
                let mut body = req.into_body().into_data_stream();
                let _ = body.next().await;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected cut",
                ));
            }
        }
    }
    let upload_start =
        req.method() == axum::http::Method::POST && path.ends_with("/blobs/uploads/");
    let answer = send_upstream(&client, front, req, issued, rate).await?;
    Ok(if upload_start {
        moved_upload(faults, answer)
    } else {
        answer
    })
}

/// The answer to the start of an upload with its `Location` moved to the fault's origin, when
/// `upload_location` is set.
fn moved_upload(faults: &SharedFaults, mut answer: Response<Body>) -> Response<Body> {
    let origin = faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .upload_location
        .clone();
    let moved = origin.and_then(|o| {
        let l = answer.headers().get("location")?.to_str().ok()?;
        l.starts_with('/')
            .then(|| format!("{}{l}", o.trim_end_matches('/')))
    });
    if let Some(v) = moved.and_then(|m| axum::http::HeaderValue::from_str(&m).ok()) {
        answer.headers_mut().insert("location", v);
    }
    answer
}

/// Forward `req` to the registry (with its own credentials in place of an issued password),
/// its body received at most `rate` bytes a second.
async fn send_upstream(
    client: &reqwest::Client,
    front: &Front,
    req: Request<Body>,
    issued: bool,
    rate: u64,
) -> Result<Response<Body>, std::io::Error> {
    let upstream = &front.upstream;
    let url = format!(
        "https://{upstream}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut out = client.request(req.method().clone(), url);
    for (k, v) in req.headers() {
        let replaced = issued && k.as_str() == "authorization";
        if !replaced && !matches!(k.as_str(), "host" | "connection" | "transfer-encoding") {
            out = out.header(k, v);
        }
    }
    if issued {
        // The registry knows only its own password; the issued one stood for a principal.
        out = out.header("authorization", front.upstream_auth.as_str());
    }
    let out = out.body(reqwest::Body::wrap_stream(throttled(
        req.into_body().into_data_stream(),
        rate,
    )));
    let resp = out
        .send()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut r = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if !matches!(k.as_str(), "connection" | "transfer-encoding") {
            r = r.header(k, v);
        }
    }
    r.body(Body::from_stream(resp.bytes_stream()))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

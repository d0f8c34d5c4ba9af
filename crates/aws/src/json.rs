//! A small SigV4-signed JSON client: awsJson1_1 for ECS, EventBridge and CloudWatch Logs, restJson1 for
//! EventBridge Scheduler, and EC2's query protocol (a form in, XML out) for the one EC2 call.
//!
//! These calls go through it rather than the typed SDK so that task definitions, rule targets
//! and schedules travel as JSON, field for field: a field this build has never heard of is
//! copied, not dropped (and no SDK crate adds to the binary).

use super::credentials::Refreshing;
use crate::error::backoff;
use anyhow::{Context, Result};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use stevedore_base::config;

/// An error answered by the service.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn is_throttling(&self) -> bool {
        super::error::THROTTLING.contains(&self.code.as_str())
    }
}

/// The outcome of one call: the answer, a service error, or a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0:#}")]
    Transport(anyhow::Error),
}

impl CallError {
    /// Whether the call failed because the run's deadline passed.
    pub fn is_deadline(&self) -> bool {
        matches!(self, CallError::Transport(e) if e.is::<stevedore_base::error::DeadlineExceeded>())
    }

    /// As an `anyhow` error that keeps a passed deadline recognisable (exit code 4).
    pub fn into_anyhow(self, context: String) -> anyhow::Error {
        match self {
            CallError::Transport(e) if e.is::<stevedore_base::error::DeadlineExceeded>() => {
                e.context(context)
            }
            other => anyhow::anyhow!("{context}: {other}"),
        }
    }
}

/// One AWS service as this client speaks to it.
#[derive(Debug)]
pub struct Service {
    /// awsJson1_1's X-Amz-Target prefix; `None` for a restJson1 service.
    target_prefix: Option<&'static str>,
    /// The SigV4 signing name, which is also the endpoint's host prefix.
    signing_name: &'static str,
    /// The SDK's service-specific endpoint variable (`AWS_ENDPOINT_URL_<SERVICE ID>`).
    endpoint_var: &'static str,
}

pub const ECS: Service = Service {
    target_prefix: Some("AmazonEC2ContainerServiceV20141113"),
    signing_name: "ecs",
    endpoint_var: "AWS_ENDPOINT_URL_ECS",
};
pub const CODEDEPLOY: Service = Service {
    target_prefix: Some("CodeDeploy_20141006"),
    signing_name: "codedeploy",
    endpoint_var: "AWS_ENDPOINT_URL_CODEDEPLOY",
};
pub const EVENTBRIDGE: Service = Service {
    target_prefix: Some("AWSEvents"),
    signing_name: "events",
    endpoint_var: "AWS_ENDPOINT_URL_EVENTBRIDGE",
};
pub const LOGS: Service = Service {
    target_prefix: Some("Logs_20140328"),
    signing_name: "logs",
    endpoint_var: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
};
pub const KMS: Service = Service {
    target_prefix: Some("TrentService"),
    signing_name: "kms",
    endpoint_var: "AWS_ENDPOINT_URL_KMS",
};
/// EC2 (query protocol): only DescribeNetworkInterfaces, for a task's public IP, so the SDK's
/// largest crate stays out of the build.
pub const EC2: Service = Service {
    target_prefix: None,
    signing_name: "ec2",
    endpoint_var: "AWS_ENDPOINT_URL_EC2",
};
pub const SCHEDULER: Service = Service {
    target_prefix: None,
    signing_name: "scheduler",
    endpoint_var: "AWS_ENDPOINT_URL_SCHEDULER",
};

/// The SDK's endpoint variable for the service, then the global one, then AWS's host; with
/// the variable it came from.
fn endpoint(service: &Service, region: &str) -> (String, Option<&'static str>) {
    let var = service.endpoint_var;
    match (config::env_var(var), config::env_var("AWS_ENDPOINT_URL")) {
        (Some(url), _) => (url, Some(var)),
        (None, Some(url)) => (url, Some("AWS_ENDPOINT_URL")),
        (None, None) => (
            format!(
                "https://{}.{region}.{}",
                service.signing_name,
                config::dns_suffix(region)
            ),
            None,
        ),
    }
}

/// The longest one request may take (less when a deadline is nearer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    service: &'static Service,
    http: reqwest::Client,
    endpoint: String,
    /// The variable that set the endpoint, if one did.
    endpoint_source: Option<&'static str>,
    region: String,
    credentials: Arc<Refreshing>,
    max_attempts: u32,
    /// Called for every request, for tests and benchmarks that count calls.
    pub calls: std::sync::atomic::AtomicU64,
}

impl Client {
    /// An ECS client for `region` (with the SDK's endpoint variables), signing with `credentials`.
    pub fn ecs(region: &str, credentials: Arc<Refreshing>) -> Result<Client> {
        Client::new(&ECS, region, credentials)
    }

    /// A client of `service` in `region` (with the SDK's endpoint variables).
    pub fn new(
        service: &'static Service,
        region: &str,
        credentials: Arc<Refreshing>,
    ) -> Result<Client> {
        let (endpoint, endpoint_source) = endpoint(service, region);
        // AWS's JSON APIs never redirect: a 3xx is an answer, never a hop that would carry the
        // signed request (and its session token) elsewhere.
        let mut http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(bundle) = config::env_var("AWS_CA_BUNDLE") {
            let pem = std::fs::read(&bundle)
                .with_context(|| format!("reading AWS_CA_BUNDLE {bundle}"))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("AWS_CA_BUNDLE {bundle}"))?
            {
                http = http.add_root_certificate(cert);
            }
        }
        let max_attempts = config::env_var("AWS_MAX_ATTEMPTS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5u32)
            .max(1);
        Ok(Client {
            service,
            http: http.build()?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            endpoint_source,
            region: region.to_string(),
            credentials,
            max_attempts,
            calls: Default::default(),
        })
    }

    /// A client of `service` in the same region, with the same credentials.
    pub fn sibling(&self, service: &'static Service) -> Result<Client> {
        Client::new(service, &self.region, self.credentials.clone())
    }

    /// Call `op` with `body`, retrying throttling, 5xx and transport failures with jittered backoff.
    /// Expired (or nearly expired) OIDC credentials are re-assumed once and the call repeated.
    ///
    /// Inside work with a deadline ([`crate::deadline::scope`]) no attempt outlives it: each request's
    /// timeout shrinks to the time left, backoffs stop at it, and a call still unanswered then
    /// fails with [`stevedore_base::error::DeadlineExceeded`] (exit code 4).
    pub async fn call(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let request = Request {
            method: "POST",
            path: "/".into(),
            op,
            body: Some(body),
            form: None,
        };
        self.send(&request).await
    }

    /// An EC2 query call: `Action=op`, the API version and `params` as a form; the answer's
    /// XML as a string (a JSON string value).
    pub async fn query(&self, op: &str, params: &[(String, String)]) -> Result<String, CallError> {
        let form = {
            // Built apart: the serializer is not Send, and must not live across an await.
            let mut f = form_urlencoded::Serializer::new(String::new());
            f.append_pair("Action", op)
                .append_pair("Version", "2016-11-15");
            for (k, v) in params {
                f.append_pair(k, v);
            }
            f.finish()
        };
        let request = Request {
            method: "POST",
            path: "/".into(),
            op,
            body: None,
            form: Some(form),
        };
        match self.send(&request).await? {
            Value::String(xml) => Ok(xml),
            other => Ok(other.to_string()),
        }
    }

    /// A restJson1 call: `method` on `path` (with its query), `op` naming it in errors.
    pub async fn rest(
        &self,
        method: &'static str,
        path: String,
        op: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let request = Request {
            method,
            path,
            op,
            body,
            form: None,
        };
        self.send(&request).await
    }

    async fn send(&self, request: &Request<'_>) -> Result<Value, CallError> {
        let op = request.op;
        let mut attempt = 0;
        let mut reassumed = false;
        let deadline = crate::deadline::current();
        let passed = || {
            CallError::Transport(anyhow::Error::new(
                stevedore_base::error::DeadlineExceeded {
                    endpoint: self.endpoint.clone(),
                    op: op.to_string(),
                },
            ))
        };
        loop {
            attempt += 1;
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(passed());
            }
            let per_request = left.map_or(REQUEST_TIMEOUT, |l| l.min(REQUEST_TIMEOUT));
            let result = match tokio::time::timeout(per_request, self.call_once(request)).await {
                Ok(r) => r,
                Err(_) if left.is_some_and(|l| l <= REQUEST_TIMEOUT) => return Err(passed()),
                Err(_) => Err(CallError::Transport(anyhow::anyhow!(
                    "{} did not answer {op} within {} s",
                    self.endpoint,
                    REQUEST_TIMEOUT.as_secs()
                ))),
            };
            match result {
                Err(CallError::Api(e))
                    if !reassumed
                        && matches!(e.code.as_str(), "ExpiredTokenException" | "ExpiredToken") =>
                {
                    reassumed = true;
                    if !self.credentials.refresh().await {
                        return Err(CallError::Api(e));
                    }
                    continue;
                }
                Err(CallError::Api(e))
                    if attempt < self.max_attempts && (e.is_throttling() || e.status >= 500) => {}
                Err(CallError::Transport(_)) if attempt < self.max_attempts => {}
                other => return other,
            }
            let pause = backoff(attempt);
            match deadline {
                Some(d) if std::time::Instant::now() + pause >= d => {
                    tokio::time::sleep(d.saturating_duration_since(std::time::Instant::now()))
                        .await;
                    return Err(passed());
                }
                _ => tokio::time::sleep(pause).await,
            }
        }
    }

    async fn call_once(&self, request: &Request<'_>) -> Result<Value, CallError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let creds =
            self.credentials.current().await.map_err(|e| {
                CallError::Transport(anyhow::anyhow!("loading AWS credentials: {e}"))
            })?;
        let payload = match &request.form {
            Some(form) => form.clone(),
            None => request.body.map(Value::to_string).unwrap_or_default(),
        };
        let url = format!("{}{}", self.endpoint, request.path);
        let target = self
            .service
            .target_prefix
            .map(|p| format!("{p}.{}", request.op));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        match &target {
            Some(t) => {
                headers.push(("content-type", "application/x-amz-json-1.1"));
                headers.push(("x-amz-target", t.as_str()));
            }
            None if request.form.is_some() => headers.push((
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )),
            None if request.body.is_some() => headers.push(("content-type", "application/json")),
            None => {}
        }
        let identity = creds.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CallError::Transport(anyhow::anyhow!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            request.method,
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(payload.as_bytes()),
        )
        .map_err(|e| CallError::Transport(anyhow::anyhow!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| CallError::Transport(anyhow::anyhow!("signing: {e}")))?
            .into_parts();
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| CallError::Transport(e.into()))?;
        let mut req = self.http.request(method, &url).body(payload);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        for h in instructions.headers() {
            req = req.header(h.0, h.1);
        }
        let resp = req.send().await.map_err(|e| {
            CallError::Transport(anyhow::anyhow!(
                "cannot reach {}{}: {}",
                self.endpoint,
                self.endpoint_source
                    .map(|v| format!(" (from {v})"))
                    .unwrap_or_default(),
                crate::error::root_cause(&e)
            ))
        })?;
        let status = resp.status().as_u16();
        // restJson1 names the error in a header; awsJson1_1 in the body's __type.
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp
            .text()
            .await
            .map_err(|e| CallError::Transport(e.into()))?;
        if request.form.is_some() {
            // EC2 answers XML, errors included.
            if status >= 300 {
                return Err(CallError::Api(parse_xml_error(status, &text)));
            }
            return Ok(Value::String(text));
        }
        let value: Value = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 300 {
            let mut value = value;
            if let (Some(t), Some(map)) = (error_type, value.as_object_mut()) {
                map.entry("__type").or_insert(Value::String(t));
            }
            return Err(CallError::Api(parse_error(status, &value)));
        }
        Ok(value)
    }
}

/// One call as it goes on the wire.
struct Request<'a> {
    method: &'static str,
    /// The path and query, from `/`.
    path: String,
    /// The operation's name (the target of awsJson1_1, and what errors name).
    op: &'a str,
    body: Option<&'a Value>,
    /// A query-protocol form, sent instead of a JSON body.
    form: Option<String>,
}

/// An EC2 (or awsQuery) XML error document: its first `<Code>` and `<Message>`, wherever they
/// sit (`Response/Errors/Error` for EC2, `ErrorResponse/Error` for awsQuery).
pub fn parse_xml_error(status: u16, xml: &str) -> ApiError {
    use aws_smithy_xml::decode::{try_data, Document, ScopedDecoder};
    fn walk(el: &mut ScopedDecoder<'_, '_>, found: &mut [Option<String>; 2], depth: u8) {
        while let Some(mut child) = el.next_tag() {
            let slot = match child.start_el().local() {
                "Code" => Some(0),
                "Message" => Some(1),
                _ => None,
            };
            match slot {
                Some(i) if found[i].is_none() => {
                    found[i] = try_data(&mut child).ok().map(|s| s.to_string());
                }
                _ if depth < 4 => walk(&mut child, found, depth + 1),
                _ => {}
            }
        }
    }
    let mut found = [None, None];
    let mut doc = Document::new(xml);
    if let Ok(mut root) = doc.root_element() {
        walk(&mut root, &mut found, 0);
    }
    let [code, message] = found;
    ApiError {
        status,
        code: stevedore_base::relay::escape(&code.unwrap_or_else(|| "UnknownError".into()))
            .into_owned(),
        message: stevedore_base::relay::escape(&message.unwrap_or_default()).into_owned(),
    }
}

/// An awsJson error document: `__type` (possibly `prefix#Code`) and `message` (or `Message`).
pub fn parse_error(status: u16, v: &Value) -> ApiError {
    let code = v
        .get("__type")
        .and_then(Value::as_str)
        .unwrap_or("UnknownError");
    let code = code
        .rsplit('#')
        .next()
        .unwrap_or(code)
        .split(':')
        .next()
        .unwrap_or(code);
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    ApiError {
        status,
        code: stevedore_base::relay::escape(code).into_owned(),
        message: stevedore_base::relay::escape(message).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_documents() {
        let e = parse_error(
            400,
            &json!({"__type": "com.amazonaws.ecs#ServiceNotFoundException", "message": "Service not found."}),
        );
        assert_eq!(e.code, "ServiceNotFoundException");
        assert_eq!(
            e.to_string(),
            "ServiceNotFoundException: Service not found."
        );
        assert!(parse_error(
            400,
            &json!({"__type": "ThrottlingException", "Message": "Rate exceeded"})
        )
        .is_throttling());
        assert_eq!(parse_error(500, &json!("oops")).code, "UnknownError");
        let ec2 = parse_xml_error(400, "<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>InvalidNetworkInterfaceID.NotFound</Code><Message>The networkInterface ID 'eni-1' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>");
        assert_eq!(ec2.code, "InvalidNetworkInterfaceID.NotFound");
        assert_eq!(
            ec2.message,
            "The networkInterface ID 'eni-1' does not exist"
        );
        assert_eq!(parse_xml_error(503, "<html>down").code, "UnknownError");
    }
}

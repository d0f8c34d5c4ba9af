//! The load balancer front: each production and test listener rule a service's load balancers
//! name (`advancedConfiguration.productionListenerRule` / `testListenerRule`) gets an HTTP
//! listener on a loopback port of its own, opened when the service appears. A request is routed
//! as the deployment routes traffic: the test listener to the green revision once test traffic
//! has shifted, the production listener to green with the production weight's probability
//! (linear steps, a canary), else to the revision the service runs. The answer is the
//! revision's identity (`{"listener", "service", "taskDefinition", "revision", "task"}`) from one
//! of its RUNNING tasks, or 503 when it has none. `GET /_sandbox/listeners` lists them.
//!
//! In Docker mode a request goes on to the chosen task's container, at the port the engine
//! published for the load balancer's container port (method, path, query and body; the
//! container's status, content type and body come back, with `x-stevedore-revision` saying
//! blue or green), so a check against the test listener reaches the green revision itself; 502
//! while the chosen task's container has not published that port yet.

use crate::app::App;
use crate::ecs::EcsState;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Listener rule ARN → `http://127.0.0.1:PORT`.
pub type Listeners = Mutex<BTreeMap<String, String>>;

/// Which listener a rule is: (cluster, service, "production" | "test").
type Route = (String, String, &'static str);

/// The rules of this region's services that have no listener yet.
fn wanted(ecs: &EcsState, open: &BTreeMap<String, String>) -> Vec<(String, Route)> {
    let mut out = vec![];
    for ((cluster, name), svc) in &ecs.services {
        for lb in svc.load_balancers.as_array().into_iter().flatten() {
            for (key, kind) in [
                ("productionListenerRule", "production"),
                ("testListenerRule", "test"),
            ] {
                if let Some(rule) = lb["advancedConfiguration"][key].as_str() {
                    if !open.contains_key(rule) && !out.iter().any(|(r, _)| r == rule) {
                        out.push((rule.to_string(), (cluster.clone(), name.clone(), kind)));
                    }
                }
            }
        }
    }
    out
}

/// Open a listener for each rule that needs one (called after an ECS call, with the state).
pub fn open_new(app: &Arc<App>, region: &str, ecs: &EcsState) {
    let mut open = app.listeners.lock().unwrap_or_else(|p| p.into_inner());
    for (rule, route) in wanted(ecs, &open) {
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = listener.local_addr() else {
            continue;
        };
        if listener.set_nonblocking(true).is_err() {
            continue;
        }
        open.insert(rule, format!("http://{addr}"));
        let state = (app.clone(), region.to_string(), route);
        tokio::spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let router = axum::Router::new()
                .fallback(serve)
                .with_state(Arc::new(state));
            let _ = axum::serve(listener, router).await;
        });
    }
}

async fn serve(
    AxState(s): AxState<Arc<(Arc<App>, String, Route)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (app, region, (cluster, service, kind)) = &*s;
    // Through the simulation's one entry, so the tasks a tick starts get their probes and
    // containers even when only the listeners are being asked.
    let (code, identity, upstream, docker_mode) =
        crate::server::in_region(app, region, |ecs, _| {
            let (code, identity) =
                answer(ecs, cluster, service, kind, rand::random::<f64>() * 100.0);
            let upstream = upstream(ecs, cluster, service, &identity);
            (code, identity, upstream, ecs.docker_mode)
        });
    match upstream {
        Some(addr) => proxy(&addr, &identity, method, &uri, &headers, body).await,
        // A task whose container has not published its port yet is not a target that answers:
        // the simulated identity would pass for the container's own answer.
        None if docker_mode && code.is_success() => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"message": format!("the {} task's container has not published its port (yet)", identity["revision"].as_str().unwrap_or("blue"))})),
        )
            .into_response(),
        None => (code, Json(identity)).into_response(),
    }
}

/// Docker mode: the loopback address of the answering task's container, at the port the
/// service's load balancer names.
fn upstream(ecs: &EcsState, cluster: &str, service: &str, identity: &Value) -> Option<String> {
    let svc = ecs
        .services
        .get(&(cluster.to_string(), service.to_string()))?;
    let port = svc.load_balancers[0]["containerPort"].as_u64()?;
    let task = identity["task"].as_str()?;
    let t = ecs.tasks.iter().find(|t| t.id == task)?;
    t.published
        .iter()
        .find(|(p, _)| u64::from(*p) == port)
        .map(|(_, a)| a.clone())
}

/// Send the request on to the container and answer with what it answered.
async fn proxy(
    addr: &str,
    identity: &Value,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let revision = identity["revision"].as_str().unwrap_or("blue").to_string();
    match forward(addr, method, uri, headers, body).await {
        Ok(mut resp) => {
            if let Ok(v) = revision.parse() {
                resp.headers_mut().insert("x-stevedore-revision", v);
            }
            resp
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(
                json!({"message": format!("the {revision} task's container did not answer: {e}")}),
            ),
        )
            .into_response(),
    }
}

/// Pass a request on to a container at `addr` (its method, path, query, content type and body);
/// its status, content type and body as the answer, or why it did not answer.
pub(crate) async fn forward(
    addr: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .timeout(std::time::Duration::from_secs(30))
        .body(body);
    if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
        req = req.header(axum::http::header::CONTENT_TYPE, ct.clone());
    }
    let r = req.send().await?;
    let status = r.status();
    let ct = r.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let bytes = r.bytes().await.unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    if let Some(ct) = ct {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, ct);
    }
    Ok(resp)
}

/// Where a request to the listener `kind` goes, `roll` being a uniform draw in 0..100.
pub fn answer(
    ecs: &EcsState,
    cluster: &str,
    service: &str,
    kind: &str,
    roll: f64,
) -> (StatusCode, Value) {
    let Some(svc) = ecs
        .services
        .get(&(cluster.to_string(), service.to_string()))
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "the service is gone"}),
        );
    };
    let active = svc
        .deployments
        .iter()
        .find_map(|d| d.native.as_ref().filter(|n| n.active()).map(|n| (d, n)));
    let (td, green) = match active {
        Some((d, n)) => {
            let weight = if kind == "test" { n.test } else { n.production };
            let blue = n
                .source
                .as_ref()
                .map_or(svc.task_definition.as_str(), |(_, td)| td.as_str());
            if roll < weight {
                (d.task_definition.as_str(), true)
            } else {
                (blue, false)
            }
        }
        None => (svc.task_definition.as_str(), false),
    };
    let task = ecs.tasks.iter().find(|t| {
        t.td_arn == td
            && t.last_status == "RUNNING"
            && t.desired_status == "RUNNING"
            && t.service.as_deref() == Some(service)
    });
    let short = td.rsplit('/').next().unwrap_or(td);
    match task {
        Some(t) => (
            StatusCode::OK,
            json!({"listener": kind, "service": service, "taskDefinition": short, "revision": if green { "green" } else { "blue" }, "task": t.id}),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": format!("no running task of {short} behind the {kind} listener")}),
        ),
    }
}

/// `GET /_sandbox/listeners`: each listener rule's address.
pub async fn list(AxState(app): AxState<Arc<App>>) -> Json<BTreeMap<String, String>> {
    Json(
        app.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    )
}

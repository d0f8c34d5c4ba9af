//! The public IPs of awsvpc tasks ([`crate::ecs::network`]) answer HTTP at each port their
//! task definition maps, as a Fargate task with `assignPublicIp: ENABLED` does: each address is
//! a loopback address of its own (127.77.x.y), listened on once the task exists.
//!
//! In Docker mode a request goes on to the task's container, at the port the engine published
//! for it (the container's status, headers' content type and body come back); simulated, the
//! task answers 200 with a line naming itself. A task that is not RUNNING answers 503.

use crate::app::App;
use crate::ecs::EcsState;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The `ip:port` addresses listened on.
pub type Fronts = Mutex<BTreeSet<String>>;

/// What one front serves: the app, the region, and the address and port it answers at.
type Front = Arc<(Arc<App>, String, String, u16)>;

/// Listen on each task's public IP at each of its ports not listened on yet (called after an
/// ECS call, with the state).
pub fn open_new(app: &Arc<App>, region: &str, ecs: &EcsState) {
    let mut open = app.public_ips.lock().unwrap_or_else(|p| p.into_inner());
    for t in ecs.tasks.iter().filter(|t| t.last_status != "STOPPED") {
        let Some(eni) = &t.eni else { continue };
        let Some(ip) = &eni.public_ip else { continue };
        for port in &eni.ports {
            let addr = format!("{ip}:{port}");
            if open.contains(&addr) {
                continue;
            }
            let Ok(listener) = std::net::TcpListener::bind(&addr) else {
                eprintln!(
                    "stevedore-sandbox: cannot listen on {addr} for task {}",
                    t.id
                );
                open.insert(addr);
                continue;
            };
            if listener.set_nonblocking(true).is_err() {
                continue;
            }
            open.insert(addr);
            let state = Arc::new((app.clone(), region.to_string(), ip.clone(), *port));
            tokio::spawn(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let router = axum::Router::new().fallback(serve).with_state(state);
                let _ = axum::serve(listener, router).await;
            });
        }
    }
}

/// Who answers at `ip`: the running task's id and revision, and in Docker mode its container's
/// published address for `port`.
enum Answer {
    None(String),
    Simulated { task: String, revision: String },
    Container(Option<String>),
}

fn who(ecs: &EcsState, ip: &str, port: u16) -> Answer {
    let Some(t) = ecs.tasks.iter().find(|t| {
        t.last_status != "STOPPED"
            && t.eni.as_ref().and_then(|e| e.public_ip.as_deref()) == Some(ip)
    }) else {
        return Answer::None(format!("no task has the address {ip}"));
    };
    if t.last_status != "RUNNING" {
        return Answer::None(format!("task {} is {}", t.id, t.last_status));
    }
    if ecs.docker_mode {
        let published = t.published.iter().find(|(p, _)| *p == port);
        return Answer::Container(published.map(|(_, a)| a.clone()));
    }
    Answer::Simulated {
        task: t.id.clone(),
        revision: t.td_arn.rsplit('/').next().unwrap_or_default().to_string(),
    }
}

async fn serve(
    AxState(s): AxState<Front>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (app, region, ip, port) = &*s;
    let answer = crate::server::in_region(app, region, |ecs, _| who(ecs, ip, *port));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match answer {
        Answer::None(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
        Answer::Simulated { task, revision } => (
            StatusCode::OK,
            format!("stevedore-sandbox: task {task} of {revision} answers {method} {path} on {ip}:{port}\n"),
        )
            .into_response(),
        Answer::Container(None) => (
            StatusCode::BAD_GATEWAY,
            format!("the task's container has not published port {port} (yet)\n"),
        )
            .into_response(),
        Answer::Container(Some(addr)) => {
            match crate::listeners::forward(&addr, method, &uri, &headers, body).await {
                Ok(resp) => resp,
                Err(e) => (
                    StatusCode::BAD_GATEWAY,
                    format!("the task's container did not answer: {e}\n"),
                )
                    .into_response(),
            }
        }
    }
}

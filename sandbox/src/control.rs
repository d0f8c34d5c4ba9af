//! The `/_sandbox/*` control routes tests use: reset, faults, the clock, roles, tokens and the
//! calls made.

use crate::app::App;
use crate::state::{Faults, RoleConfig};
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) async fn reset(AxState(app): AxState<Arc<App>>) -> StatusCode {
    app.lock().reset();
    app.registry_repositories
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

pub(crate) async fn get_faults(AxState(app): AxState<Arc<App>>) -> Json<Faults> {
    Json(app.lock().faults.clone())
}

pub(crate) async fn put_faults(
    AxState(app): AxState<Arc<App>>,
    Json(f): Json<Faults>,
) -> StatusCode {
    app.lock().faults = f;
    StatusCode::NO_CONTENT
}

pub(crate) async fn get_registry_faults(
    AxState(app): AxState<Arc<App>>,
) -> Json<crate::proxy::RegistryFaults> {
    Json(
        app.registry_faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    )
}

pub(crate) async fn put_registry_faults(
    AxState(app): AxState<Arc<App>>,
    Json(f): Json<crate::proxy::RegistryFaults>,
) -> StatusCode {
    *app.registry_faults
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = f;
    StatusCode::NO_CONTENT
}

/// The registry requests answered so far (oldest first).
pub(crate) async fn get_registry_calls(
    AxState(app): AxState<Arc<App>>,
) -> Json<Vec<crate::proxy::RegistryCall>> {
    Json(
        app.registry_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    )
}

/// Forget the registry requests answered so far, so a test sees only those that follow.
pub(crate) async fn delete_registry_calls(AxState(app): AxState<Arc<App>>) -> StatusCode {
    app.registry_calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

pub(crate) async fn get_clock(AxState(app): AxState<Arc<App>>) -> Json<Value> {
    let st = app.lock();
    Json(json!({"now": st.clock.now(), "speed": st.clock.speed()}))
}

/// `{"advance": seconds}` and/or `{"speed": factor}`.
pub(crate) async fn post_clock(
    AxState(app): AxState<Arc<App>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut st = app.lock();
    if let Some(s) = body.get("speed").and_then(Value::as_f64) {
        st.clock.set_speed(s);
    }
    if let Some(a) = body.get("advance").and_then(Value::as_f64) {
        st.clock.advance(a);
    }
    Json(json!({"now": st.clock.now(), "speed": st.clock.speed()}))
}

pub(crate) async fn put_role(
    AxState(app): AxState<Arc<App>>,
    Path(name): Path<String>,
    Json(role): Json<RoleConfig>,
) -> Response {
    if let Some(policy) = &role.permissions_policy {
        if let Err(why) = crate::iam::check_policy(policy) {
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    }
    app.lock().roles.insert(name, role);
    StatusCode::NO_CONTENT.into_response()
}

/// Mint a token: `{"sub": …, "aud": …, "org": …, "ttl": seconds}`.
pub(crate) async fn post_token(
    AxState(app): AxState<Arc<App>>,
    Json(body): Json<Value>,
) -> Response {
    let org = body
        .get("org")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| app.lock().config.org_id.clone());
    let aud = body
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or(&org)
        .to_string();
    let sub = body
        .get("sub")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| format!("org/{org}/project/proj-sandbox/user/user-sandbox"));
    let ttl = body.get("ttl").and_then(Value::as_i64).unwrap_or(3600);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    match app
        .issuer
        .sign(&crate::jwt::circleci_claims(&org, &aud, &sub, now, ttl))
    {
        Ok(t) => Json(json!({"token": t})).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(crate) async fn get_calls(AxState(app): AxState<Arc<App>>) -> Json<Value> {
    let st = app.lock();
    Json(json!(st
        .calls
        .iter()
        .map(|(t, c)| json!({"at": t, "call": c}))
        .collect::<Vec<_>>()))
}

/// `PUT /_sandbox/alarms` `{"alarmName": …, "state": "ALARM" | "OK" | "INSUFFICIENT_DATA"}`: a
/// CloudWatch alarm's state, which native ECS deployments watching it react to.
pub(crate) async fn put_alarm(
    AxState(app): AxState<Arc<App>>,
    Json(body): Json<Value>,
) -> Response {
    let (Some(name), Some(state)) = (body["alarmName"].as_str(), body["state"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "alarmName and state are required").into_response();
    };
    if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&state) {
        return (
            StatusCode::BAD_REQUEST,
            "state is OK, ALARM or INSUFFICIENT_DATA",
        )
            .into_response();
    }
    let region = app.region().to_string();
    let mut st = app.lock();
    st.ecs
        .region(&region)
        .alarms
        .insert(name.to_string(), state.to_string());
    StatusCode::NO_CONTENT.into_response()
}

/// `PUT /_sandbox/hooks` `{"targetArn": …, "answers": ["IN_PROGRESS", "FAILED"],
/// "callBackDelaySeconds": 5}`: what a lifecycle hook's Lambda function answers, call by call.
pub(crate) async fn put_hook(AxState(app): AxState<Arc<App>>, Json(body): Json<Value>) -> Response {
    let script: crate::ecs::strategies::LambdaScript = match serde_json::from_value(body) {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let ok = ["SUCCEEDED", "FAILED", "IN_PROGRESS"];
    if script.answers.iter().any(|a| !ok.contains(&a.as_str())) {
        return (
            StatusCode::BAD_REQUEST,
            "answers are SUCCEEDED, FAILED or IN_PROGRESS",
        )
            .into_response();
    }
    let region = app.region().to_string();
    let mut st = app.lock();
    let lambdas = &mut st.ecs.region(&region).lambdas;
    lambdas.retain(|l| l.target_arn != script.target_arn);
    lambdas.push(script);
    StatusCode::NO_CONTENT.into_response()
}

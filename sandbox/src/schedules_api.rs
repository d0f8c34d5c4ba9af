//! The HTTP side of EventBridge Scheduler (restJson1) and EventBridge (awsJson1_1): requests
//! authenticated and authorised as every other service's, errors in each protocol's shape, and
//! the control routes that run a schedule's or rule's ECS targets now.

use crate::app::App;
use crate::awsjson::{json_response, opt_str, AwsError, OpResult};
use crate::schedules::{self, Place};
use crate::server::{authenticate, authorize_needs, ecs_op, faults, Service};
use crate::state::Caller;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A restJson1 answer: the body, or the error named in `x-amzn-ErrorType` with `Message`.
fn rest_response(result: OpResult) -> Response {
    let (status, body, error) = match result {
        Ok(v) => (200, v, None),
        Err(e) => (e.status, json!({"Message": e.message}), Some(e.code)),
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string(),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(code) = error.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert("x-amzn-errortype", code);
    }
    resp
}

fn parse_body(body: &[u8]) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        AwsError::client(
            "SerializationException",
            format!("request body is not JSON: {e}"),
        )
    })
}

/// `/schedules/{Name}`: GetSchedule, CreateSchedule, UpdateSchedule, DeleteSchedule.
pub async fn scheduler(
    AxState(app): AxState<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let req = parse_body(&body)?;
        let caller = authenticate(&app, Service::Scheduler, &method, &uri, &headers, &body)?;
        let group = query.get("groupName").map(String::as_str);
        let op = schedules::scheduler_op(method.as_str());
        let account = app.account().to_string();
        let pl = Place {
            region: &caller.region,
            account: &account,
            now: 0.0,
        };
        let needs = schedules::scheduler_needs(&pl, method.as_str(), &name, group, &req);
        authorize_needs(&app, &caller, &needs)?;
        faults(&app, Service::Scheduler, op).await?;
        let mut st = app.lock();
        let now = st.clock.now();
        let pl = Place { now, ..pl };
        schedules::scheduler_handle(&mut st.schedules, &pl, method.as_str(), &name, group, &req)
    }
    .await;
    rest_response(result)
}

/// One `AWSEvents.*` call.
pub async fn events(
    app: &Arc<App>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    op: &str,
) -> Response {
    let result = async {
        let req = parse_body(body)?;
        let caller = authenticate(app, Service::Events, method, uri, headers, body)?;
        let account = app.account().to_string();
        let pl = Place {
            region: &caller.region,
            account: &account,
            now: 0.0,
        };
        authorize_needs(app, &caller, &schedules::events_needs(&pl, op, &req))?;
        faults(app, Service::Events, op).await?;
        let mut st = app.lock();
        let now = st.clock.now();
        let pl = Place { now, ..pl };
        schedules::events_handle(&mut st.schedules, &pl, op, &req)
    }
    .await;
    json_response(result)
}

/// The RunTask request AWS makes for an ECS target: `EcsParameters` (both services' Pascal-case
/// shape) turned into ECS's camel-case one, on the cluster the target's ARN names.
fn run_task_request(target: &Value, started_by: Option<&str>) -> Value {
    let p = &target["EcsParameters"];
    let cluster = opt_str(target, "Arn").unwrap_or_default();
    let mut req = json!({"cluster": cluster, "taskDefinition": p["TaskDefinitionArn"], "count": p.get("TaskCount").cloned().unwrap_or(json!(1))});
    let renames = [
        ("LaunchType", "launchType"),
        ("PlatformVersion", "platformVersion"),
        ("Group", "group"),
        ("CapacityProviderStrategy", "capacityProviderStrategy"),
        ("EnableECSManagedTags", "enableECSManagedTags"),
        ("EnableExecuteCommand", "enableExecuteCommand"),
        ("PlacementConstraints", "placementConstraints"),
        ("PlacementStrategy", "placementStrategy"),
        ("PropagateTags", "propagateTags"),
        ("ReferenceId", "referenceId"),
    ];
    for (from, to) in renames {
        if let Some(v) = p.get(from) {
            req[to] = v.clone();
        }
    }
    if let Some(vpc) = p.pointer("/NetworkConfiguration/awsvpcConfiguration") {
        let mut out = json!({"subnets": vpc["Subnets"]});
        if let Some(g) = vpc.get("SecurityGroups") {
            out["securityGroups"] = g.clone();
        }
        if let Some(ip) = vpc.get("AssignPublicIp") {
            out["assignPublicIp"] = ip.clone();
        }
        req["networkConfiguration"] = json!({"awsvpcConfiguration": out});
    }
    // EventBridge's tags are [{Key, Value}]; Scheduler's are [{key: value}] maps.
    let mut tags = vec![];
    for t in p["Tags"].as_array().into_iter().flatten() {
        match (opt_str(t, "Key"), opt_str(t, "Value")) {
            (Some(k), Some(v)) => tags.push(json!({"key": k, "value": v})),
            _ => {
                for (k, v) in t.as_object().into_iter().flatten() {
                    tags.push(json!({"key": k, "value": v}));
                }
            }
        }
    }
    if !tags.is_empty() {
        req["tags"] = json!(tags);
    }
    if let Some(by) = started_by {
        req["startedBy"] = json!(by);
    }
    req
}

/// Run each ECS target through ECS's RunTask as the service would, in `region`.
fn run_targets(
    app: &Arc<App>,
    region: &str,
    targets: &[Value],
    started_by: Option<&str>,
) -> Response {
    let caller = Caller {
        arn: format!("arn:aws:iam::{}:role/sandbox-scheduler", app.account()),
        user_id: "AROASANDBOXSCHEDULER".into(),
        role: None,
        region: region.to_string(),
    };
    let mut arns = vec![];
    for t in targets.iter().filter(|t| t.get("EcsParameters").is_some()) {
        let req = run_task_request(t, started_by);
        match ecs_op(app, "RunTask", &req, &caller) {
            Ok(out) => arns.extend(
                out["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["taskArn"].as_str().map(String::from)),
            ),
            Err(e) => return json_response(Err(e)),
        }
    }
    json_response(Ok(json!({"taskArns": arns})))
}

/// The region a control request names (`?region=`), else the sandbox's own.
fn control_region(app: &App, query: &BTreeMap<String, String>) -> String {
    query
        .get("region")
        .cloned()
        .unwrap_or_else(|| app.region().to_string())
}

/// `POST /_sandbox/schedules/{group}/{name}/run[?region=]`: run the schedule's target now.
pub async fn run_schedule(
    AxState(app): AxState<Arc<App>>,
    Path((group, name)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let region = control_region(&app, &query);
    let target = app
        .lock()
        .schedules
        .schedules
        .get(&(region.clone(), group, name.clone()))
        .map(|s| s["Target"].clone());
    match target {
        None => json_response(Err(AwsError::new(
            404,
            "ResourceNotFoundException",
            format!("Schedule {name} does not exist."),
        ))),
        Some(t) => run_targets(&app, &region, &[t], None),
    }
}

/// `POST /_sandbox/rules/{bus}/{name}/run[?region=]`: run the rule's ECS targets now.
pub async fn run_rule(
    AxState(app): AxState<Arc<App>>,
    Path((bus, name)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let region = control_region(&app, &query);
    let targets = app
        .lock()
        .schedules
        .rules
        .get(&(region.clone(), bus, name.clone()))
        .map(|r| r.targets.clone());
    match targets {
        None => json_response(Err(AwsError::client(
            "ResourceNotFoundException",
            format!("Rule {name} does not exist."),
        ))),
        Some(t) => run_targets(&app, &region, &t, Some(&format!("events-rule/{name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecs_target() -> Value {
        json!({"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "RoleArn": "arn:aws:iam::123456789012:role/r",
               "EcsParameters": {"TaskDefinitionArn": "report:1", "TaskCount": 2, "LaunchType": "FARGATE",
                 "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["s1"], "AssignPublicIp": "ENABLED"}},
                 "Tags": [{"team": "data"}]}})
    }

    #[test]
    fn a_target_becomes_the_run_task_aws_makes() {
        assert_eq!(
            run_task_request(&ecs_target(), Some("events-rule/r")),
            json!({"cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "taskDefinition": "report:1", "count": 2,
                   "launchType": "FARGATE", "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s1"], "assignPublicIp": "ENABLED"}},
                   "tags": [{"key": "team", "value": "data"}], "startedBy": "events-rule/r"})
        );
    }
}

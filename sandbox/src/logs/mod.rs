//! CloudWatch Logs, the subset that reading a task's output needs (awsJson1_1,
//! `Logs_20140328.*`, shaped as botocore's `logs/2014-03-28` model): CreateLogGroup,
//! CreateLogStream, PutLogEvents, DescribeLogStreams, GetLogEvents (forward and backward tokens,
//! the same forward token back at the end of a stream) and FilterLogEvents.
//!
//! ECS tasks whose containers use the awslogs driver feed the stream
//! `<awslogs-stream-prefix>/<container>/<task id>` of their group as AWS's driver does: in
//! simulated mode with the lines an image label gives ([`LogLines`]), spread over the container's
//! run time so that a reader sees them arrive; in Docker mode with what the real container
//! prints, read every second while it runs and at its exit. The group of a task definition's
//! awslogs options exists once a task of it has started (the driver's `awslogs-create-group`,
//! which the tests rely on).

mod feed;
mod window;

pub use feed::{LogLines, LABEL_LOG_COUNT, LABEL_LOG_LINES};

use crate::awsjson::{opt_str, AwsError, OpResult};
use crate::ecs::EcsState;
use feed::task_streams;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One event: milliseconds since the epoch, the message, when it was ingested.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Event {
    pub(super) timestamp: i64,
    pub(super) message: String,
    pub(super) ingestion: i64,
}

/// Groups and the streams written with PutLogEvents, per region.
#[derive(Debug, Default)]
pub struct LogsState {
    groups: BTreeMap<(String, String), Group>,
}

#[derive(Debug, Default)]
struct Group {
    streams: BTreeMap<String, (i64, Vec<Event>)>,
}

fn not_found(what: &str) -> AwsError {
    AwsError::client(
        "ResourceNotFoundException",
        format!("The specified {what} does not exist."),
    )
}

/// The group a request names (`logGroupName`, or the name in `logGroupIdentifier`'s ARN).
fn group_of(body: &Value) -> Option<String> {
    if let Some(g) = opt_str(body, "logGroupName") {
        return Some(g.to_string());
    }
    let id = opt_str(body, "logGroupIdentifier")?;
    let name = id.split_once(":log-group:").map_or(id, |(_, n)| n);
    Some(name.trim_end_matches(":*").to_string())
}

/// Whether `group` exists in `region`: created, or named by the awslogs options of a started task.
fn group_exists(logs: &LogsState, ecs: &EcsState, region: &str, group: &str) -> bool {
    logs.groups
        .contains_key(&(region.to_string(), group.to_string()))
        || !task_streams(ecs, region, group, 0).is_empty()
}

/// Every stream of a group: written ones and the tasks'.
fn streams(
    logs: &LogsState,
    ecs: &EcsState,
    region: &str,
    group: &str,
    now_ms: i64,
) -> Vec<(String, i64, Vec<Event>)> {
    let mut all = task_streams(ecs, region, group, now_ms);
    if let Some(g) = logs.groups.get(&(region.to_string(), group.to_string())) {
        all.extend(
            g.streams
                .iter()
                .map(|(n, (c, e))| (n.clone(), *c, e.clone())),
        );
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

pub(super) fn limit(body: &Value, max: u64, default: u64) -> Result<usize, AwsError> {
    match body.get("limit").and_then(Value::as_u64) {
        None => Ok(default as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(AwsError::invalid_parameter(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))),
    }
}

/// One call: where it is made and what it names.
struct Call<'a> {
    region: &'a str,
    account: &'a str,
    now_ms: i64,
    group: String,
    body: &'a Value,
}

fn key(c: &Call) -> (String, String) {
    (c.region.to_string(), c.group.clone())
}

fn stream_name(body: &Value) -> Result<&str, AwsError> {
    opt_str(body, "logStreamName")
        .ok_or_else(|| AwsError::invalid_parameter("logStreamName is required."))
}

fn require_group(logs: &LogsState, ecs: &EcsState, c: &Call) -> Result<(), AwsError> {
    if group_exists(logs, ecs, c.region, &c.group) {
        Ok(())
    } else {
        Err(not_found("log group"))
    }
}

/// One CloudWatch Logs operation in `region` at `now` (seconds).
pub fn handle(
    logs: &mut LogsState,
    ecs: &EcsState,
    (region, account): (&str, &str),
    now: f64,
    op: &str,
    body: &Value,
) -> OpResult {
    let group = group_of(body).ok_or_else(|| {
        AwsError::invalid_parameter("logGroupName or logGroupIdentifier is required.")
    })?;
    let c = Call {
        region,
        account,
        now_ms: (now * 1000.0) as i64,
        group,
        body,
    };
    match op {
        "CreateLogGroup" => create_log_group(logs, ecs, &c),
        "CreateLogStream" | "PutLogEvents" => write(logs, ecs, &c, op == "PutLogEvents"),
        "DescribeLogStreams" => describe_log_streams(logs, ecs, &c),
        "GetLogEvents" => {
            require_group(logs, ecs, &c)?;
            let stream = stream_name(body)?;
            let all = streams(logs, ecs, region, &c.group, c.now_ms);
            let (_, _, events) = all
                .iter()
                .find(|(n, ..)| n == stream)
                .ok_or_else(|| not_found("log stream"))?;
            window::get_log_events(events, body)
        }
        "FilterLogEvents" => filter_log_events(logs, ecs, &c),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement CloudWatch Logs {other}"),
        )),
    }
}

fn create_log_group(logs: &mut LogsState, ecs: &EcsState, c: &Call) -> OpResult {
    if group_exists(logs, ecs, c.region, &c.group) {
        return Err(AwsError::client(
            "ResourceAlreadyExistsException",
            "The specified log group already exists",
        ));
    }
    logs.groups.insert(key(c), Group::default());
    Ok(json!({}))
}

/// CreateLogStream, or PutLogEvents (`put`) to a stream made with it.
fn write(logs: &mut LogsState, ecs: &EcsState, c: &Call, put: bool) -> OpResult {
    let stream = stream_name(c.body)?.to_string();
    require_group(logs, ecs, c)?;
    let entry = logs.groups.entry(key(c)).or_default();
    if !put {
        if entry.streams.contains_key(&stream) {
            return Err(AwsError::client(
                "ResourceAlreadyExistsException",
                "The specified log stream already exists",
            ));
        }
        entry.streams.insert(stream, (c.now_ms, vec![]));
        return Ok(json!({}));
    }
    let (_, events) = entry
        .streams
        .get_mut(&stream)
        .ok_or_else(|| not_found("log stream"))?;
    let given = c.body["logEvents"].as_array().cloned().unwrap_or_default();
    let times: Vec<i64> = given
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap_or(0))
        .collect();
    if times.windows(2).any(|w| w[0] > w[1]) {
        return Err(AwsError::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if given.is_empty() || given.len() > 10_000 {
        return Err(AwsError::invalid_parameter(
            "logEvents must hold 1 to 10000 events.",
        ));
    }
    events.extend(given.iter().map(|e| Event {
        timestamp: e["timestamp"].as_i64().unwrap_or(0),
        message: e["message"].as_str().unwrap_or_default().to_string(),
        ingestion: c.now_ms,
    }));
    Ok(json!({}))
}

fn describe_log_streams(logs: &LogsState, ecs: &EcsState, c: &Call) -> OpResult {
    require_group(logs, ecs, c)?;
    let body = c.body;
    let prefix = opt_str(body, "logStreamNamePrefix").unwrap_or("");
    let by_time = opt_str(body, "orderBy") == Some("LastEventTime");
    if by_time && !prefix.is_empty() {
        return Err(AwsError::invalid_parameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let (region, account, g) = (c.region, c.account, &c.group);
    let mut list: Vec<Value> = streams(logs, ecs, region, g, c.now_ms)
        .into_iter()
        .filter(|(n, ..)| n.starts_with(prefix))
        .map(|(n, created, events)| {
            let mut v = json!({"logStreamName": n, "creationTime": created, "storedBytes": 0,
                "arn": format!("arn:aws:logs:{region}:{account}:log-group:{g}:log-stream:{n}")});
            if let (Some(first), Some(last)) = (events.first(), events.last()) {
                v["firstEventTimestamp"] = json!(first.timestamp);
                v["lastEventTimestamp"] = json!(last.timestamp);
                v["lastIngestionTime"] = json!(last.ingestion);
            }
            v
        })
        .collect();
    if by_time {
        list.sort_by_key(|v| v["lastEventTimestamp"].as_i64().unwrap_or(0));
    }
    if body.get("descending").and_then(Value::as_bool) == Some(true) {
        list.reverse();
    }
    page(list, body, "logStreams", limit(body, 50, 50)?)
}

fn filter_log_events(logs: &LogsState, ecs: &EcsState, c: &Call) -> OpResult {
    require_group(logs, ecs, c)?;
    let body = c.body;
    let names: Vec<&str> = body["logStreamNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let prefix = opt_str(body, "logStreamNamePrefix");
    if !names.is_empty() && prefix.is_some() {
        return Err(AwsError::invalid_parameter(
            "You cannot specify both logStreamNames and logStreamNamePrefix.",
        ));
    }
    let pattern = opt_str(body, "filterPattern").unwrap_or("");
    let in_range = |e: &Event| {
        body.get("startTime")
            .and_then(Value::as_i64)
            .is_none_or(|s| e.timestamp >= s)
            && body
                .get("endTime")
                .and_then(Value::as_i64)
                .is_none_or(|t| e.timestamp <= t)
    };
    let mut found = Vec::new();
    let mut searched = Vec::new();
    for (n, _, events) in streams(logs, ecs, c.region, &c.group, c.now_ms) {
        if (!names.is_empty() && !names.contains(&n.as_str()))
            || prefix.is_some_and(|p| !n.starts_with(p))
        {
            continue;
        }
        searched.push(json!({"logStreamName": n, "searchedCompletely": true}));
        for (i, e) in events
            .iter()
            .enumerate()
            .filter(|(_, e)| in_range(e) && window::matches(pattern, &e.message))
        {
            found.push((e.timestamp, n.clone(), i, e.clone()));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let list: Vec<Value> = found
        .into_iter()
        .map(|(_, n, i, e)| {
            let mut v = window::event_json(&e);
            v["logStreamName"] = json!(n);
            v["eventId"] = json!(format!("{}{:020}", e.timestamp, i));
            v
        })
        .collect();
    let mut out = page(list, body, "events", limit(body, 10_000, 10_000)?)?;
    out["searchedLogStreams"] = json!(searched);
    Ok(out)
}

/// A page of `list` after the request's `nextToken` (an offset here), and the next token.
fn page(list: Vec<Value>, body: &Value, key: &str, limit: usize) -> OpResult {
    let start = match opt_str(body, "nextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| AwsError::invalid_parameter("The specified nextToken is invalid."))?,
    };
    let end = (start + limit).min(list.len());
    let mut out = json!({key: list.get(start..end).unwrap_or_default()});
    if end < list.len() {
        out["nextToken"] = json!(end.to_string());
    }
    Ok(out)
}

/// The resource a CloudWatch Logs call acts on, for IAM: the stream for GetLogEvents and
/// PutLogEvents, else the group.
pub fn resource(region: &str, account: &str, op: &str, body: &Value) -> String {
    let g = group_of(body).unwrap_or_default();
    match (op, opt_str(body, "logStreamName")) {
        ("GetLogEvents" | "PutLogEvents" | "CreateLogStream", Some(s)) => {
            format!("arn:aws:logs:{region}:{account}:log-group:{g}:log-stream:{s}")
        }
        _ => format!("arn:aws:logs:{region}:{account}:log-group:{g}:*"),
    }
}

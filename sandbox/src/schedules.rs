//! EventBridge Scheduler (restJson1: `/schedules/{Name}`) and EventBridge rules and targets
//! (awsJson1_1, `AWSEvents.*`): the subsets `stevedore schedule` and its tests use, per region,
//! shaped as botocore's `scheduler/2021-06-30` and `events/2015-10-07` models say. A schedule's
//! or rule's ECS targets can be run on demand through the control API (`/_sandbox/...`), which
//! turns their `EcsParameters` into the RunTask that AWS would make.

use crate::awsjson::{opt_str, AwsError, OpResult};
use crate::iam::Need;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Schedules by (region, group, name) and rules by (region, bus, name).
#[derive(Debug, Default)]
pub struct SchedulesState {
    pub schedules: BTreeMap<(String, String, String), Value>,
    pub rules: BTreeMap<(String, String, String), Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub json: Value,
    pub targets: Vec<Value>,
}

/// Where a call is made: its region and account, and the sandbox's clock.
pub struct Place<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub now: f64,
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationException", message)
}

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

/// Scheduler's and EventBridge's names: `[0-9a-zA-Z-_.]+`, 1 to 64 characters.
fn check_name(what: &str, name: &str) -> Result<(), AwsError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+"
        )))
    }
}

/// A target's `EcsParameters`, checked as both models constrain them.
fn check_ecs_parameters(p: &Value) -> Result<(), AwsError> {
    if opt_str(p, "TaskDefinitionArn").is_none_or(str::is_empty) {
        return Err(validation("EcsParameters.TaskDefinitionArn is required."));
    }
    if let Some(n) = p.get("TaskCount") {
        if !n.as_i64().is_some_and(|n| (1..=10).contains(&n)) {
            return Err(validation(format!(
                "EcsParameters.TaskCount {n} must be between 1 and 10."
            )));
        }
    }
    let enums: [(&str, &[&str]); 2] = [
        ("LaunchType", &["EC2", "FARGATE", "EXTERNAL"]),
        ("PropagateTags", &["TASK_DEFINITION"]),
    ];
    for (k, allowed) in enums {
        if let Some(v) = opt_str(p, k).filter(|v| !allowed.contains(v)) {
            return Err(validation(format!(
                "EcsParameters.{k} '{v}' is not one of {}.",
                allowed.join(", ")
            )));
        }
    }
    if let Some(vpc) = p.pointer("/NetworkConfiguration/awsvpcConfiguration") {
        if vpc["Subnets"].as_array().is_none_or(Vec::is_empty) {
            return Err(validation(
                "NetworkConfiguration.awsvpcConfiguration.Subnets is required.",
            ));
        }
        if let Some(v) =
            opt_str(vpc, "AssignPublicIp").filter(|v| !["ENABLED", "DISABLED"].contains(v))
        {
            return Err(validation(format!(
                "AssignPublicIp '{v}' is not one of ENABLED, DISABLED."
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- EventBridge Scheduler

fn schedule_arn(pl: &Place, group: &str, name: &str) -> String {
    format!(
        "arn:aws:scheduler:{}:{}:schedule/{group}/{name}",
        pl.region, pl.account
    )
}

/// The members CreateSchedule and UpdateSchedule take (besides `Name`, in the URI).
const SCHEDULE_MEMBERS: &[&str] = &[
    "GroupName",
    "ScheduleExpression",
    "StartDate",
    "EndDate",
    "Description",
    "ScheduleExpressionTimezone",
    "State",
    "KmsKeyArn",
    "Target",
    "FlexibleTimeWindow",
    "ClientToken",
    "ActionAfterCompletion",
];

/// A schedule as CreateSchedule or UpdateSchedule gives it, checked; with AWS's defaults.
fn schedule_from(pl: &Place, group: &str, name: &str, body: &Value) -> Result<Value, AwsError> {
    check_name("name", name)?;
    check_name("groupName", group)?;
    let Some(map) = body.as_object() else {
        return Err(validation("The request body is not a JSON object."));
    };
    if let Some(k) = map.keys().find(|k| !SCHEDULE_MEMBERS.contains(&k.as_str())) {
        return Err(AwsError::client(
            "SerializationException",
            format!("Unknown member {k}."),
        ));
    }
    for k in ["ScheduleExpression", "Target", "FlexibleTimeWindow"] {
        if map.get(k).is_none() {
            return Err(validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                k[..1].to_lowercase() + &k[1..]
            )));
        }
    }
    let target = &map["Target"];
    if opt_str(target, "Arn").is_none() || opt_str(target, "RoleArn").is_none() {
        return Err(validation("Target.Arn and Target.RoleArn are required."));
    }
    if let Some(p) = target.get("EcsParameters") {
        check_ecs_parameters(p)?;
    }
    if let Some(s) = opt_str(body, "State").filter(|s| !["ENABLED", "DISABLED"].contains(s)) {
        return Err(validation(format!(
            "State '{s}' is not one of ENABLED, DISABLED."
        )));
    }
    let mut v: Map<String, Value> = map.clone();
    v.remove("ClientToken");
    v.insert("Name".into(), json!(name));
    v.insert("GroupName".into(), json!(group));
    v.insert("Arn".into(), json!(schedule_arn(pl, group, name)));
    v.entry("State").or_insert(json!("ENABLED"));
    v.entry("ScheduleExpressionTimezone")
        .or_insert(json!("UTC"));
    v.entry("ActionAfterCompletion").or_insert(json!("NONE"));
    Ok(Value::Object(v))
}

/// One Scheduler request: `method` on `/schedules/{name}` with `group` from the body or query.
pub fn scheduler_handle(
    st: &mut SchedulesState,
    pl: &Place,
    method: &str,
    name: &str,
    query_group: Option<&str>,
    body: &Value,
) -> OpResult {
    let group = opt_str(body, "GroupName")
        .or(query_group)
        .unwrap_or("default")
        .to_string();
    let key = (pl.region.to_string(), group.clone(), name.to_string());
    let missing = || not_found(format!("Schedule {name} does not exist."));
    match method {
        "GET" => st.schedules.get(&key).cloned().ok_or_else(missing),
        "POST" => {
            if st.schedules.contains_key(&key) {
                return Err(AwsError::new(
                    409,
                    "ConflictException",
                    format!("Schedule {name} already exists."),
                ));
            }
            let mut v = schedule_from(pl, &group, name, body)?;
            v["CreationDate"] = json!(pl.now);
            v["LastModificationDate"] = json!(pl.now);
            let arn = v["Arn"].clone();
            st.schedules.insert(key, v);
            Ok(json!({"ScheduleArn": arn}))
        }
        "PUT" => {
            let created = st.schedules.get(&key).ok_or_else(missing)?["CreationDate"].clone();
            // UpdateSchedule replaces the schedule: a member left out is reset, as in AWS.
            let mut v = schedule_from(pl, &group, name, body)?;
            v["CreationDate"] = created;
            v["LastModificationDate"] = json!(pl.now);
            let arn = v["Arn"].clone();
            st.schedules.insert(key, v);
            Ok(json!({"ScheduleArn": arn}))
        }
        "DELETE" => st
            .schedules
            .remove(&key)
            .map(|_| json!({}))
            .ok_or_else(missing),
        other => Err(AwsError::new(
            405,
            "ValidationException",
            format!("{other} is not a Scheduler method here."),
        )),
    }
}

/// The operation a Scheduler request is, for IAM and the call log.
pub fn scheduler_op(method: &str) -> &'static str {
    match method {
        "GET" => "GetSchedule",
        "POST" => "CreateSchedule",
        "PUT" => "UpdateSchedule",
        "DELETE" => "DeleteSchedule",
        _ => "Unknown",
    }
}

/// What a Scheduler call needs: `scheduler:<Op>` on the schedule, and iam:PassRole on the role
/// a create or update gives the target.
pub fn scheduler_needs(
    pl: &Place,
    method: &str,
    name: &str,
    query_group: Option<&str>,
    body: &Value,
) -> Vec<Need> {
    let group = opt_str(body, "GroupName")
        .or(query_group)
        .unwrap_or("default");
    let mut needs = vec![Need::new(
        &format!("scheduler:{}", scheduler_op(method)),
        schedule_arn(pl, group, name),
    )];
    if matches!(method, "POST" | "PUT") {
        if let Some(role) = body.pointer("/Target/RoleArn").and_then(Value::as_str) {
            needs.push(
                Need::new("iam:PassRole", role)
                    .with("iam:PassedToService", "scheduler.amazonaws.com"),
            );
        }
    }
    needs
}

// ---------------------------------------------------------------- EventBridge rules

fn rule_arn(pl: &Place, bus: &str, name: &str) -> String {
    let path = if bus == "default" {
        name.to_string()
    } else {
        format!("{bus}/{name}")
    };
    format!("arn:aws:events:{}:{}:rule/{path}", pl.region, pl.account)
}

/// The bus a request names (a name or an ARN), `default` when none.
fn bus_of(body: &Value) -> String {
    let b = opt_str(body, "EventBusName").unwrap_or("default");
    b.rsplit_once(":event-bus/")
        .map_or(b, |(_, n)| n)
        .to_string()
}

/// EventBridge's limit of targets per rule.
const TARGETS_PER_RULE: usize = 5;

/// One EventBridge operation.
pub fn events_handle(st: &mut SchedulesState, pl: &Place, op: &str, body: &Value) -> OpResult {
    let bus = bus_of(body);
    let name_key = if op == "PutRule" || op == "DescribeRule" {
        "Name"
    } else {
        "Rule"
    };
    let name = opt_str(body, name_key).unwrap_or_default().to_string();
    check_name(&name_key.to_lowercase(), &name)?;
    let key = (pl.region.to_string(), bus.clone(), name.clone());
    let missing = || {
        AwsError::client(
            "ResourceNotFoundException",
            format!("Rule {name} does not exist on EventBus {bus}."),
        )
    };
    match op {
        "PutRule" => {
            if body.get("ScheduleExpression").is_none() && body.get("EventPattern").is_none() {
                return Err(validation(
                    "Parameter(s) EventPattern or ScheduleExpression must be specified.",
                ));
            }
            let arn = rule_arn(pl, &bus, &name);
            let mut json = json!({"Name": name, "Arn": arn, "EventBusName": bus,
                "State": opt_str(body, "State").unwrap_or("ENABLED")});
            for k in [
                "ScheduleExpression",
                "EventPattern",
                "Description",
                "RoleArn",
            ] {
                if let Some(v) = body.get(k) {
                    json[k] = v.clone();
                }
            }
            let targets = st
                .rules
                .get(&key)
                .map(|r| r.targets.clone())
                .unwrap_or_default();
            st.rules.insert(key, Rule { json, targets });
            Ok(json!({"RuleArn": arn}))
        }
        "DescribeRule" => st
            .rules
            .get(&key)
            .map(|r| r.json.clone())
            .ok_or_else(missing),
        "ListTargetsByRule" => {
            let rule = st.rules.get(&key).ok_or_else(missing)?;
            let limit = body
                .get("Limit")
                .and_then(Value::as_u64)
                .unwrap_or(100)
                .clamp(1, 100) as usize;
            let start = match opt_str(body, "NextToken") {
                None => 0,
                Some(t) => t.parse::<usize>().map_err(|_| {
                    AwsError::client("ValidationException", "The nextToken provided is invalid.")
                })?,
            };
            let page: Vec<Value> = rule
                .targets
                .iter()
                .skip(start)
                .take(limit)
                .cloned()
                .collect();
            let mut out = json!({"Targets": page});
            if start + limit < rule.targets.len() {
                out["NextToken"] = json!((start + limit).to_string());
            }
            Ok(out)
        }
        "PutTargets" => {
            let given = body["Targets"].as_array().cloned().unwrap_or_default();
            if given.is_empty() || given.len() > 10 {
                return Err(validation("Targets must hold 1 to 10 targets."));
            }
            let rule = st.rules.get_mut(&key).ok_or_else(missing)?;
            let mut failed = vec![];
            for t in given {
                let id = opt_str(&t, "Id").unwrap_or_default().to_string();
                let problem = if id.is_empty() || opt_str(&t, "Arn").is_none() {
                    Some("Target Id and Arn are required.".to_string())
                } else if let Some(Err(e)) = t.get("EcsParameters").map(check_ecs_parameters) {
                    Some(e.message)
                } else {
                    None
                };
                if let Some(message) = problem {
                    failed.push(json!({"TargetId": id, "ErrorCode": "ValidationException", "ErrorMessage": message}));
                    continue;
                }
                let count = rule.targets.len();
                match rule.targets.iter_mut().find(|x| x["Id"] == id.as_str()) {
                    Some(slot) => *slot = t,
                    None if count >= TARGETS_PER_RULE => {
                        return Err(AwsError::client("LimitExceededException", format!("The requested resource exceeds the maximum number allowed of {TARGETS_PER_RULE} targets per rule.")));
                    }
                    None => rule.targets.push(t),
                }
            }
            Ok(json!({"FailedEntryCount": failed.len(), "FailedEntries": failed}))
        }
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement EventBridge {other}"),
        )),
    }
}

/// What an EventBridge call needs: `events:<Op>` on the rule, and iam:PassRole on each role a
/// PutTargets gives its targets.
pub fn events_needs(pl: &Place, op: &str, body: &Value) -> Vec<Need> {
    let name_key = if op == "PutRule" || op == "DescribeRule" {
        "Name"
    } else {
        "Rule"
    };
    let name = opt_str(body, name_key).unwrap_or_default();
    let mut needs = vec![Need::new(
        &format!("events:{op}"),
        rule_arn(pl, &bus_of(body), name),
    )];
    if op == "PutTargets" {
        for t in body["Targets"].as_array().into_iter().flatten() {
            if let Some(role) = opt_str(t, "RoleArn") {
                needs.push(
                    Need::new("iam:PassRole", role)
                        .with("iam:PassedToService", "events.amazonaws.com"),
                );
            }
        }
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> Place<'static> {
        Place {
            region: "eu-west-1",
            account: "123456789012",
            now: 100.0,
        }
    }

    fn ecs_target() -> Value {
        json!({"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "RoleArn": "arn:aws:iam::123456789012:role/r",
               "EcsParameters": {"TaskDefinitionArn": "report:1", "TaskCount": 2, "LaunchType": "FARGATE",
                 "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["s1"], "AssignPublicIp": "ENABLED"}},
                 "Tags": [{"team": "data"}]}})
    }

    #[test]
    fn schedules_are_created_read_replaced_and_checked() {
        let (mut st, pl) = (SchedulesState::default(), place());
        let body = json!({"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": ecs_target(), "Description": "d"});
        scheduler_handle(&mut st, &pl, "POST", "nightly", None, &body).unwrap();
        let got =
            scheduler_handle(&mut st, &pl, "GET", "nightly", Some("default"), &json!({})).unwrap();
        assert_eq!(
            got["Arn"],
            "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly"
        );
        assert_eq!(
            (
                got["State"].as_str(),
                got["ScheduleExpressionTimezone"].as_str()
            ),
            (Some("ENABLED"), Some("UTC"))
        );
        // UpdateSchedule replaces: the description not sent is gone.
        let mut update = body.clone();
        update.as_object_mut().unwrap().remove("Description");
        scheduler_handle(&mut st, &pl, "PUT", "nightly", None, &update).unwrap();
        let got = scheduler_handle(&mut st, &pl, "GET", "nightly", None, &json!({})).unwrap();
        assert!(got.get("Description").is_none());
        assert_eq!(
            scheduler_handle(&mut st, &pl, "POST", "nightly", None, &body)
                .unwrap_err()
                .code,
            "ConflictException"
        );
        let e = scheduler_handle(&mut st, &pl, "GET", "nope", None, &json!({})).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (404, "ResourceNotFoundException")
        );
        let mut bad = body.clone();
        bad["Target"]["EcsParameters"]["TaskCount"] = json!(11);
        assert_eq!(
            scheduler_handle(&mut st, &pl, "PUT", "nightly", None, &bad)
                .unwrap_err()
                .code,
            "ValidationException"
        );
        assert_eq!(
            scheduler_handle(
                &mut st,
                &pl,
                "PUT",
                "nightly",
                None,
                &json!({"Target": ecs_target()})
            )
            .unwrap_err()
            .code,
            "ValidationException"
        );
    }

    #[test]
    fn rule_targets_page_and_replace_by_id() {
        let (mut st, pl) = (SchedulesState::default(), place());
        events_handle(
            &mut st,
            &pl,
            "PutRule",
            &json!({"Name": "r", "ScheduleExpression": "rate(1 day)"}),
        )
        .unwrap();
        let targets: Vec<Value> = (0..3)
            .map(|i| {
                let mut t = ecs_target();
                t["Id"] = json!(format!("t{i}"));
                t
            })
            .collect();
        events_handle(
            &mut st,
            &pl,
            "PutTargets",
            &json!({"Rule": "r", "Targets": targets}),
        )
        .unwrap();
        let page = events_handle(
            &mut st,
            &pl,
            "ListTargetsByRule",
            &json!({"Rule": "r", "Limit": 2}),
        )
        .unwrap();
        assert_eq!(page["Targets"].as_array().unwrap().len(), 2);
        let rest = events_handle(
            &mut st,
            &pl,
            "ListTargetsByRule",
            &json!({"Rule": "r", "NextToken": page["NextToken"]}),
        )
        .unwrap();
        assert_eq!(rest["Targets"][0]["Id"], "t2");
        assert!(rest.get("NextToken").is_none());
        let mut bad = ecs_target();
        bad["Id"] = json!("t0");
        bad["EcsParameters"]["LaunchType"] = json!("LAMBDA");
        let out = events_handle(
            &mut st,
            &pl,
            "PutTargets",
            &json!({"Rule": "r", "Targets": [bad]}),
        )
        .unwrap();
        assert_eq!(out["FailedEntryCount"], 1);
        let e = events_handle(
            &mut st,
            &pl,
            "ListTargetsByRule",
            &json!({"Rule": "missing"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(
            rule_arn(&pl, "ops", "r"),
            "arn:aws:events:eu-west-1:123456789012:rule/ops/r"
        );
    }
}

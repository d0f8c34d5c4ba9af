//! Pointing scheduled ECS tasks at a new task-definition revision: the EventBridge Scheduler
//! UpdateSchedule body and the EventBridge PutTargets targets, built from what GetSchedule and
//! ListTargetsByRule answered with only the task definition (and what was asked) changed.
//! Pure: the shapes are botocore's `scheduler/2021-06-30` and `events/2015-10-07` models, where
//! both services spell `EcsParameters` alike (`NetworkConfiguration.awsvpcConfiguration.Subnets`).

use serde_json::{json, Value};

/// What changes in a target's `EcsParameters`; `None` keeps the target's own value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetChanges {
    pub task_definition_arn: String,
    pub count: Option<u32>,
    pub subnets: Option<Vec<String>>,
    pub security_groups: Option<Vec<String>>,
    pub assign_public_ip: Option<bool>,
    /// `--family-change`: a schedule that runs another family may be pointed at this one.
    pub family_change: bool,
}

/// GetSchedule's members that UpdateSchedule does not take (read-only, or the URI's `Name`).
const SCHEDULE_READ_ONLY: &[&str] = &["Arn", "CreationDate", "LastModificationDate", "Name"];

/// The family of a task-definition ARN or `family:revision`.
pub fn family_of(task_definition: &str) -> &str {
    let tail = task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, t)| t);
    tail.split(':').next().unwrap_or(tail)
}

/// `family:revision` of a task-definition ARN (the ARN itself when it is not one).
pub fn short_name(task_definition: &str) -> &str {
    task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, t)| t)
}

/// `params` with the changes applied; every other field is kept as it was.
pub fn patch_ecs_parameters(params: &Value, ch: &TargetChanges) -> Value {
    let mut p = params.clone();
    p["TaskDefinitionArn"] = json!(ch.task_definition_arn);
    if let Some(n) = ch.count {
        p["TaskCount"] = json!(n);
    }
    if ch.subnets.is_some() || ch.security_groups.is_some() || ch.assign_public_ip.is_some() {
        let vpc = &mut p["NetworkConfiguration"]["awsvpcConfiguration"];
        if let Some(s) = &ch.subnets {
            vpc["Subnets"] = json!(s);
        }
        if let Some(g) = &ch.security_groups {
            vpc["SecurityGroups"] = json!(g);
        }
        if let Some(ip) = ch.assign_public_ip {
            vpc["AssignPublicIp"] = json!(if ip { "ENABLED" } else { "DISABLED" });
        }
    }
    p
}

/// Why a schedule or rule cannot be pointed at the revision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("its target is not an ECS task ({0}); stevedore schedule changes ECS targets only")]
    NotEcs(String),
    #[error("it has no target with id '{0}' (its targets: {1})")]
    NoSuchTarget(String, String),
    #[error("its ECS targets run other task definitions ({0}), not {1}; name the target with --target-id to change it anyway")]
    OtherFamily(String, String),
    #[error("it runs {0}, not family {1}; give --family-change to point it at {1} anyway")]
    OtherScheduleFamily(String, String),
    #[error("it has no targets")]
    Empty,
    #[error("its network configuration has no subnets, which awsvpc needs; give --subnets")]
    NoSubnets,
}

/// Checks an `EcsParameters` after patching: awsvpc settings need subnets.
fn check_network(p: &Value) -> Result<(), TargetError> {
    match p.pointer("/NetworkConfiguration/awsvpcConfiguration") {
        Some(vpc) if vpc["Subnets"].as_array().is_none_or(Vec::is_empty) => {
            Err(TargetError::NoSubnets)
        }
        _ => Ok(()),
    }
}

/// The UpdateSchedule body for a schedule as GetSchedule answered it: every member UpdateSchedule
/// takes is sent back as it was (UpdateSchedule replaces the whole schedule, so a member left
/// out would be reset), with the target's `EcsParameters` patched.
pub fn schedule_update(got: &Value, ch: &TargetChanges) -> Result<Value, TargetError> {
    let target = &got["Target"];
    let Some(params) = target.get("EcsParameters") else {
        return Err(TargetError::NotEcs(
            target["Arn"].as_str().unwrap_or("no target").to_string(),
        ));
    };
    let runs = params["TaskDefinitionArn"].as_str().unwrap_or_default();
    let family = family_of(&ch.task_definition_arn);
    if family_of(runs) != family && !ch.family_change {
        return Err(TargetError::OtherScheduleFamily(
            short_name(runs).to_string(),
            family.to_string(),
        ));
    }
    let mut body = got.clone();
    if let Some(map) = body.as_object_mut() {
        for k in SCHEDULE_READ_ONLY {
            map.remove(*k);
        }
    }
    let patched = patch_ecs_parameters(params, ch);
    check_network(&patched)?;
    body["Target"]["EcsParameters"] = patched;
    Ok(body)
}

/// The targets of a rule to send back with PutTargets: its ECS targets running `family` (or the
/// one named by `target_id`), each patched and otherwise whole. Other targets are left alone
/// (PutTargets changes only the targets it is given).
pub fn rule_targets(
    targets: &[Value],
    family: &str,
    target_id: Option<&str>,
    ch: &TargetChanges,
) -> Result<Vec<Value>, TargetError> {
    let id = |t: &Value| t["Id"].as_str().unwrap_or_default().to_string();
    let arn = |t: &Value| t["Arn"].as_str().unwrap_or_default().to_string();
    if targets.is_empty() {
        return Err(TargetError::Empty);
    }
    let chosen: Vec<&Value> = match target_id {
        Some(want) => {
            let t = targets.iter().find(|t| id(t) == want).ok_or_else(|| {
                TargetError::NoSuchTarget(
                    want.to_string(),
                    targets.iter().map(id).collect::<Vec<_>>().join(", "),
                )
            })?;
            if t.get("EcsParameters").is_none() {
                return Err(TargetError::NotEcs(arn(t)));
            }
            vec![t]
        }
        None => {
            let ecs: Vec<&Value> = targets
                .iter()
                .filter(|t| t.get("EcsParameters").is_some())
                .collect();
            if ecs.is_empty() {
                let arns: Vec<String> = targets.iter().map(arn).collect();
                return Err(TargetError::NotEcs(arns.join(", ")));
            }
            let same: Vec<&Value> = ecs
                .iter()
                .copied()
                .filter(|t| {
                    family_of(
                        t["EcsParameters"]["TaskDefinitionArn"]
                            .as_str()
                            .unwrap_or(""),
                    ) == family
                })
                .collect();
            if same.is_empty() {
                let others: Vec<&str> = ecs
                    .iter()
                    .map(|t| {
                        short_name(
                            t["EcsParameters"]["TaskDefinitionArn"]
                                .as_str()
                                .unwrap_or("?"),
                        )
                    })
                    .collect();
                return Err(TargetError::OtherFamily(
                    others.join(", "),
                    family.to_string(),
                ));
            }
            same
        }
    };
    chosen
        .into_iter()
        .map(|t| {
            let mut t = t.clone();
            let patched = patch_ecs_parameters(&t["EcsParameters"], ch);
            check_network(&patched)?;
            t["EcsParameters"] = patched;
            Ok(t)
        })
        .collect()
}

/// What changed between two `EcsParameters`, in words: `migrate:3 → migrate:4, count 1 → 2`.
pub fn describe_change(before: &Value, after: &Value) -> String {
    let td = |p: &Value| short_name(p["TaskDefinitionArn"].as_str().unwrap_or("?")).to_string();
    let mut parts = vec![format!("{} → {}", td(before), td(after))];
    let count = |p: &Value| p["TaskCount"].as_u64().unwrap_or(1);
    if count(before) != count(after) {
        parts.push(format!("count {} → {}", count(before), count(after)));
    }
    let net = |p: &Value| {
        p.pointer("/NetworkConfiguration/awsvpcConfiguration")
            .cloned()
    };
    if net(before) != net(after) {
        let vpc = net(after).unwrap_or_default();
        let list = |k: &str| {
            vpc[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        parts.push(format!(
            "network: subnets {}, security groups {}, public IP {}",
            list("Subnets"),
            list("SecurityGroups"),
            vpc["AssignPublicIp"].as_str().unwrap_or("DISABLED")
        ));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/report:8";

    fn changes() -> TargetChanges {
        TargetChanges {
            task_definition_arn: NEW.into(),
            ..Default::default()
        }
    }

    fn ecs_params(td: &str) -> Value {
        json!({"TaskDefinitionArn": td, "TaskCount": 1, "LaunchType": "FARGATE", "PlatformVersion": "1.4.0",
               "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "DISABLED"}},
               "Tags": [{"team": "data"}], "PropagateTags": "TASK_DEFINITION"})
    }

    #[test]
    fn families_and_short_names() {
        assert_eq!(family_of(NEW), "report");
        assert_eq!(family_of("report:3"), "report");
        assert_eq!(family_of("report"), "report");
        assert_eq!(short_name(NEW), "report:8");
    }

    #[test]
    fn a_schedule_update_keeps_every_member_but_the_read_only_ones() {
        let got = json!({"Arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly", "Name": "nightly",
            "GroupName": "default", "ScheduleExpression": "cron(0 3 * * ? *)", "ScheduleExpressionTimezone": "Europe/Paris",
            "State": "ENABLED", "Description": "d", "FlexibleTimeWindow": {"Mode": "OFF"}, "CreationDate": 1.7e9,
            "LastModificationDate": 1.7e9, "ActionAfterCompletion": "NONE",
            "Target": {"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "RoleArn": "arn:aws:iam::123456789012:role/sched",
                       "RetryPolicy": {"MaximumRetryAttempts": 2}, "Input": "{}", "EcsParameters": ecs_params("arn:aws:ecs:eu-west-1:123456789012:task-definition/report:7")}});
        let body = schedule_update(&got, &changes()).unwrap();
        let mut other = got.clone();
        other["Target"]["EcsParameters"]["TaskDefinitionArn"] = json!("billing:2");
        assert_eq!(
            schedule_update(&other, &changes()).unwrap_err().to_string(),
            "it runs billing:2, not family report; give --family-change to point it at report anyway"
        );
        let moved = TargetChanges {
            family_change: true,
            ..changes()
        };
        assert_eq!(
            schedule_update(&other, &moved).unwrap()["Target"]["EcsParameters"]
                ["TaskDefinitionArn"],
            json!(NEW)
        );
        let mut want = got.clone();
        for k in ["Arn", "Name", "CreationDate", "LastModificationDate"] {
            want.as_object_mut().unwrap().remove(k);
        }
        want["Target"]["EcsParameters"]["TaskDefinitionArn"] = json!(NEW);
        assert_eq!(body, want);
        let lambda = json!({"Name": "n", "Target": {"Arn": "arn:aws:lambda:eu-west-1:123456789012:function:f", "RoleArn": "r"}});
        assert_eq!(
            schedule_update(&lambda, &changes()).unwrap_err().to_string(),
            "its target is not an ECS task (arn:aws:lambda:eu-west-1:123456789012:function:f); stevedore schedule changes ECS targets only"
        );
    }

    #[test]
    fn count_and_network_change_only_when_asked() {
        let before = ecs_params("report:7");
        let ch = TargetChanges {
            count: Some(3),
            security_groups: Some(vec!["sg-1".into()]),
            assign_public_ip: Some(true),
            ..changes()
        };
        let after = patch_ecs_parameters(&before, &ch);
        assert_eq!(after["TaskCount"], 3);
        assert_eq!(
            after["NetworkConfiguration"],
            json!({"awsvpcConfiguration": {"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "ENABLED"}})
        );
        assert_eq!(after["Tags"], before["Tags"]);
        assert_eq!(
            describe_change(&before, &after),
            "report:7 → report:8, count 1 → 3, network: subnets subnet-1, security groups sg-1, public IP ENABLED"
        );
        assert_eq!(
            describe_change(&before, &patch_ecs_parameters(&before, &changes())),
            "report:7 → report:8"
        );
        // A network asked for on a target without one needs subnets.
        let bare = json!({"TaskDefinitionArn": "report:7"});
        let t = [json!({"Id": "t", "Arn": "c", "EcsParameters": bare})];
        let sg = TargetChanges {
            security_groups: Some(vec!["sg".into()]),
            ..changes()
        };
        assert_eq!(
            rule_targets(&t, "report", None, &sg).unwrap_err(),
            TargetError::NoSubnets
        );
    }

    #[test]
    fn rule_targets_are_the_ecs_ones_of_the_family() {
        let targets = vec![
            json!({"Id": "lambda", "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:f"}),
            json!({"Id": "report", "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "RoleArn": "r", "EcsParameters": ecs_params("arn:aws:ecs:eu-west-1:123456789012:task-definition/report:7")}),
            json!({"Id": "other", "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c1", "EcsParameters": ecs_params("cleanup:2")}),
        ];
        let got = rule_targets(&targets, "report", None, &changes()).unwrap();
        let mut want = targets[1].clone();
        want["EcsParameters"]["TaskDefinitionArn"] = json!(NEW);
        assert_eq!(got, vec![want]);
        assert_eq!(
            rule_targets(&targets, "billing", None, &changes()).unwrap_err().to_string(),
            "its ECS targets run other task definitions (report:7, cleanup:2), not billing; name the target with --target-id to change it anyway"
        );
        assert_eq!(
            rule_targets(&targets, "report", Some("other"), &changes())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            rule_targets(&targets, "report", Some("lambda"), &changes()).unwrap_err(),
            TargetError::NotEcs("arn:aws:lambda:eu-west-1:123456789012:function:f".into())
        );
        assert_eq!(
            rule_targets(&targets, "report", Some("x"), &changes())
                .unwrap_err()
                .to_string(),
            "it has no target with id 'x' (its targets: lambda, report, other)"
        );
        assert_eq!(
            rule_targets(&targets[..1], "report", None, &changes()).unwrap_err(),
            TargetError::NotEcs("arn:aws:lambda:eu-west-1:123456789012:function:f".into())
        );
        assert_eq!(
            rule_targets(&[], "report", None, &changes()).unwrap_err(),
            TargetError::Empty
        );
    }
}

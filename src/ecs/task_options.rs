//! RunTask's placement, capacity-provider, tag and override options: parsed from flags, checked
//! against ECS's model (botocore's `ecs/2014-11-13/service-2.json`) before any call. Pure.

use serde_json::{json, Map, Value};

/// `TaskOverride`'s members (the model's shape); any other key is a mistake in the file.
const TASK_OVERRIDE_KEYS: &[&str] = &[
    "containerOverrides",
    "cpu",
    "inferenceAcceleratorOverrides",
    "executionRoleArn",
    "memory",
    "taskRoleArn",
    "ephemeralStorage",
];

/// `PlacementConstraintType` and `PlacementStrategyType`.
const CONSTRAINT_TYPES: &[&str] = &["distinctInstance", "memberOf"];
const STRATEGY_TYPES: &[&str] = &["random", "spread", "binpack"];

/// Each flag value is a JSON array as the AWS CLI takes it, or one item in shorthand; the
/// items, as JSON objects.
fn items(
    flag: &str,
    values: &[String],
    shorthand: impl Fn(&str) -> Result<Value, String>,
) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if v.starts_with('[') {
            let list: Vec<Value> = serde_json::from_str(v)
                .map_err(|e| format!("{flag}: '{v}' is not a JSON array: {e}"))?;
            out.extend(list);
        } else {
            out.push(shorthand(v).map_err(|e| format!("{flag}: {e}"))?);
        }
    }
    Ok(out)
}

/// `--placement-constraint TYPE[:EXPRESSION]` (e.g. `memberOf:attribute:ecs.instance-type =~ t3.*`).
pub fn placement_constraints(values: &[String]) -> Result<Vec<Value>, String> {
    let list = items("--placement-constraint", values, |v| {
        let (kind, expr) = v.split_once(':').unwrap_or((v, ""));
        Ok(if expr.is_empty() {
            json!({"type": kind})
        } else {
            json!({"type": kind, "expression": expr})
        })
    })?;
    for c in &list {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
        if !CONSTRAINT_TYPES.contains(&kind) {
            return Err(format!(
                "--placement-constraint: type '{kind}' is not one of {}",
                CONSTRAINT_TYPES.join(", ")
            ));
        }
        if kind == "memberOf" && c.get("expression").is_none() {
            return Err(
                "--placement-constraint: memberOf needs an expression (memberOf:EXPRESSION)".into(),
            );
        }
    }
    // ECS's limit: 10 constraints per task.
    if list.len() > 10 {
        return Err(format!(
            "--placement-constraint: {} given; ECS takes at most 10",
            list.len()
        ));
    }
    Ok(list)
}

/// `--placement-strategy TYPE[:FIELD]` (e.g. `spread:attribute:ecs.availability-zone`, `binpack:memory`).
pub fn placement_strategy(values: &[String]) -> Result<Vec<Value>, String> {
    let list = items("--placement-strategy", values, |v| {
        let (kind, field) = v.split_once(':').unwrap_or((v, ""));
        Ok(if field.is_empty() {
            json!({"type": kind})
        } else {
            json!({"type": kind, "field": field})
        })
    })?;
    for s in &list {
        let kind = s.get("type").and_then(Value::as_str).unwrap_or_default();
        if !STRATEGY_TYPES.contains(&kind) {
            return Err(format!(
                "--placement-strategy: type '{kind}' is not one of {}",
                STRATEGY_TYPES.join(", ")
            ));
        }
    }
    if list.len() > 5 {
        return Err(format!(
            "--placement-strategy: {} given; ECS takes at most 5",
            list.len()
        ));
    }
    Ok(list)
}

/// `--capacity-provider NAME[:WEIGHT[:BASE]]` (e.g. `FARGATE_SPOT:3`, `FARGATE:1:2`).
pub fn capacity_providers(values: &[String]) -> Result<Vec<Value>, String> {
    let list = items("--capacity-provider", values, |v| {
        let mut parts = v.split(':');
        let name = parts.next().unwrap_or_default().trim();
        let number = |what: &str, p: Option<&str>, max: i64| -> Result<Option<i64>, String> {
            match p.map(str::trim).filter(|p| !p.is_empty()) {
                None => Ok(None),
                Some(p) => match p.parse::<i64>() {
                    Ok(n) if (0..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "'{v}': the {what} '{p}' is not a whole number from 0 to {max}"
                    )),
                },
            }
        };
        let weight = number("weight", parts.next(), 1000)?;
        let base = number("base", parts.next(), 100_000)?;
        if parts.next().is_some() || name.is_empty() {
            return Err(format!("'{v}' is not NAME[:WEIGHT[:BASE]]"));
        }
        let mut item = json!({"capacityProvider": name});
        if let Some(w) = weight {
            item["weight"] = w.into();
        }
        if let Some(b) = base {
            item["base"] = b.into();
        }
        Ok(item)
    })?;
    for p in &list {
        if p.get("capacityProvider").and_then(Value::as_str).is_none() {
            return Err("--capacity-provider: each item needs a capacityProvider".into());
        }
    }
    if list.len() > 20 {
        return Err(format!(
            "--capacity-provider: {} given; ECS takes at most 20",
            list.len()
        ));
    }
    Ok(list)
}

/// `--tag KEY=VALUE`, as ECS's `Tag` list.
pub fn tags(values: &[String]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for t in values.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let (k, v) = t
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("--tag: '{t}' is not KEY=VALUE"))?;
        if k.starts_with("aws:") {
            return Err(format!(
                "--tag: '{k}' begins with aws:, which AWS reserves for itself"
            ));
        }
        if k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(format!(
                "--tag: '{k}' is longer than ECS's 128-character keys or 256-character values"
            ));
        }
        out.push(json!({"key": k, "value": v}));
    }
    if out.len() > 50 {
        return Err(format!("--tag: {} given; ECS takes at most 50", out.len()));
    }
    Ok(out)
}

/// The task's overrides: the file's `TaskOverride` (when given), with `container`'s command and
/// environment from the flags laid over that container's entry (environment variables of the
/// same name replaced, others kept).
pub fn overrides(
    file: Option<&Value>,
    container: &str,
    command: Option<&[String]>,
    env: &[(String, String)],
) -> Result<Value, String> {
    let mut base = match file {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("not a JSON object (ECS's TaskOverride)".into()),
    };
    if let Some(k) = base
        .keys()
        .find(|k| !TASK_OVERRIDE_KEYS.contains(&k.as_str()))
    {
        return Err(format!(
            "'{k}' is not a member of ECS's TaskOverride ({})",
            TASK_OVERRIDE_KEYS.join(", ")
        ));
    }
    let list = base
        .entry("containerOverrides")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or("containerOverrides is not a list")?;
    if command.is_none() && env.is_empty() {
        return Ok(Value::Object(base));
    }
    let at = match list.iter().position(|c| c["name"] == container) {
        Some(i) => i,
        None => {
            list.push(json!({"name": container}));
            list.len() - 1
        }
    };
    let entry = &mut list[at];
    if let Some(cmd) = command {
        entry["command"] = json!(cmd);
    }
    if !env.is_empty() {
        let mut vars: Vec<Value> = entry
            .get("environment")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        vars.retain(|v| !env.iter().any(|(k, _)| v["name"] == k.as_str()));
        vars.extend(env.iter().map(|(k, v)| json!({"name": k, "value": v})));
        entry["environment"] = Value::Array(vars);
    }
    Ok(Value::Object(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placement_in_shorthand_and_as_the_cli_json() {
        assert_eq!(
            placement_constraints(&s(&[
                "distinctInstance",
                "memberOf:attribute:ecs.instance-type =~ t3.*"
            ]))
            .unwrap(),
            vec![
                json!({"type": "distinctInstance"}),
                json!({"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"})
            ]
        );
        assert_eq!(
            placement_strategy(&s(&[
                r#"[{"type":"binpack","field":"memory"}]"#,
                "spread:attribute:ecs.availability-zone"
            ]))
            .unwrap(),
            vec![
                json!({"type": "binpack", "field": "memory"}),
                json!({"type": "spread", "field": "attribute:ecs.availability-zone"})
            ]
        );
        assert_eq!(
            placement_constraints(&s(&["sameHost"])).unwrap_err(),
            "--placement-constraint: type 'sameHost' is not one of distinctInstance, memberOf"
        );
        assert!(placement_constraints(&s(&["memberOf"])).is_err());
        assert!(placement_strategy(&s(&["pack:memory"])).is_err());
        assert!(placement_strategy(&s(&["[nope"])).is_err());
    }

    #[test]
    fn capacity_providers_with_weight_and_base() {
        assert_eq!(
            capacity_providers(&s(&["FARGATE:1:2", "FARGATE_SPOT:3"])).unwrap(),
            vec![
                json!({"capacityProvider": "FARGATE", "weight": 1, "base": 2}),
                json!({"capacityProvider": "FARGATE_SPOT", "weight": 3})
            ]
        );
        assert_eq!(
            capacity_providers(&s(&["FARGATE:heavy"])).unwrap_err(),
            "--capacity-provider: 'FARGATE:heavy': the weight 'heavy' is not a whole number from 0 to 1000"
        );
        assert!(capacity_providers(&s(&["FARGATE:1:2:3"])).is_err());
        assert!(capacity_providers(&s(&[":1"])).is_err());
    }

    #[test]
    fn tags_are_key_value_and_not_aws_prefixed() {
        assert_eq!(
            tags(&s(&["team=web", "sha=a=b"])).unwrap(),
            vec![
                json!({"key": "team", "value": "web"}),
                json!({"key": "sha", "value": "a=b"})
            ]
        );
        assert!(tags(&s(&["novalue"])).is_err());
        assert!(tags(&s(&["aws:x=1"])).unwrap_err().contains("reserves"));
    }

    #[test]
    fn flags_are_laid_over_the_file_overrides() {
        let file = json!({"cpu": "512", "containerOverrides": [
            {"name": "app", "environment": [{"name": "A", "value": "file"}, {"name": "B", "value": "kept"}]},
            {"name": "sidecar", "command": ["x"]}]});
        let cmd = vec!["rake".to_string()];
        let got = overrides(
            Some(&file),
            "app",
            Some(&cmd),
            &[("A".into(), "flag".into())],
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"cpu": "512", "containerOverrides": [
                {"name": "app", "command": ["rake"], "environment": [{"name": "B", "value": "kept"}, {"name": "A", "value": "flag"}]},
                {"name": "sidecar", "command": ["x"]}]})
        );
        assert_eq!(
            overrides(None, "app", None, &[]).unwrap(),
            json!({"containerOverrides": []})
        );
        assert_eq!(
            overrides(None, "app", None, &[("X".into(), "1".into())]).unwrap(),
            json!({"containerOverrides": [{"name": "app", "environment": [{"name": "X", "value": "1"}]}]})
        );
        assert_eq!(
            overrides(Some(&json!({"cpuUnits": "1"})), "app", None, &[]).unwrap_err(),
            "'cpuUnits' is not a member of ECS's TaskOverride (containerOverrides, cpu, inferenceAcceleratorOverrides, executionRoleArn, memory, taskRoleArn, ephemeralStorage)"
        );
        assert!(overrides(Some(&json!([])), "app", None, &[]).is_err());
    }
}

//! Lifecycle and repository policies: loaded from files or rendered from the built-in template,
//! and checked against ECR's rules before anything is sent.

use crate::error::usage;
use crate::render::Renderer;
use anyhow::Result;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// Read a JSON policy file; the error names the flag and the file.
pub fn read_json(flag: &str, path: &Path) -> Result<Value> {
    // ECR's policies are at most 30 KiB (lifecycle) and 10 KiB (repository); 1 MiB is plenty.
    let text = crate::validate::read_input_file(path, 1 << 20, flag)?;
    serde_json::from_str(&text)
        .map_err(|e| usage!("{flag}: {} is not valid JSON: {e}", path.display()))
}

/// Render the built-in lifecycle policy: expire untagged images after N days and/or keep the newest N.
pub fn builtin_lifecycle(
    keep_last: Option<u32>,
    expire_untagged_days: Option<u32>,
) -> Result<Option<Value>> {
    if keep_last.is_none() && expire_untagged_days.is_none() {
        return Ok(None);
    }
    if keep_last == Some(0) {
        return Err(usage!(
            "--keep-last (STEVEDORE_KEEP_LAST): must be at least 1"
        ));
    }
    if expire_untagged_days == Some(0) {
        return Err(usage!(
            "--expire-untagged-days (STEVEDORE_EXPIRE_UNTAGGED_DAYS): must be at least 1"
        ));
    }
    let text = Renderer::new()?.render(
        "lifecycle",
        &serde_json::json!({"keep_last": keep_last, "expire_untagged_days": expire_untagged_days}),
    )?;
    let value: Value = serde_json::from_str(&text)?;
    check_lifecycle(&value)
        .map_err(|e| anyhow::anyhow!("built-in lifecycle template is invalid: {e}"))?;
    Ok(Some(value))
}

/// Check a lifecycle policy as ECR does: rules with unique priorities, a known tag status, a count
/// of at least 1, an `expire` action, and any `tagStatus: any` rule last (highest priority number).
pub fn check_lifecycle(policy: &Value) -> std::result::Result<(), String> {
    let rules = policy
        .get("rules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("it needs a non-empty \"rules\" array")?;
    let mut priorities = HashSet::new();
    let mut any_priority = None;
    let mut max_priority = 0;
    for (i, rule) in rules.iter().enumerate() {
        let n = i + 1;
        let p = rule
            .get("rulePriority")
            .and_then(Value::as_u64)
            .filter(|p| *p >= 1)
            .ok_or(format!(
                "rule {n}: \"rulePriority\" must be a positive integer"
            ))?;
        if !priorities.insert(p) {
            return Err(format!("rule {n}: rulePriority {p} is used twice"));
        }
        max_priority = max_priority.max(p);
        let sel = rule
            .get("selection")
            .ok_or(format!("rule {n}: \"selection\" is missing"))?;
        let status = sel.get("tagStatus").and_then(Value::as_str);
        match status {
            Some("tagged") => {
                let has_filter = ["tagPrefixList", "tagPatternList"].iter().any(|k| {
                    sel.get(*k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                });
                if !has_filter {
                    return Err(format!(
                        "rule {n}: tagStatus \"tagged\" needs tagPrefixList or tagPatternList"
                    ));
                }
            }
            Some("untagged") => {}
            Some("any") => any_priority = Some(p),
            _ => {
                return Err(format!(
                    "rule {n}: selection.tagStatus must be tagged, untagged or any"
                ))
            }
        }
        match sel.get("countType").and_then(Value::as_str) {
            Some("imageCountMoreThan") => {}
            Some("sinceImagePushed") => {
                if sel.get("countUnit").and_then(Value::as_str) != Some("days") {
                    return Err(format!(
                        "rule {n}: countType sinceImagePushed needs countUnit \"days\""
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "rule {n}: selection.countType must be imageCountMoreThan or sinceImagePushed"
                ))
            }
        }
        if sel.get("countNumber").and_then(Value::as_u64).unwrap_or(0) < 1 {
            return Err(format!(
                "rule {n}: selection.countNumber must be an integer of at least 1"
            ));
        }
        if rule.pointer("/action/type").and_then(Value::as_str) != Some("expire") {
            return Err(format!("rule {n}: action.type must be \"expire\""));
        }
    }
    if let Some(p) = any_priority {
        if p != max_priority {
            return Err(format!(
                "the tagStatus \"any\" rule (priority {p}) must have the highest rulePriority"
            ));
        }
    }
    Ok(())
}

/// Check the shape of an IAM resource policy: a `Statement` (object or non-empty array) whose
/// statements each have an Effect of Allow or Deny.
pub fn check_resource_policy(policy: &Value) -> std::result::Result<(), String> {
    let stmts: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err("it needs a \"Statement\" (an object or a non-empty array)".into()),
    };
    for (i, s) in stmts.iter().enumerate() {
        if !matches!(
            s.get("Effect").and_then(Value::as_str),
            Some("Allow" | "Deny")
        ) {
            return Err(format!(
                "statement {}: \"Effect\" must be Allow or Deny",
                i + 1
            ));
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            return Err(format!("statement {}: \"Action\" is missing", i + 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_lifecycle_renders_valid_policies() {
        let both = builtin_lifecycle(Some(10), Some(7)).unwrap().unwrap();
        assert_eq!(both["rules"].as_array().unwrap().len(), 2);
        assert_eq!(both["rules"][0]["selection"]["tagStatus"], "untagged");
        assert_eq!(both["rules"][0]["selection"]["countNumber"], 7);
        assert_eq!(both["rules"][1]["selection"]["countNumber"], 10);
        let keep = builtin_lifecycle(Some(3), None).unwrap().unwrap();
        assert_eq!(keep["rules"].as_array().unwrap().len(), 1);
        let expire = builtin_lifecycle(None, Some(1)).unwrap().unwrap();
        assert_eq!(expire["rules"][0]["selection"]["countUnit"], "days");
        assert!(builtin_lifecycle(None, None).unwrap().is_none());
        assert!(builtin_lifecycle(Some(0), None).is_err());
    }

    #[test]
    fn lifecycle_rules_are_checked() {
        let rule = |p: u64, status: &str| json!({"rulePriority": p, "selection": {"tagStatus": status, "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}});
        assert!(check_lifecycle(&json!({"rules": [rule(1, "untagged"), rule(2, "any")]})).is_ok());
        assert!(
            check_lifecycle(&json!({"rules": [rule(2, "untagged"), rule(1, "any")]}))
                .unwrap_err()
                .contains("highest")
        );
        assert!(
            check_lifecycle(&json!({"rules": [rule(1, "untagged"), rule(1, "any")]}))
                .unwrap_err()
                .contains("twice")
        );
        assert!(check_lifecycle(&json!({"rules": [rule(1, "tagged")]}))
            .unwrap_err()
            .contains("tagPrefixList"));
        assert!(check_lifecycle(&json!({"rules": []})).is_err());
        assert!(check_lifecycle(&json!({"rulez": 1})).is_err());
        let mut r = rule(1, "any");
        r["selection"]["countNumber"] = json!(0);
        assert!(check_lifecycle(&json!({"rules": [r]}))
            .unwrap_err()
            .contains("countNumber"));
    }

    #[test]
    fn resource_policies_are_checked() {
        assert!(check_resource_policy(&json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]})).is_ok());
        assert!(
            check_resource_policy(&json!({"Statement": {"Effect": "Deny", "Action": "*"}})).is_ok()
        );
        assert!(
            check_resource_policy(&json!({"Statement": [{"Effect": "Maybe", "Action": "*"}]}))
                .is_err()
        );
        assert!(check_resource_policy(&json!({"statement": []})).is_err());
    }

    #[test]
    fn files_name_the_flag() {
        let e = read_json("--lifecycle-policy", Path::new("/nonexistent/p.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--lifecycle-policy: cannot read /nonexistent/p.json"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, "{nope").unwrap();
        assert!(read_json("--x", &p)
            .unwrap_err()
            .to_string()
            .contains("is not valid JSON"));
    }
}

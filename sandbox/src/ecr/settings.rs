//! Repository settings (scanning, tag mutability, lifecycle and repository policies) and tags.

use super::*;
use crate::app::App;
use crate::awsjson::{opt_str, req_str, AwsError, OpResult};
use serde_json::{json, Value};

pub(super) fn check_mutability(body: &Value) -> Result<(String, Vec<Value>), AwsError> {
    let m = opt_str(body, "imageTagMutability")
        .unwrap_or("MUTABLE")
        .to_string();
    if ![
        "MUTABLE",
        "IMMUTABLE",
        "IMMUTABLE_WITH_EXCLUSION",
        "MUTABLE_WITH_EXCLUSION",
    ]
    .contains(&m.as_str())
    {
        return Err(AwsError::invalid_parameter(format!("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: '{m}' is not a valid value")));
    }
    let filters: Vec<Value> = body
        .get("imageTagMutabilityExclusionFilters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let with = m.ends_with("_WITH_EXCLUSION");
    if with && filters.is_empty() {
        return Err(AwsError::invalid_parameter(
            "imageTagMutabilityExclusionFilters are required with *_WITH_EXCLUSION",
        ));
    }
    if !with && !filters.is_empty() {
        return Err(AwsError::invalid_parameter(
            "imageTagMutabilityExclusionFilters are only valid with *_WITH_EXCLUSION",
        ));
    }
    Ok((m, filters))
}

pub(super) fn check_lifecycle(text: &str) -> Result<(), AwsError> {
    let bad = |why: &str| {
        AwsError::invalid_parameter(format!("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {why}'"))
    };
    let v: Value = serde_json::from_str(text).map_err(|_| bad("not valid JSON"))?;
    let rules = v
        .get("rules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad("rules are required"))?;
    for r in rules {
        if r.get("rulePriority").and_then(Value::as_u64).is_none() {
            return Err(bad("rulePriority is required"));
        }
        if !matches!(
            r.pointer("/selection/tagStatus").and_then(Value::as_str),
            Some("tagged" | "untagged" | "any")
        ) {
            return Err(bad("selection.tagStatus must be tagged, untagged or any"));
        }
        if r.pointer("/selection/countNumber")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            < 1
        {
            return Err(bad("selection.countNumber must be at least 1"));
        }
    }
    Ok(())
}

pub(super) fn check_policy(text: &str) -> Result<(), AwsError> {
    let v: Value = serde_json::from_str(text).map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"))?;
    if v.get("Statement").is_none() {
        return Err(AwsError::invalid_parameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"));
    }
    Ok(())
}

pub(super) fn settings_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
    let name = req_str(body, "repositoryName")?;
    let account = app.account();
    let mut st = app.lock();
    let repo = st
        .ecr
        .repos
        .get_mut(&(public, name.to_string()))
        .ok_or_else(|| not_found(app, public, name))?;
    let private_only = || {
        AwsError::client(
            "UnknownOperationException",
            format!("ECR Public has no {op}"),
        )
    };
    match op {
        "PutImageScanningConfiguration" => {
            if public {
                return Err(private_only());
            }
            // Smithy omits a false boolean: absent means false, as AWS reads it.
            repo.scan_on_push = body.pointer("/imageScanningConfiguration/scanOnPush").and_then(Value::as_bool).unwrap_or(false);
            Ok(json!({"registryId": account, "repositoryName": name, "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push}}))
        }
        "PutImageTagMutability" => {
            if public {
                return Err(private_only());
            }
            let (m, f) = check_mutability(body)?;
            repo.mutability = m.clone();
            repo.exclusions = f.clone();
            Ok(json!({"registryId": account, "repositoryName": name, "imageTagMutability": m, "imageTagMutabilityExclusionFilters": f}))
        }
        "PutLifecyclePolicy" => {
            if public {
                return Err(private_only());
            }
            let text = req_str(body, "lifecyclePolicyText")?;
            check_lifecycle(text)?;
            repo.lifecycle = Some(text.to_string());
            Ok(json!({"registryId": account, "repositoryName": name, "lifecyclePolicyText": text}))
        }
        "GetLifecyclePolicy" => match &repo.lifecycle {
            Some(t) => Ok(json!({"registryId": account, "repositoryName": name, "lifecyclePolicyText": t})),
            None => Err(AwsError::client("LifecyclePolicyNotFoundException", format!("Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{account}'"))),
        },
        "DeleteLifecyclePolicy" => match repo.lifecycle.take() {
            Some(t) => Ok(json!({"registryId": account, "repositoryName": name, "lifecyclePolicyText": t})),
            None => Err(AwsError::client("LifecyclePolicyNotFoundException", format!("Lifecycle policy does not exist for the repository with name '{name}'"))),
        },
        "SetRepositoryPolicy" => {
            let text = req_str(body, "policyText")?;
            check_policy(text)?;
            repo.policy = Some(text.to_string());
            Ok(json!({"registryId": account, "repositoryName": name, "policyText": text}))
        }
        "GetRepositoryPolicy" => match &repo.policy {
            Some(t) => Ok(json!({"registryId": account, "repositoryName": name, "policyText": t})),
            None => Err(AwsError::client("RepositoryPolicyNotFoundException", format!("Repository policy does not exist for the repository with name '{name}' in the registry with id '{account}'"))),
        },
        _ => match repo.policy.take() {
            Some(t) => Ok(json!({"registryId": account, "repositoryName": name, "policyText": t})),
            None => Err(AwsError::client("RepositoryPolicyNotFoundException", format!("Repository policy does not exist for the repository with name '{name}'"))),
        },
    }
}

pub(super) fn tag_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
    let arn = req_str(body, "resourceArn")?;
    let name = arn
        .split_once(":repository/")
        .map(|(_, n)| n)
        .ok_or_else(|| {
            AwsError::invalid_parameter(format!("Invalid parameter at 'resourceArn': {arn}"))
        })?;
    let mut st = app.lock();
    let repo = st
        .ecr
        .repos
        .get_mut(&(public, name.to_string()))
        .ok_or_else(|| not_found(app, public, name))?;
    match op {
        "TagResource" => {
            repo.tags.extend(tags_from(body));
            Ok(json!({}))
        }
        "UntagResource" => {
            for k in body
                .get("tagKeys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                repo.tags.remove(k);
            }
            Ok(json!({}))
        }
        _ => Ok(
            json!({"tags": repo.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_checks() {
        assert!(check_lifecycle(r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#).is_ok());
        assert!(check_lifecycle(r#"{"rules":[]}"#).is_err());
        assert!(check_lifecycle("nope").is_err());
    }
}

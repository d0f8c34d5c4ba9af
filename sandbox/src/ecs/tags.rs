//! ECS resource tags and listings: tags given on create (RegisterTaskDefinition, CreateService,
//! CreateCluster), TagResource, UntagResource and ListTagsForResource for clusters, services and
//! task definitions, tags returned only when a Describe call asks with `include: ["TAGS"]`; and
//! ListClusters and ListServices with ECS's paging. Shapes and limits from the ECS API model.

use super::model::{find_task_definition, EcsState};
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

const MAX_TAGS: usize = 50;

/// Validate a request's `tags` as ECS does (at most 50; keys 1–128 characters, values up to
/// 256; no `aws:` prefix, which AWS reserves); the tags as stored.
pub fn parse_tags(tags: Option<&Value>) -> Result<Vec<(String, String)>, AwsError> {
    let Some(list) = tags else {
        return Ok(vec![]);
    };
    let items = list
        .as_array()
        .ok_or_else(|| AwsError::invalid_parameter("tags must be a list of {key, value}."))?;
    if items.len() > MAX_TAGS {
        return Err(AwsError::invalid_parameter(format!(
            "Too many tags: {} given, a resource can have at most {MAX_TAGS}.",
            items.len()
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for t in items {
        let key = opt_str(t, "key").unwrap_or_default();
        let value = opt_str(t, "value").unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(AwsError::invalid_parameter(
                "Tag keys must be between 1 and 128 characters.",
            ));
        }
        if value.chars().count() > 256 {
            return Err(AwsError::invalid_parameter(
                "Tag values must be at most 256 characters.",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(AwsError::invalid_parameter(
                "Tag keys and values cannot start with the reserved prefix 'aws:'.",
            ));
        }
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => out.push((key.to_string(), value.to_string())),
        }
    }
    Ok(out)
}

/// Tags as ECS returns them.
pub fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// Whether a Describe request asked for tags (`include: ["TAGS"]`).
pub fn wants_tags(body: &Value) -> bool {
    body.get("include")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "TAGS"))
}

/// A resource's tags, as stored (none when it was never tagged).
pub fn tags_of<'a>(st: &'a EcsState, arn: &str) -> &'a [(String, String)] {
    st.tags.get(arn).map(Vec::as_slice).unwrap_or(&[])
}

/// Store tags given on create; an empty list stores nothing.
pub fn set_tags(st: &mut EcsState, arn: &str, tags: Vec<(String, String)>) {
    if !tags.is_empty() {
        st.tags.insert(arn.to_string(), tags);
    }
}

/// Check that `arn` names a cluster, service or task definition of this region that exists.
fn existing(st: &EcsState, region: &str, arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "ecs" {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid identifier: {arn} is not an Amazon ECS resource ARN."
        )));
    }
    let not_found = || {
        AwsError::client(
            "ResourceNotFoundException",
            "The specified resource could not be found.",
        )
    };
    if parts[3] != region {
        return Err(not_found());
    }
    let (kind, rest) = parts[5].split_once('/').unwrap_or((parts[5], ""));
    let found = match kind {
        "cluster" => st.clusters.contains_key(rest),
        "service" => match rest.split_once('/') {
            Some((c, s)) => st.services.contains_key(&(c.to_string(), s.to_string())),
            None => false,
        },
        "task-definition" => rest.contains(':') && find_task_definition(st, rest).is_some(),
        "task" => st.tasks.iter().any(|t| t.arn == arn),
        _ => {
            return Err(AwsError::invalid_parameter(format!(
                "Invalid identifier: {kind} resources cannot be tagged."
            )))
        }
    };
    let cluster = rest.split('/').next().unwrap_or_default();
    if found {
        Ok(())
    } else if matches!(kind, "cluster" | "service" | "task") && !st.clusters.contains_key(cluster) {
        Err(AwsError::client(
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    } else {
        Err(not_found())
    }
}

/// TagResource, UntagResource and ListTagsForResource.
pub fn handle(st: &mut EcsState, region: &str, op: &str, body: &Value) -> OpResult {
    let arn = opt_str(body, "resourceArn")
        .ok_or_else(|| AwsError::invalid_parameter("resourceArn is required."))?
        .to_string();
    existing(st, region, &arn)?;
    match op {
        "TagResource" => {
            let given = parse_tags(Some(body.get("tags").unwrap_or(&Value::Null)))?;
            let mut tags = tags_of(st, &arn).to_vec();
            for (k, v) in given {
                match tags.iter_mut().find(|(x, _)| *x == k) {
                    Some(slot) => slot.1 = v,
                    None => tags.push((k, v)),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(AwsError::client(
                    "LimitExceededException",
                    format!("A resource can have at most {MAX_TAGS} tags."),
                ));
            }
            st.tags.insert(arn, tags);
            Ok(json!({}))
        }
        "UntagResource" => {
            let keys: Vec<&str> = body
                .get("tagKeys")
                .and_then(Value::as_array)
                .ok_or_else(|| AwsError::invalid_parameter("tagKeys is required."))?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if let Some(tags) = st.tags.get_mut(&arn) {
                tags.retain(|(k, _)| !keys.contains(&k.as_str()));
            }
            Ok(json!({}))
        }
        _ => Ok(json!({"tags": tags_json(tags_of(st, &arn))})),
    }
}

/// One page of `items` from `nextToken` (an offset, opaque to callers), `maxResults` at a time
/// (1–100; `default` when not given), with the token of the next page.
pub fn page(
    items: Vec<String>,
    body: &Value,
    default: usize,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let max = match body.get("maxResults").and_then(Value::as_i64) {
        None => default,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(AwsError::invalid_parameter(
                "maxResults must be between 1 and 100.",
            ))
        }
    };
    let start = match opt_str(body, "nextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| AwsError::invalid_parameter("Invalid nextToken."))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// ListClusters: the clusters' ARNs, 100 a page by default.
pub fn list_clusters(st: &EcsState, arn: impl Fn(&str) -> String, body: &Value) -> OpResult {
    let all: Vec<String> = st.clusters.keys().map(|c| arn(c)).collect();
    let (arns, next) = page(all, body, 100)?;
    let mut out = json!({"clusterArns": arns});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

/// ListServices of one cluster, optionally by launch type: 10 a page by default.
pub fn list_services(st: &EcsState, cluster: &str, body: &Value) -> OpResult {
    if !st.clusters.contains_key(cluster) {
        return Err(AwsError::client(
            "ClusterNotFoundException",
            "Cluster not found.",
        ));
    }
    let launch = opt_str(body, "launchType");
    let all: Vec<String> = st
        .services
        .values()
        .filter(|s| s.cluster == cluster)
        .filter(|s| launch.is_none_or(|l| s.launch_type == l))
        .map(|s| s.arn.clone())
        .collect();
    let (arns, next) = page(all, body, 10)?;
    let mut out = json!({"serviceArns": arns});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_as_ecs_checks_them() {
        assert_eq!(
            parse_tags(Some(
                &json!([{"key": "team", "value": "web"}, {"key": "team", "value": "api"}])
            ))
            .unwrap(),
            vec![("team".to_string(), "api".to_string())]
        );
        assert!(parse_tags(Some(&json!([{"key": "", "value": "x"}]))).is_err());
        assert!(parse_tags(Some(&json!([{"key": "aws:x", "value": "x"}]))).is_err());
        assert!(parse_tags(Some(&json!([{"key": "k", "value": "v".repeat(257)}]))).is_err());
        let many: Vec<Value> = (0..51)
            .map(|i| json!({"key": format!("k{i}"), "value": ""}))
            .collect();
        assert!(parse_tags(Some(&Value::Array(many))).is_err());
        assert_eq!(parse_tags(None).unwrap(), vec![]);
    }

    #[test]
    fn pages_follow_the_token() {
        let items: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let (a, next) = page(items.clone(), &json!({}), 10).unwrap();
        assert_eq!((a.len(), next.as_deref()), (10, Some("10")));
        let (b, next) = page(
            items.clone(),
            &json!({"nextToken": "20", "maxResults": 10}),
            10,
        )
        .unwrap();
        assert_eq!((b.len(), next), (5, None));
        assert!(page(items.clone(), &json!({"maxResults": 0}), 10).is_err());
        assert!(page(items, &json!({"nextToken": "x"}), 10).is_err());
    }
}

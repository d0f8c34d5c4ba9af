//! ECR and ECR Public control planes. Images are read from, and written to, the real registry
//! behind them, so what was pushed over the registry API shows up through the ECR API.

use crate::awsjson::{opt_str, req_str, AwsError, OpResult};
use crate::server::App;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A repository, private or public.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    pub public: bool,
    pub created_at: f64,
    pub scan_on_push: bool,
    pub mutability: String,
    pub exclusions: Vec<Value>,
    pub encryption: Value,
    pub tags: BTreeMap<String, String>,
    pub lifecycle: Option<String>,
    pub policy: Option<String>,
}

#[derive(Debug, Default)]
pub struct EcrState {
    /// Keyed by (public, name).
    pub repos: BTreeMap<(bool, String), Repo>,
}

/// ECR's repository-name rule.
pub fn valid_repo_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|c| {
            !c.is_empty()
                && !c.starts_with(['.', '_', '-'])
                && !c.ends_with(['.', '_', '-'])
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && !c.contains("..")
                && !c.contains("--")
                && !c.contains("__")
        })
}

fn not_found(app: &App, public: bool, name: &str) -> AwsError {
    let account = app.account();
    let registry = if public {
        "public registry"
    } else {
        "registry"
    };
    AwsError::client(
        "RepositoryNotFoundException",
        format!("The repository with name '{name}' does not exist in the {registry} with id '{account}'"),
    )
}

fn repo_arn(app: &App, r: &Repo) -> String {
    if r.public {
        format!(
            "arn:aws:ecr-public::{}:repository/{}",
            app.account(),
            r.name
        )
    } else {
        format!(
            "arn:aws:ecr:{}:{}:repository/{}",
            app.region(),
            app.account(),
            r.name
        )
    }
}

/// The path of a repository inside the registry that backs it.
pub fn registry_path(app: &App, public: bool, name: &str) -> String {
    if public {
        format!("{}/{name}", app.alias())
    } else {
        name.to_string()
    }
}

fn repo_json(app: &App, r: &Repo) -> Value {
    let uri = match app.registry(r.public) {
        Some(reg) => format!("{}/{}", reg.host, registry_path(app, r.public, &r.name)),
        None if r.public => format!("public.ecr.aws/{}/{}", app.alias(), r.name),
        None => format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}",
            app.account(),
            app.region(),
            r.name
        ),
    };
    let mut v = json!({
        "repositoryArn": repo_arn(app, r),
        "registryId": app.account(),
        "repositoryName": r.name,
        "repositoryUri": uri,
        "createdAt": r.created_at,
    });
    if !r.public {
        v["imageTagMutability"] = json!(r.mutability);
        if !r.exclusions.is_empty() {
            v["imageTagMutabilityExclusionFilters"] = json!(r.exclusions);
        }
        v["imageScanningConfiguration"] = json!({"scanOnPush": r.scan_on_push});
        v["encryptionConfiguration"] = r.encryption.clone();
    }
    v
}

fn check_mutability(body: &Value) -> Result<(String, Vec<Value>), AwsError> {
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

fn check_lifecycle(text: &str) -> Result<(), AwsError> {
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

fn check_policy(text: &str) -> Result<(), AwsError> {
    let v: Value = serde_json::from_str(text).map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"))?;
    if v.get("Statement").is_none() {
        return Err(AwsError::invalid_parameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"));
    }
    Ok(())
}

fn tags_from(body: &Value) -> BTreeMap<String, String> {
    body.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t.get("Key")?.as_str()?.to_string(),
                        t.get("Value")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Run one ECR (public = false) or ECR Public (public = true) operation.
pub async fn handle(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
    match op {
        "CreateRepository" => {
            let name = req_str(body, "repositoryName")?;
            if !valid_repo_name(name) {
                return Err(AwsError::invalid_parameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''"));
            }
            let (mutability, exclusions) = check_mutability(body)?;
            let encryption = body
                .get("encryptionConfiguration")
                .cloned()
                .unwrap_or_else(|| json!({"encryptionType": "AES256"}));
            if !matches!(
                encryption.get("encryptionType").and_then(Value::as_str),
                Some("AES256" | "KMS" | "KMS_DSSE")
            ) {
                return Err(AwsError::invalid_parameter(
                    "encryptionConfiguration.encryptionType must be AES256, KMS or KMS_DSSE",
                ));
            }
            let mut st = app.lock();
            let key = (public, name.to_string());
            if st.ecr.repos.contains_key(&key) {
                let account = st.config.account_id.clone();
                return Err(AwsError::client("RepositoryAlreadyExistsException", format!("The repository with name '{name}' already exists in the registry with id '{account}'")));
            }
            let repo = Repo {
                name: name.to_string(),
                public,
                created_at: st.clock.now(),
                scan_on_push: body
                    .pointer("/imageScanningConfiguration/scanOnPush")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                mutability,
                exclusions,
                encryption,
                tags: tags_from(body),
                lifecycle: None,
                policy: None,
            };
            st.ecr.repos.insert(key.clone(), repo.clone());
            drop(st);
            app.registry_repositories
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key);
            Ok(json!({"repository": repo_json(app, &repo)}))
        }
        "DescribeRepositories" => {
            let st = app.lock();
            let names: Vec<&str> = body
                .get("repositoryNames")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Vec::new();
            if names.is_empty() {
                out.extend(
                    st.ecr
                        .repos
                        .iter()
                        .filter(|((p, _), _)| *p == public)
                        .map(|(_, r)| r.clone()),
                );
            } else {
                for n in names {
                    match st.ecr.repos.get(&(public, n.to_string())) {
                        Some(r) => out.push(r.clone()),
                        None => return Err(not_found(app, public, n)),
                    }
                }
            }
            drop(st);
            Ok(json!({"repositories": out.iter().map(|r| repo_json(app, r)).collect::<Vec<_>>()}))
        }
        "DeleteRepository" => {
            let name = req_str(body, "repositoryName")?;
            let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
            if let Some(reg) = app.registry(public) {
                let tags = reg
                    .tags(&registry_path(app, public, name))
                    .await
                    .unwrap_or_default();
                if !tags.is_empty()
                    && !force
                    && app
                        .lock()
                        .ecr
                        .repos
                        .contains_key(&(public, name.to_string()))
                {
                    return Err(AwsError::client("RepositoryNotEmptyException", format!("The repository with name '{name}' in registry with id '{}' cannot be deleted because it still contains images", app.account())));
                }
            }
            app.registry_repositories
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(public, name.to_string()));
            let repo = app
                .lock()
                .ecr
                .repos
                .remove(&(public, name.to_string()))
                .ok_or_else(|| not_found(app, public, name))?;
            Ok(json!({"repository": repo_json(app, &repo)}))
        }
        "PutImageScanningConfiguration"
        | "PutImageTagMutability"
        | "PutLifecyclePolicy"
        | "SetRepositoryPolicy"
        | "GetLifecyclePolicy"
        | "GetRepositoryPolicy"
        | "DeleteLifecyclePolicy"
        | "DeleteRepositoryPolicy" => settings_op(app, public, op, body),
        "TagResource" | "ListTagsForResource" | "UntagResource" => tag_op(app, public, op, body),
        "GetAuthorizationToken" => {
            let reg = app.registry(public).ok_or_else(|| {
                AwsError::client(
                    "ServerException",
                    "the sandbox runs without a registry (--no-registry)",
                )
            })?;
            let expires = app.lock().clock.now() + 12.0 * 3600.0;
            if public {
                Ok(
                    json!({"authorizationData": {"authorizationToken": reg.auth_token(), "expiresAt": expires}}),
                )
            } else {
                Ok(
                    json!({"authorizationData": [{"authorizationToken": reg.auth_token(), "expiresAt": expires, "proxyEndpoint": format!("https://{}", reg.host)}]}),
                )
            }
        }
        "DescribeImages"
        | "ListImages"
        | "BatchGetImage"
        | "PutImage"
        | "BatchDeleteImage"
        | "BatchCheckLayerAvailability" => image_op(app, public, op, body).await,
        "DescribeRegistries" if public => Ok(
            json!({"registries": [{"registryId": app.account(), "registryArn": format!("arn:aws:ecr-public::{}:registry/{}", app.account(), app.account()), "registryUri": format!("public.ecr.aws/{}", app.alias()), "verified": true, "aliases": [{"name": app.alias(), "status": "ACTIVE", "primaryRegistryAlias": true, "defaultRegistryAlias": true}]}]}),
        ),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!(
                "The sandbox does not implement {}.{other}",
                if public { "ECR Public" } else { "ECR" }
            ),
        )),
    }
}

fn settings_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
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

fn tag_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
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

async fn image_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
    let name = req_str(body, "repositoryName")?.to_string();
    let repo = app
        .lock()
        .ecr
        .repos
        .get(&(public, name.clone()))
        .cloned()
        .ok_or_else(|| not_found(app, public, &name))?;
    let reg = app.registry(public).ok_or_else(|| {
        AwsError::client(
            "ServerException",
            "the sandbox runs without a registry (--no-registry)",
        )
    })?;
    let path = registry_path(app, public, &name);
    let server =
        |e: anyhow::Error| AwsError::new(500, "ServerException", format!("registry: {e:#}"));
    let account = app.account();
    // The registry lists tags, not untagged manifests: images are what the tags point to.
    let mut by_digest: BTreeMap<String, (Vec<String>, String, usize)> = BTreeMap::new();
    if matches!(op, "DescribeImages" | "ListImages" | "BatchDeleteImage") {
        for tag in reg.tags(&path).await.map_err(server)? {
            if let Some((digest, media, bytes)) = reg.manifest(&path, &tag).await.map_err(server)? {
                let e = by_digest
                    .entry(digest)
                    .or_insert((vec![], media, bytes.len()));
                e.0.push(tag);
            }
        }
    }
    let wanted: Vec<(Option<String>, Option<String>)> = body
        .get("imageIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        opt_str(i, "imageDigest").map(String::from),
                        opt_str(i, "imageTag").map(String::from),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    match op {
        "ListImages" => {
            let mut ids = Vec::new();
            for (digest, (tags, _, _)) in &by_digest {
                for t in tags {
                    ids.push(json!({"imageDigest": digest, "imageTag": t}));
                }
            }
            Ok(json!({"imageIds": ids}))
        }
        "DescribeImages" => {
            let mut details = Vec::new();
            for (digest, (tags, media, len)) in &by_digest {
                let selected = wanted.is_empty()
                    || wanted.iter().any(|(d, t)| {
                        d.as_deref() == Some(digest.as_str())
                            || t.as_ref().is_some_and(|t| tags.contains(t))
                    });
                if !selected {
                    continue;
                }
                let size = image_size(reg, &path, digest).await.unwrap_or(*len as u64);
                let d = json!({"registryId": account, "repositoryName": name, "imageDigest": digest, "imageTags": tags, "imageSizeInBytes": size, "imagePushedAt": repo.created_at, "imageManifestMediaType": media});
                details.push(d);
            }
            for (d, t) in &wanted {
                let found = details.iter().any(|x| {
                    d.as_deref() == x["imageDigest"].as_str()
                        || t.as_ref().is_some_and(|t| {
                            x["imageTags"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|v| v == t))
                        })
                });
                if !found {
                    let id = d.clone().or(t.clone()).unwrap_or_default();
                    return Err(AwsError::client("ImageNotFoundException", format!("The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{name}' in the registry with id '{account}'", d.clone().unwrap_or_else(|| "null".into()), t.clone().unwrap_or(id))));
                }
            }
            Ok(json!({"imageDetails": details}))
        }
        "BatchCheckLayerAvailability" => {
            let (mut layers, mut failures) = (vec![], vec![]);
            for digest in crate::trust::strings(body.get("layerDigests")) {
                match reg.blob(&path, digest).await.map_err(server)? {
                    Some(b) => layers.push(json!({"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": b.len()})),
                    None => failures.push(json!({"layerDigest": digest, "failureCode": "MissingLayerDigest", "failureReason": "Could not find layer"})),
                }
            }
            Ok(json!({"layers": layers, "failures": failures}))
        }
        "BatchGetImage" => {
            let mut images = Vec::new();
            let mut failures = Vec::new();
            for (d, t) in wanted {
                let reference = d.clone().or(t.clone()).unwrap_or_default();
                match reg.manifest(&path, &reference).await.map_err(server)? {
                    Some((digest, media, bytes)) => images.push(json!({"registryId": account, "repositoryName": name, "imageId": {"imageDigest": digest, "imageTag": t}, "imageManifest": String::from_utf8_lossy(&bytes), "imageManifestMediaType": media})),
                    None => failures.push(json!({"imageId": {"imageDigest": d, "imageTag": t}, "failureCode": if t.is_some() { "ImageTagDoesNotMatchDigest" } else { "ImageNotFound" }, "failureReason": "Requested image not found"})),
                }
            }
            Ok(json!({"images": images, "failures": failures}))
        }
        "PutImage" => {
            let manifest = req_str(body, "imageManifest")?.to_string();
            let tag = opt_str(body, "imageTag").map(String::from);
            let media = opt_str(body, "imageManifestMediaType")
                .map(String::from)
                .or_else(|| {
                    serde_json::from_str::<Value>(&manifest)
                        .ok()
                        .and_then(|v| v.get("mediaType").and_then(Value::as_str).map(String::from))
                })
                .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
            if let Some(t) = &tag {
                if repo.mutability.starts_with("IMMUTABLE") {
                    if let Some((existing, _, _)) = reg.manifest(&path, t).await.map_err(server)? {
                        let excluded = repo
                            .exclusions
                            .iter()
                            .filter_map(|f| f.get("filter").and_then(Value::as_str))
                            .any(|f| crate::trust::like(f, t));
                        if !excluded {
                            return Err(AwsError::client("ImageTagAlreadyExistsException", format!("The image tag '{t}' already exists in the '{name}' repository and cannot be overwritten because the tag is immutable. ({existing})")));
                        }
                    }
                }
            }
            let reference = tag.clone().unwrap_or_else(|| {
                format!(
                    "sha256:{}",
                    hex::encode(aws_lc_rs::digest::digest(
                        &aws_lc_rs::digest::SHA256,
                        manifest.as_bytes()
                    ))
                )
            });
            let digest = reg
                .put_manifest(&path, &reference, &media, manifest.clone().into_bytes())
                .await
                .map_err(|e| {
                    AwsError::invalid_parameter(format!(
                        "Invalid parameter at 'imageManifest': the registry refused it: {e}"
                    ))
                })?;
            Ok(
                json!({"image": {"registryId": account, "repositoryName": name, "imageId": {"imageDigest": digest, "imageTag": tag}, "imageManifest": manifest, "imageManifestMediaType": media}}),
            )
        }
        _ => {
            let mut deleted = Vec::new();
            let mut failures = Vec::new();
            for (d, t) in wanted {
                let digest = d.clone().or_else(|| {
                    by_digest
                        .iter()
                        .find(|(_, (tags, _, _))| t.as_ref().is_some_and(|t| tags.contains(t)))
                        .map(|(d, _)| d.clone())
                });
                match digest {
                    Some(dg) if reg.delete_manifest(&path, &dg).await.map_err(server)? => {
                        for tag in by_digest.get(&dg).map(|x| x.0.clone()).unwrap_or_default() {
                            deleted.push(json!({"imageDigest": dg, "imageTag": tag}));
                        }
                    }
                    _ => failures.push(json!({"imageId": {"imageDigest": d, "imageTag": t}, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"})),
                }
            }
            Ok(json!({"imageIds": deleted, "failures": failures}))
        }
    }
}

/// The size ECR reports: the sum of the layers (and config) of a manifest.
async fn image_size(reg: &crate::registry::Registry, path: &str, digest: &str) -> Option<u64> {
    let (_, _, bytes) = reg.manifest(path, digest).await.ok()??;
    let m: Value = serde_json::from_slice(&bytes).ok()?;
    let layers = m.get("layers")?.as_array()?;
    Some(
        layers
            .iter()
            .filter_map(|l| l.get("size").and_then(Value::as_u64))
            .sum::<u64>()
            + m.pointer("/config/size")
                .and_then(Value::as_u64)
                .unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        assert!(valid_repo_name("team/app"));
        assert!(valid_repo_name("a.b_c-d"));
        assert!(!valid_repo_name("App"));
        assert!(!valid_repo_name("a"));
        assert!(!valid_repo_name("a//b"));
        assert!(!valid_repo_name("-ab"));
    }

    #[test]
    fn lifecycle_checks() {
        assert!(check_lifecycle(r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#).is_ok());
        assert!(check_lifecycle(r#"{"rules":[]}"#).is_err());
        assert!(check_lifecycle("nope").is_err());
    }
}

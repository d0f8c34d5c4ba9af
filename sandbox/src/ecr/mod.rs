//! ECR and ECR Public control planes. Images are read from, and written to, the real registry
//! behind them, so what was pushed over the registry API shows up through the ECR API.

mod images;
mod settings;

use crate::app::App;
use crate::awsjson::{req_str, AwsError, OpResult};
pub use crate::state::{EcrState, Repo};
use images::image_op;
use serde_json::{json, Value};
use settings::{check_mutability, settings_op, tag_op};
use std::collections::BTreeMap;

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
        "CreateRepository" => create_repository(app, public, body),
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
        "DeleteRepository" => delete_repository(app, public, body).await,
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

/// CreateRepository.
fn create_repository(app: &App, public: bool, body: &Value) -> OpResult {
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

/// DeleteRepository.
async fn delete_repository(app: &App, public: bool, body: &Value) -> OpResult {
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
}

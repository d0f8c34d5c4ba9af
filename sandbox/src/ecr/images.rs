//! Images, read from and written to the real registry behind ECR: list, describe, check layers,
//! get, put and delete.

use super::*;
use crate::app::App;
use crate::awsjson::{opt_str, req_str, AwsError, OpResult};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) async fn image_op(app: &App, public: bool, op: &str, body: &Value) -> OpResult {
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
    let mut by_digest: ByDigest = BTreeMap::new();
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
            describe_images(reg, &path, &name, &repo, account, &by_digest, &wanted).await
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
        "PutImage" => put_image(reg, &path, &name, &repo, account, body).await,
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

/// PutImage.
async fn put_image(
    reg: &crate::registry::Registry,
    path: &str,
    name: &str,
    repo: &Repo,
    account: &str,
    body: &Value,
) -> OpResult {
    let server =
        |e: anyhow::Error| AwsError::new(500, "ServerException", format!("registry: {e:#}"));
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
            if let Some((existing, _, _)) = reg.manifest(path, t).await.map_err(server)? {
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
        .put_manifest(path, &reference, &media, manifest.clone().into_bytes())
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

/// What the registry holds: digest → (its tags, media type, manifest length).
type ByDigest = BTreeMap<String, (Vec<String>, String, usize)>;

/// DescribeImages: every image, or those `wanted` (digest or tag), with ECR's sizes.
async fn describe_images(
    reg: &crate::registry::Registry,
    path: &str,
    name: &str,
    repo: &Repo,
    account: &str,
    by_digest: &ByDigest,
    wanted: &[(Option<String>, Option<String>)],
) -> OpResult {
    let mut details = Vec::new();
    for (digest, (tags, media, len)) in by_digest {
        let selected = wanted.is_empty()
            || wanted.iter().any(|(d, t)| {
                d.as_deref() == Some(digest.as_str())
                    || t.as_ref().is_some_and(|t| tags.contains(t))
            });
        if !selected {
            continue;
        }
        let size = image_size(reg, path, digest).await.unwrap_or(*len as u64);
        let d = json!({"registryId": account, "repositoryName": name, "imageDigest": digest, "imageTags": tags, "imageSizeInBytes": size, "imagePushedAt": repo.created_at, "imageManifestMediaType": media});
        details.push(d);
    }
    for (d, t) in wanted {
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

//! The OCI 1.1 referrers API in front of the CNCF registry (2.8 has none), as ECR serves it:
//! every manifest pushed with a `subject` is indexed, the push is answered with `OCI-Subject`,
//! and `GET /v2/<name>/referrers/<digest>` lists them as an image index, filtered by
//! `?artifactType=` (with `OCI-Filters-Applied`). Turned off through
//! `/_sandbox/registry-faults` (`without_referrers_api`), the front answers 404 as a registry
//! without the API does, so clients fall back to the referrers tag schema.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// `(public, repository path, subject digest)` → the descriptors of the manifests naming it.
pub type Index = Arc<Mutex<BTreeMap<(bool, String, String), Vec<Value>>>>;

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// `(repository path, digest)` of a `GET /v2/<name>/referrers/<digest>`.
pub fn listing(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    let (name, digest) = rest.rsplit_once("/referrers/")?;
    (!name.is_empty() && digest.starts_with("sha256:")).then_some((name, digest))
}

/// `(repository path, reference)` of a `PUT /v2/<name>/manifests/<reference>`.
pub fn manifest_put(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    let (name, reference) = rest.rsplit_once("/manifests/")?;
    (!name.is_empty()).then_some((name, reference))
}

/// The descriptor a referrers listing gives a manifest with a subject, and that subject's
/// digest; `None` for a manifest without one. `artifactType` is the manifest's own, else its
/// config's media type, as the distribution spec says.
pub fn descriptor(manifest: &[u8], digest: &str) -> Option<(String, Value)> {
    let m: Value = serde_json::from_slice(manifest).ok()?;
    let subject = m["subject"]["digest"].as_str()?.to_string();
    let media_type = m["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json");
    let artifact_type = m["artifactType"]
        .as_str()
        .or(m["config"]["mediaType"].as_str())
        .unwrap_or_default();
    let mut d = json!({
        "mediaType": media_type,
        "digest": digest,
        "size": manifest.len(),
        "artifactType": artifact_type,
    });
    if let Some(a) = m.get("annotations").filter(|a| a.is_object()) {
        d["annotations"] = a.clone();
    }
    Some((subject, d))
}

/// Index a manifest the registry accepted; the subject's digest when it has one.
pub fn record(
    index: &Index,
    public: bool,
    name: &str,
    manifest: &[u8],
    digest: &str,
) -> Option<String> {
    let (subject, d) = descriptor(manifest, digest)?;
    let mut all = index.lock().unwrap_or_else(|p| p.into_inner());
    let list = all
        .entry((public, name.to_string(), subject.clone()))
        .or_default();
    list.retain(|x| x["digest"] != d["digest"]);
    list.push(d);
    Some(subject)
}

/// The referrers of `digest` as an image index, filtered by `artifact_type` when given.
pub fn answer(
    index: &Index,
    public: bool,
    name: &str,
    digest: &str,
    artifact_type: Option<&str>,
) -> Response<Body> {
    let all = index.lock().unwrap_or_else(|p| p.into_inner());
    let manifests: Vec<Value> = all
        .get(&(public, name.to_string(), digest.to_string()))
        .map(|l| {
            l.iter()
                .filter(|d| artifact_type.is_none_or(|t| d["artifactType"] == t))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let body = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests});
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(INDEX_MEDIA_TYPE));
    if artifact_type.is_some() {
        r.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    r
}

/// The `artifactType` query parameter.
pub fn artifact_type_filter(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "artifactType")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_a_subject_is_listed_under_it_and_filtered_by_artifact_type() {
        let index = Index::default();
        let subject = format!("sha256:{}", "a".repeat(64));
        let sbom =
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/spdx+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json"},
            "subject": {"digest": subject}, "annotations": {"a": "b"}})
            .to_string();
        let plain = json!({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json"}}).to_string();
        assert_eq!(
            record(&index, false, "app", sbom.as_bytes(), "sha256:s").as_deref(),
            Some(subject.as_str())
        );
        assert_eq!(
            record(&index, false, "app", plain.as_bytes(), "sha256:p"),
            None
        );
        assert_eq!(
            listing(&format!("/v2/team/app/referrers/{subject}")),
            Some(("team/app", subject.as_str()))
        );
        assert_eq!(
            manifest_put("/v2/team/app/manifests/v1"),
            Some(("team/app", "v1"))
        );
        assert_eq!(
            artifact_type_filter(Some("artifactType=application%2Fspdx%2Bjson")).as_deref(),
            Some("application/spdx+json")
        );
        let (_, d) = descriptor(sbom.as_bytes(), "sha256:s").unwrap();
        assert_eq!(d["artifactType"], "application/spdx+json");
        assert_eq!(d["size"], sbom.len());
        assert_eq!(d["annotations"]["a"], "b");
    }
}

//! OCI 1.1 artifacts that refer to an image, pure: the artifact manifest (empty config, one
//! layer, `subject`), the referrers tag schema's index (`sha256-<hex>`) for registries without
//! the referrers API, and reading a referrers listing.

use serde_json::{json, Value};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The empty config of an artifact (`{}`), as image-spec 1.1 defines it.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY: &[u8] = b"{}";
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: crate::image::source::digest_of(bytes),
            size: bytes.len() as u64,
        }
    }

    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// The manifest of an artifact of `artifact_type` holding `layer`, referring to `subject`.
pub fn artifact_manifest(
    artifact_type: &str,
    layer: &Descriptor,
    subject: &Descriptor,
    annotations: &Value,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": EMPTY_DIGEST, "size": 2, "data": "e30="},
        "layers": [layer.json()],
        "subject": subject.json(),
    });
    if annotations.as_object().is_some_and(|a| !a.is_empty()) {
        m["annotations"] = annotations.clone();
    }
    m.to_string().into_bytes()
}

/// The referrers tag schema's tag for `digest`: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

/// The descriptor a referrers index lists for an artifact manifest.
fn listed(manifest: &[u8], digest: &str) -> Value {
    let m: Value = serde_json::from_slice(manifest).unwrap_or_default();
    let mut d = json!({
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": manifest.len(),
        "artifactType": m["artifactType"],
    });
    if m["annotations"].is_object() {
        d["annotations"] = m["annotations"].clone();
    }
    d
}

/// The tag schema's index with the artifact `manifest` (of `digest`) added to `existing`.
pub fn merged_index(existing: Option<&[u8]>, manifest: &[u8], digest: &str) -> Vec<u8> {
    let mut manifests: Vec<Value> = existing
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v["manifests"].as_array().cloned())
        .unwrap_or_default();
    manifests.retain(|m| m["digest"] != digest);
    manifests.push(listed(manifest, digest));
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
        .to_string()
        .into_bytes()
}

/// One referrer a listing names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: String,
    pub artifact_type: String,
}

/// The referrers a listing (the API's answer or the tag schema's index) names, of
/// `artifact_type` when given.
pub fn parse_listing(bytes: &[u8], artifact_type: Option<&str>) -> Result<Vec<Referrer>, String> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the referrers listing is not JSON ({e})"))?;
    let list = v["manifests"]
        .as_array()
        .ok_or("the referrers listing has no manifests")?;
    Ok(list
        .iter()
        .filter_map(|m| {
            Some(Referrer {
                digest: m["digest"].as_str()?.to_string(),
                artifact_type: m["artifactType"].as_str().unwrap_or_default().to_string(),
            })
        })
        .filter(|r| artifact_type.is_none_or(|t| r.artifact_type == t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_names_its_subject_and_the_tag_schema_index_lists_it_once() {
        assert_eq!(Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY).digest, EMPTY_DIGEST);
        let subject = Descriptor::of(OCI_MANIFEST, b"image manifest");
        let layer = Descriptor::of("application/spdx+json", b"{\"spdxVersion\":\"SPDX-2.3\"}");
        let m = artifact_manifest(
            "application/spdx+json",
            &layer,
            &subject,
            &json!({"k": "v"}),
        );
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["subject"]["digest"], subject.digest);
        assert_eq!(v["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(v["layers"][0]["digest"], layer.digest);
        assert_eq!(
            fallback_tag(&subject.digest),
            subject.digest.replace("sha256:", "sha256-")
        );
        let d = Descriptor::of(OCI_MANIFEST, &m).digest;
        let once = merged_index(None, &m, &d);
        let twice = merged_index(Some(&once), &m, &d);
        let listed = parse_listing(&twice, None).unwrap();
        assert_eq!(
            listed,
            vec![Referrer {
                digest: d.clone(),
                artifact_type: "application/spdx+json".into()
            }]
        );
        assert!(parse_listing(&twice, Some("application/vnd.in-toto+json"))
            .unwrap()
            .is_empty());
        let v: Value = serde_json::from_slice(&twice).unwrap();
        assert_eq!(v["manifests"][0]["annotations"]["k"], "v");
    }
}

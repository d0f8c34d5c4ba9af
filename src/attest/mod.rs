//! Attestations attached to a pushed image: an SBOM and SLSA provenance as OCI 1.1 artifacts
//! whose `subject` is the image's manifest. A registry with the referrers API indexes them as
//! they are pushed (it answers `OCI-Subject`); for one without it, the referrers tag schema's
//! index (`sha256-<hex>`) is updated, as the distribution spec asks of clients.

pub mod documents;
pub mod referrers;

use crate::image::registry::Registry;
use crate::image::source::{Blob, Manifest};
use anyhow::{Context, Result};
use referrers::Descriptor;

/// How an artifact became findable from its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// The registry's referrers API indexed it.
    ReferrersApi,
    /// The tag schema's index under this tag names it.
    TagSchema(String),
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listed::ReferrersApi => f.write_str("listed by the referrers API"),
            Listed::TagSchema(t) => write!(f, "listed in the referrers tag {t}"),
        }
    }
}

/// The descriptor of a manifest, for a `subject`.
pub fn descriptor_of(m: &Manifest) -> Descriptor {
    Descriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
    }
}

/// Upload small in-memory blobs (POST + PUT each, no HEAD first: a new document is never
/// there, and the empty config is two bytes), all at once.
pub async fn upload_small(reg: &Registry, path: &str, blobs: &[&[u8]]) -> Result<()> {
    let work = tempfile::tempdir().context("a temporary directory for the upload")?;
    let mut files: Vec<Blob> = Vec::new();
    for (i, bytes) in blobs.iter().enumerate() {
        let digest = crate::image::source::digest_of(bytes);
        if files.iter().any(|f| f.digest == digest) {
            continue;
        }
        let file = work.path().join(i.to_string());
        std::fs::write(&file, bytes)?;
        files.push(Blob {
            digest,
            size: bytes.len() as u64,
            path: file,
        });
    }
    let quiet = |_: String| {};
    let uploads = files.iter().map(|b| reg.push_blob(path, b, None, &quiet));
    for r in futures_util::future::join_all(uploads).await {
        r?;
    }
    Ok(())
}

/// PUT an artifact's manifest (its blobs uploaded already) by digest, then make it findable
/// from `subject`: nothing more where the registry answered `OCI-Subject`, else the tag
/// schema's index is read and written.
pub async fn put_artifact(
    reg: &Registry,
    path: &str,
    manifest: &Manifest,
    subject: &str,
) -> Result<Listed> {
    let indexed = reg
        .put_manifest(path, &manifest.digest, manifest)
        .await?
        .is_some_and(|s| s == subject);
    if indexed {
        return Ok(Listed::ReferrersApi);
    }
    let tag = referrers::fallback_tag(subject);
    let existing = reg.find_manifest(path, &tag).await?.ok();
    let bytes = referrers::merged_index(
        existing.as_ref().map(|m| m.bytes.as_slice()),
        &manifest.bytes,
        &manifest.digest,
    );
    let index = Manifest::new(referrers::OCI_INDEX, bytes);
    reg.put_manifest(path, &tag, &index)
        .await
        .with_context(|| format!("writing the referrers tag {tag}"))?;
    Ok(Listed::TagSchema(tag))
}

/// The referrers of `digest` (of `artifact_type` when given): through the referrers API, else
/// the tag schema's index; with how they were found.
pub async fn list(
    reg: &Registry,
    path: &str,
    digest: &str,
    artifact_type: Option<&str>,
) -> Result<(Vec<referrers::Referrer>, &'static str)> {
    if let Some(bytes) = reg.referrers(path, digest, artifact_type).await? {
        let l = referrers::parse_listing(&bytes, artifact_type).map_err(anyhow::Error::msg)?;
        return Ok((l, "the referrers API"));
    }
    let tag = referrers::fallback_tag(digest);
    match reg.find_manifest(path, &tag).await? {
        Ok(m) => Ok((
            referrers::parse_listing(&m.bytes, artifact_type).map_err(anyhow::Error::msg)?,
            "the referrers tag schema",
        )),
        Err(_) => Ok((Vec::new(), "the referrers tag schema")),
    }
}

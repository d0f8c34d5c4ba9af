//! What `push --sbom FILE --provenance --sign KEY` adds to the pushed image. Everything is made
//! before the first byte is uploaded: the artifacts' manifests, and KMS's signatures over the
//! image and each artifact (so a role that may not sign fails before anything is pushed). After
//! the image: per artifact its blob and one manifest PUT, per signature its payload, config and
//! one manifest PUT under its `.sig` tag.

use crate::attest::{self, documents, referrers};
use crate::cli::PushArgs;
use crate::error::usage;
use crate::image::registry::Registry;
use crate::image::source::Manifest;
use crate::sign::kms::{KeyRef, Kms};
use anyhow::{Context, Result};
use serde_json::json;

/// An SBOM file, read and recognised.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
}

/// The extras asked for, checked before anything is sent.
/// The largest `--sbom` document: it is held in memory, hashed and uploaded as one blob.
/// syft's SPDX of a large image is a few MiB.
pub const MAX_SBOM: u64 = 64 << 20;

#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub sign: Option<KeyRef>,
    pub sbom: Option<Sbom>,
    pub provenance: bool,
}

impl Extras {
    pub fn from_args(a: &PushArgs) -> Result<Extras> {
        let sign = match a.sign.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(KeyRef::parse(s).map_err(|e| usage!("--sign (STEVEDORE_SIGN): {e}"))?),
            None => None,
        };
        let sbom = match a.sbom.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => {
                let flag = format!("--sbom (STEVEDORE_SBOM) {}", p.display());
                let size = std::fs::metadata(p)
                    .map_err(|e| usage!("{flag}: cannot read it ({e})"))?
                    .len();
                if size > MAX_SBOM {
                    return Err(usage!(
                        "{flag} is {}, more than the {} an SBOM may be: give a smaller document (one per image, not per repository)",
                        crate::units::bytes(size),
                        crate::units::bytes(MAX_SBOM)
                    ));
                }
                let bytes = std::fs::read(p).map_err(|e| usage!("{flag}: cannot read it ({e})"))?;
                let media_type =
                    documents::sbom_media_type(&bytes).map_err(|e| usage!("{flag}: {e}"))?;
                Some(Sbom { bytes, media_type })
            }
            None => None,
        };
        if a.provenance {
            let var = |k: &str| crate::config::env_var(k);
            documents::in_job(&var)
                .and_then(|()| {
                    let token = crate::auth::oidc::job_source();
                    documents::source(&var, token.as_ref()).map(drop)
                })
                .map_err(|e| usage!("--provenance (STEVEDORE_PROVENANCE): {e}"))?;
        }
        Ok(Extras {
            sign,
            sbom,
            provenance: a.provenance,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sign.is_none() && self.sbom.is_none() && !self.provenance
    }
}

/// One artifact to attach.
struct Artifact {
    what: &'static str,
    document: Vec<u8>,
    manifest: Manifest,
}

/// The extras made and signed, ready to store after the image.
#[derive(Default)]
pub struct Prepared {
    artifacts: Vec<Artifact>,
    signatures: Vec<crate::sign::Signed>,
    /// The provenance as a signed DSSE envelope (`cosign attest`'s form), when signing.
    attestation: Option<crate::sign::Attested>,
    key: Option<String>,
}

fn artifact(
    what: &'static str,
    media_type: &str,
    document: Vec<u8>,
    subject: &Manifest,
    annotations: serde_json::Value,
) -> Artifact {
    let layer = referrers::Descriptor::of(media_type, &document);
    let bytes = referrers::artifact_manifest(
        media_type,
        &layer,
        &attest::descriptor_of(subject),
        &annotations,
    );
    Artifact {
        what,
        document,
        manifest: Manifest::new(referrers::OCI_MANIFEST, bytes),
    }
}

/// Build the artifacts for the pushed image and sign it and them, with the KMS key in the
/// settings' region (a private push needs one; a public push without one signs in ECR Public's).
pub async fn prepare(
    extras: &Extras,
    settings: &crate::config::Settings,
    pushed: &Pushed<'_>,
) -> Result<Prepared> {
    let (reference, top) = (pushed.reference, pushed.top);
    if extras.is_empty() {
        return Ok(Prepared::default());
    }
    let now = crate::auth::oidc::fmt_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let created = json!({"org.opencontainers.image.created": now});
    let mut artifacts = Vec::new();
    let mut statement = None;
    if let Some(s) = &extras.sbom {
        // No creation time: the same SBOM of the same image is the same artifact, listed once.
        let sbom = artifact("SBOM", s.media_type, s.bytes.clone(), top, json!({}));
        artifacts.push(sbom);
    }
    if extras.provenance {
        let var = |k: &str| crate::config::env_var(k);
        let token = crate::auth::oidc::job_source();
        let document = documents::provenance(&var, token.as_ref(), reference, &top.digest, &now)
            .map_err(|e| usage!("--provenance (STEVEDORE_PROVENANCE): {e}"))?
            .to_string()
            .into_bytes();
        let mut annotations = created.clone();
        annotations["in-toto.io/predicate-type"] = json!(documents::SLSA_PROVENANCE_V1);
        let kind = documents::IN_TOTO;
        artifacts.push(artifact(
            "provenance",
            kind,
            document.clone(),
            top,
            annotations,
        ));
        statement = Some(document);
    }
    let mut prepared = Prepared {
        artifacts,
        ..Default::default()
    };
    if let Some(key) = &extras.sign {
        let region = settings
            .region
            .as_deref()
            .unwrap_or(crate::config::ECR_PUBLIC_REGION);
        let credentials = crate::auth::credentials(region, None).await?;
        let kms = Kms::new(key, region, credentials)?;
        let mut digests = vec![top.digest.clone()];
        digests.extend(prepared.artifacts.iter().map(|a| a.manifest.digest.clone()));
        let signing = digests
            .iter()
            .map(|d| crate::sign::sign(&kms, key, reference, d));
        let attesting = statement.as_deref().map(|s| {
            let slsa = documents::SLSA_PROVENANCE_V1;
            crate::sign::attest(&kms, key, &top.digest, s, slsa)
        });
        let (signed, attested) = futures_util::future::join(
            futures_util::future::join_all(signing),
            futures_util::future::OptionFuture::from(attesting),
        )
        .await;
        let before = "signing before the push: nothing was pushed";
        for s in signed {
            prepared.signatures.push(s.context(before)?);
        }
        prepared.attestation = attested.transpose().context(before)?;
        prepared.key = Some(key.display());
    }
    Ok(prepared)
}

/// `--via docker`: the image is in the repository (pushed by the engine) before anything is
/// signed, so a role that may not sign leaves it there unsigned.
pub async fn after_docker_push(
    settings: &crate::config::Settings,
    extras: &Extras,
    public: bool,
    repo: &str,
    reference: &str,
    digest: &str,
) -> Result<()> {
    if extras.is_empty() {
        return Ok(());
    }
    let (reg, _, path) = super::repository::open_repository(settings, public, repo).await?;
    let top = reg.get_manifest(&path, digest).await?;
    let pushed = Pushed::new(&path, reference, &top);
    let prepared = prepare(extras, settings, &pushed).await?;
    prepared.publish(&reg, &pushed, Subject::Existing).await
}

/// The image the extras are about: its repository path, `host/path`, and its manifest.
pub struct Pushed<'a> {
    pub path: &'a str,
    pub reference: &'a str,
    pub top: &'a Manifest,
}

impl<'a> Pushed<'a> {
    pub fn new(path: &'a str, reference: &'a str, top: &'a Manifest) -> Pushed<'a> {
        Pushed {
            path,
            reference,
            top,
        }
    }
}

/// Where the image stands when the extras are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Pushed just now: it has no signatures yet.
    New,
    /// In the repository before this push.
    Existing,
    /// Not in the repository: `--skip-existing-tags` left every tag naming another image.
    Absent,
}

impl Subject {
    /// `Existing` when the manifest is there, else `Absent`.
    pub fn there(manifest_there: bool) -> Subject {
        if manifest_there {
            Subject::Existing
        } else {
            Subject::Absent
        }
    }
}

impl Prepared {
    /// Store the artifacts and the signatures, the image being in the repository now. All
    /// blobs go up at once; then the artifacts' manifests (one after another, as the tag
    /// schema's index is read and written); then the signature manifests, at once.
    pub async fn publish(
        &self,
        reg: &Registry,
        pushed: &Pushed<'_>,
        subject: Subject,
    ) -> Result<()> {
        let (path, reference, top) = (pushed.path, pushed.reference, pushed.top);
        if self.artifacts.is_empty() && self.signatures.is_empty() {
            return Ok(());
        }
        if subject == Subject::Absent {
            println!("not signed or attested: {reference}@{} is not in the repository (every tag names another image)", top.digest);
            return Ok(());
        }
        let fresh = subject == Subject::New;
        let stores = self
            .signatures
            .iter()
            .map(|s| crate::sign::to_store(reg, path, s, fresh || s.digest != top.digest));
        let stores = futures_util::future::join_all(stores)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let attestation = match &self.attestation {
            Some(a) => Some(crate::sign::att_to_store(reg, path, a, fresh).await?),
            None => None,
        };
        let mut blobs: Vec<&[u8]> = Vec::new();
        if !self.artifacts.is_empty() {
            blobs.push(referrers::EMPTY);
        }
        blobs.extend(self.artifacts.iter().map(|a| a.document.as_slice()));
        let all_stores = || stores.iter().chain(&attestation);
        blobs.extend(all_stores().flat_map(|s| s.blobs.iter().map(Vec::as_slice)));
        attest::upload_small(reg, path, &blobs).await?;
        for a in &self.artifacts {
            let listed = attest::put_artifact(reg, path, &a.manifest, &top.digest)
                .await
                .with_context(|| format!("attaching the {}", a.what))?;
            println!("attached the {} as {}, {listed}", a.what, a.manifest.digest);
        }
        let puts = all_stores().map(|s| reg.put_manifest(path, &s.tag, &s.manifest));
        for r in futures_util::future::join_all(puts).await {
            r.context("storing a signature")?;
        }
        let key = self.key.as_deref().unwrap_or_default();
        for (s, stored) in self.signatures.iter().zip(&stores) {
            let what = self
                .artifacts
                .iter()
                .find(|a| a.manifest.digest == s.digest)
                .map_or("image", |a| a.what);
            println!("signed the {what} with {key}: {reference}:{}", stored.tag);
        }
        if let Some(stored) = &attestation {
            println!(
                "attested the provenance (DSSE) with {key}: {reference}:{}",
                stored.tag
            );
        }
        Ok(())
    }
}

//! Image signatures with AWS KMS in cosign's layout: the payload is signed by KMS before
//! anything is uploaded (a role that may not sign fails before the push), and the signature is
//! stored after the image, its tag written last, in one PUT, so no signature tag is ever half
//! written.

pub mod dsse;
pub mod keys;
pub mod kms;
pub mod required;
pub mod simple_signing;
pub mod verify;

use crate::image::registry::Registry;
use crate::image::source::Manifest;
use anyhow::Result;
use simple_signing::SigLayer;

/// A signature over one object (an image or an attestation), made but not stored yet.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The digest of the signed manifest.
    pub digest: String,
    pub payload: Vec<u8>,
    pub layer: SigLayer,
}

/// Sign the manifest `digest` in `repository` (`host/path`) with the KMS key.
pub async fn sign(
    kms: &kms::Kms,
    key: &kms::KeyRef,
    repository: &str,
    digest: &str,
) -> Result<Signed> {
    let payload = simple_signing::payload(repository, digest);
    let (signature, arn) = kms.sign(key, &payload).await?;
    let layer = SigLayer::new(&payload, &signature, Some(&arn));
    Ok(Signed {
        digest: digest.to_string(),
        payload,
        layer,
    })
}

/// An attestation signed as a DSSE envelope, made but not stored yet.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The digest of the image it is about.
    pub digest: String,
    pub envelope: Vec<u8>,
    pub layer: dsse::AttLayer,
}

/// Sign the in-toto `statement` about the image `digest` (of `predicate_type`) as a DSSE
/// envelope with the KMS key.
pub async fn attest(
    kms: &kms::Kms,
    key: &kms::KeyRef,
    digest: &str,
    statement: &[u8],
    predicate_type: &str,
) -> Result<Attested> {
    let signed = dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, statement);
    let (signature, _) = kms.sign(key, &signed).await?;
    let envelope = dsse::envelope(dsse::IN_TOTO_PAYLOAD_TYPE, statement, &signature);
    let layer = dsse::AttLayer::new(&envelope, predicate_type);
    Ok(Attested {
        digest: digest.to_string(),
        envelope,
        layer,
    })
}

/// The manifest that stores an attestation under `sha256-<hex>.att`, as [`to_store`] does for
/// a signature: the attestations of other predicate types already there are kept.
pub async fn att_to_store(reg: &Registry, path: &str, a: &Attested, fresh: bool) -> Result<Stored> {
    let tag = dsse::attestation_tag(&a.digest);
    let existing = dsse::layers_of(&existing(reg, path, &tag, fresh).await?);
    let (manifest, config) = dsse::manifest(&dsse::merged(existing, a.layer.clone()));
    Ok(Stored::new(tag, manifest, [a.envelope.clone(), config]))
}

/// The manifest under `tag` (empty when there is none, or when the object is `fresh`: pushed
/// just now, so nothing can refer to it yet).
async fn existing(reg: &Registry, path: &str, tag: &str, fresh: bool) -> Result<Vec<u8>> {
    if fresh {
        return Ok(Vec::new());
    }
    Ok(reg
        .find_manifest(path, tag)
        .await?
        .map(|m| m.bytes)
        .unwrap_or_default())
}

/// A signature manifest ready to PUT under its tag, and the blobs it names.
pub struct Stored {
    pub tag: String,
    pub manifest: Manifest,
    /// The payload and the config.
    pub blobs: [Vec<u8>; 2],
}

/// The manifest that stores a signature under `sha256-<hex>.sig`. The signatures already
/// there are kept (read first), unless the object is `fresh` (pushed just now, so none can
/// exist). The caller uploads the blobs, then PUTs the manifest under the tag: one write that
/// either happens whole or not at all.
pub async fn to_store(reg: &Registry, path: &str, s: &Signed, fresh: bool) -> Result<Stored> {
    let tag = simple_signing::signature_tag(&s.digest);
    let existing = existing(reg, path, &tag, fresh).await?;
    let existing = simple_signing::layers_of(&existing).unwrap_or_default();
    let layers = simple_signing::merged(existing, s.layer.clone());
    let (manifest, config) = simple_signing::manifest(&layers);
    Ok(Stored::new(tag, manifest, [s.payload.clone(), config]))
}

impl Stored {
    fn new(tag: String, manifest: Vec<u8>, blobs: [Vec<u8>; 2]) -> Stored {
        let manifest = Manifest::new(simple_signing::OCI_MANIFEST, manifest);
        Stored {
            tag,
            manifest,
            blobs,
        }
    }
}

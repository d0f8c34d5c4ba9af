//! cosign's signature layout (its SIGNATURE_SPEC.md), pure: the simple-signing payload, the
//! signature manifest stored under the tag `sha256-<hex>.sig`, and the check of one signature.
//!
//! The spec's fields this follows: the payload's `critical.identity.docker-reference`,
//! `critical.image.docker-manifest-digest` and `critical.type` = "cosign container image
//! signature", with claims in `optional`; the payload uploaded as a blob and named by a layer of
//! an OCI image manifest with media type `application/vnd.dev.cosign.simplesigning.v1+json`; the
//! base64 signature in that layer's annotation `dev.cosignproject.cosign/signature`; one
//! manifest per signed object, holding every signature of it as a layer; ECDSA-P256 over the
//! payload with SHA-256.

use super::keys::PublicKey;
use base64::Engine;
use serde_json::{json, Value};

pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const COSIGN_TYPE: &str = "cosign container image signature";
/// The KMS key that made a signature (unsigned metadata beside it, for telling "signed by
/// another key" from "altered" when a signature does not verify).
pub const KEY_ANNOTATION: &str = "dev.stevedore/key";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The most signatures one manifest may hold: each is a payload fetched and a signature
/// checked, so a manifest of thousands would make every verification slow. A key re-signing
/// replaces its own signature, so real images hold one per key.
pub const MAX_SIGNATURE_LAYERS: usize = 64;
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The tag cosign's tag-based discovery stores the signatures of `digest` under.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// The payload signed for the image `digest` in `repository` (`host/path`).
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_TYPE,
        },
        "optional": {"creator": format!("stevedore {}", env!("CARGO_PKG_VERSION"))},
    })
    .to_string()
    .into_bytes()
}

/// One signature: a layer of the signature manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigLayer {
    pub payload_digest: String,
    pub payload_size: u64,
    /// base64 of the DER signature.
    pub signature: String,
    /// The key's ARN, when a KMS key made it.
    pub key: Option<String>,
}

impl SigLayer {
    pub fn new(payload: &[u8], signature_der: &[u8], key: Option<&str>) -> SigLayer {
        SigLayer {
            payload_digest: crate::image::source::digest_of(payload),
            payload_size: payload.len() as u64,
            signature: base64::engine::general_purpose::STANDARD.encode(signature_der),
            key: key.map(String::from),
        }
    }

    fn descriptor(&self) -> Value {
        let mut annotations = json!({SIGNATURE_ANNOTATION: self.signature});
        if let Some(k) = &self.key {
            annotations[KEY_ANNOTATION] = json!(k);
        }
        json!({
            "mediaType": PAYLOAD_MEDIA_TYPE,
            "size": self.payload_size,
            "digest": self.payload_digest,
            "annotations": annotations,
        })
    }
}

/// The layers of a signature manifest (those with a signature annotation).
pub fn layers_of(manifest: &[u8]) -> Result<Vec<SigLayer>, String> {
    let m: Value = serde_json::from_slice(manifest)
        .map_err(|e| format!("the signature manifest is not JSON ({e})"))?;
    let layers = m["layers"]
        .as_array()
        .ok_or("the signature manifest has no layers")?;
    if layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(format!(
            "the signature manifest has {} layers, more than the {MAX_SIGNATURE_LAYERS} stevedore reads: \
             remove old signatures (or the tag) and sign again",
            layers.len()
        ));
    }
    Ok(layers
        .iter()
        .filter_map(|l| {
            Some(SigLayer {
                payload_digest: l["digest"].as_str()?.to_string(),
                payload_size: l["size"].as_u64()?,
                signature: l["annotations"][SIGNATURE_ANNOTATION].as_str()?.to_string(),
                key: l["annotations"][KEY_ANNOTATION]
                    .as_str()
                    .map(|k| crate::relay::escape(k).into_owned()),
            })
        })
        .collect())
}

/// The signature manifest holding `layers`, and its config (an image config whose rootfs names
/// the payloads, as cosign writes it): `(manifest, config)`.
pub fn manifest(layers: &[SigLayer]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.payload_digest.as_str()).collect();
    let config = json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": config.len(),
            "digest": crate::image::source::digest_of(&config),
        },
        "layers": layers.iter().map(SigLayer::descriptor).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    (manifest, config)
}

/// `existing` with `new` added; a signature of the same payload by the same key is replaced
/// (ECDSA signatures differ each time, so re-signing would otherwise pile them up).
pub fn merged(mut existing: Vec<SigLayer>, new: SigLayer) -> Vec<SigLayer> {
    existing.retain(|l| {
        let same_key = l.key.is_some() && l.key == new.key;
        !(l.payload_digest == new.payload_digest && (same_key || l.signature == new.signature))
    });
    existing.push(new);
    existing
}

/// Why a signature does not vouch for an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature: nothing is stored under {tag} (sign it with `stevedore push --sign`, or the image changed after it was signed)")]
    Missing { tag: String },
    #[error("not signed by {expected}; its unverified annotation names another key ({signer})")]
    OtherKey { signer: String, expected: String },
    #[error("the signature does not verify with {expected}: the payload or the signature was altered after signing, or another key signed it")]
    Altered { expected: String },
    #[error(
        "the signature is for {signed}, not for {actual}: the image changed after it was signed"
    )]
    DigestMismatch { signed: String, actual: String },
    #[error("the signature is malformed: {0}")]
    Malformed(String),
}

impl SignatureError {
    /// Which error to report when no signature verifies: the most telling one.
    fn rank(&self) -> u8 {
        match self {
            SignatureError::DigestMismatch { .. } => 0,
            SignatureError::Altered { .. } => 1,
            SignatureError::OtherKey { .. } => 2,
            SignatureError::Malformed(_) => 3,
            SignatureError::Missing { .. } => 4,
        }
    }
}

/// The key a signature is checked against: its public key, and the KMS ARN it is known by.
pub struct Expected<'a> {
    pub key: &'a PublicKey,
    pub name: &'a str,
    pub arn: Option<&'a str>,
}

/// Check one signature layer, its payload already fetched (and checked against its digest), for
/// the image `digest`.
pub fn check(
    layer: &SigLayer,
    payload: &[u8],
    digest: &str,
    expected: &Expected,
) -> Result<(), SignatureError> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&layer.signature)
        .map_err(|_| SignatureError::Malformed(format!("{SIGNATURE_ANNOTATION} is not base64")))?;
    if !expected.key.verifies(payload, &signature) {
        return Err(match (&layer.key, expected.arn) {
            (Some(signer), Some(arn)) if signer != arn => SignatureError::OtherKey {
                signer: signer.clone(),
                expected: arn.to_string(),
            },
            _ => SignatureError::Altered {
                expected: expected.name.to_string(),
            },
        });
    }
    let p: Value = serde_json::from_slice(payload)
        .map_err(|e| SignatureError::Malformed(format!("the payload is not JSON ({e})")))?;
    if p["critical"]["type"] != COSIGN_TYPE {
        return Err(SignatureError::Malformed(format!(
            "critical.type is {}, not \"{COSIGN_TYPE}\"",
            p["critical"]["type"]
        )));
    }
    let signed = p["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .ok_or_else(|| {
            SignatureError::Malformed("no critical.image.docker-manifest-digest".into())
        })?;
    if signed != digest {
        return Err(SignatureError::DigestMismatch {
            signed: signed.to_string(),
            actual: digest.to_string(),
        });
    }
    Ok(())
}

/// The outcome over all signatures: the first that verifies, else the most telling failure.
pub fn best(
    results: Vec<Result<usize, SignatureError>>,
    tag: &str,
) -> Result<usize, SignatureError> {
    let mut worst: Option<SignatureError> = None;
    for r in results {
        match r {
            Ok(i) => return Ok(i),
            Err(e) if worst.as_ref().is_none_or(|w| e.rank() < w.rank()) => worst = Some(e),
            Err(_) => {}
        }
    }
    Err(worst.unwrap_or(SignatureError::Missing { tag: tag.into() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::keys::tests::{pair, sign};

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn the_payload_and_manifest_follow_cosigns_layout() {
        let p: Value = serde_json::from_slice(&payload("reg/app", &digest('a'))).unwrap();
        assert_eq!(p["critical"]["identity"]["docker-reference"], "reg/app");
        assert_eq!(
            p["critical"]["image"]["docker-manifest-digest"],
            digest('a')
        );
        assert_eq!(p["critical"]["type"], COSIGN_TYPE);
        assert_eq!(
            signature_tag(&digest('a')),
            format!("sha256-{}.sig", "a".repeat(64))
        );
        let layer = SigLayer::new(b"payload", b"sig", Some("arn:k"));
        let (m, config) = manifest(std::slice::from_ref(&layer));
        let m: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["layers"][0]["mediaType"], PAYLOAD_MEDIA_TYPE);
        assert_eq!(m["layers"][0]["annotations"][SIGNATURE_ANNOTATION], "c2ln");
        assert_eq!(m["config"]["size"], config.len());
        let c: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(c["rootfs"]["diff_ids"][0], layer.payload_digest);
        assert_eq!(
            layers_of(&serde_json::to_vec(&m).unwrap()).unwrap(),
            vec![layer.clone()]
        );
        assert_eq!(merged(vec![layer.clone()], layer.clone()).len(), 1);
        // Re-signed by the same key: replaced; by a key not named, or another: kept beside it.
        let again = SigLayer::new(b"payload", b"sig2", Some("arn:k"));
        assert_eq!(merged(vec![layer.clone()], again.clone()), vec![again]);
        let unnamed = SigLayer::new(b"payload", b"sig3", None);
        assert_eq!(merged(vec![layer.clone()], unnamed).len(), 2);
        let other = SigLayer::new(b"payload", b"sig4", Some("arn:other"));
        assert_eq!(merged(vec![layer], other).len(), 2);
    }

    #[test]
    fn each_way_a_signature_fails_has_its_own_error() {
        let (kp, key) = pair();
        let (other_kp, _) = pair();
        let d = digest('a');
        let expected = Expected {
            key: &key,
            name: "awskms:///alias/ci",
            arn: Some("arn:ours"),
        };
        let body = payload("reg/app", &d);
        let good = SigLayer::new(&body, &sign(&kp, &body), Some("arn:ours"));
        assert_eq!(check(&good, &body, &d, &expected), Ok(()));
        // Signed by another key, which the signature's annotation names.
        let theirs = SigLayer::new(&body, &sign(&other_kp, &body), Some("arn:theirs"));
        assert!(matches!(
            check(&theirs, &body, &d, &expected),
            Err(SignatureError::OtherKey { .. })
        ));
        // The payload changed after signing (the signature stays the same).
        let changed = payload("reg/app", &digest('b'));
        assert!(matches!(
            check(&good, &changed, &d, &expected),
            Err(SignatureError::Altered { .. })
        ));
        // A valid signature of another digest: the image changed after signing.
        assert!(matches!(
            check(&good, &body, &digest('c'), &expected),
            Err(SignatureError::DigestMismatch { .. })
        ));
        let mut garbled = good.clone();
        garbled.signature = "%%%".into();
        assert!(matches!(
            check(&garbled, &body, &d, &expected),
            Err(SignatureError::Malformed(_))
        ));
        // The most telling failure wins; any verifying signature wins outright.
        let tag = signature_tag(&d);
        let r = best(
            vec![
                Err(SignatureError::Malformed("x".into())),
                Err(SignatureError::Altered {
                    expected: "k".into(),
                }),
            ],
            &tag,
        );
        assert!(matches!(r, Err(SignatureError::Altered { .. })));
        assert_eq!(
            best(
                vec![Err(SignatureError::Malformed("x".into())), Ok(1)],
                &tag
            ),
            Ok(1)
        );
        assert!(matches!(
            best(vec![], &tag),
            Err(SignatureError::Missing { .. })
        ));
    }
}

//! Signed attestations as cosign stores them (`cosign attest`), pure: the in-toto statement in a
//! DSSE envelope signed over DSSE's pre-authentication encoding, the envelope a layer of type
//! `application/vnd.dsse.envelope.v1+json` (annotated with its `predicateType`) of the manifest
//! under the tag `sha256-<hex>.att`, so `cosign verify-attestation --key …` finds it.

use super::keys::PublicKey;
use base64::Engine;
use serde_json::{json, Value};

pub const ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The tag cosign stores the attestations of `digest` under.
pub fn attestation_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
}

/// DSSE's pre-authentication encoding, what is signed:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The envelope of `body` with one signature (DER) over its PAE.
pub fn envelope(payload_type: &str, body: &[u8], signature_der: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "payloadType": payload_type,
        "payload": b64.encode(body),
        "signatures": [{"keyid": "", "sig": b64.encode(signature_der)}],
    })
    .to_string()
    .into_bytes()
}

/// The body of an envelope one of whose signatures `key` verifies; why not, otherwise.
pub fn open(envelope: &[u8], key: &PublicKey) -> Result<Vec<u8>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: Value = serde_json::from_slice(envelope).map_err(|e| format!("not JSON ({e})"))?;
    let payload_type = v["payloadType"].as_str().ok_or("no payloadType")?;
    let body = v["payload"]
        .as_str()
        .and_then(|p| b64.decode(p).ok())
        .ok_or("no base64 payload")?;
    let signed = pae(payload_type, &body);
    let sigs = v["signatures"].as_array().ok_or("no signatures")?;
    let verifies = sigs.iter().any(|s| {
        s["sig"]
            .as_str()
            .and_then(|sig| b64.decode(sig).ok())
            .is_some_and(|sig| key.verifies(&signed, &sig))
    });
    if verifies {
        Ok(body)
    } else {
        Err("no signature of the envelope verifies with the key".into())
    }
}

/// One attestation: a layer of the `.att` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttLayer {
    pub digest: String,
    pub size: u64,
    pub predicate_type: String,
}

impl AttLayer {
    pub fn new(envelope: &[u8], predicate_type: &str) -> AttLayer {
        AttLayer {
            digest: crate::image::source::digest_of(envelope),
            size: envelope.len() as u64,
            predicate_type: predicate_type.into(),
        }
    }
}

/// The layers of an `.att` manifest.
pub fn layers_of(manifest: &[u8]) -> Vec<AttLayer> {
    let m: Value = serde_json::from_slice(manifest).unwrap_or_default();
    m["layers"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    Some(AttLayer {
                        digest: l["digest"].as_str()?.into(),
                        size: l["size"].as_u64()?,
                        predicate_type: l["annotations"]["predicateType"]
                            .as_str()
                            .unwrap_or_default()
                            .into(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `existing` with `new` added; an attestation of the same predicate type is replaced (a
/// re-run's provenance supersedes the last one).
pub fn merged(mut existing: Vec<AttLayer>, new: AttLayer) -> Vec<AttLayer> {
    existing.retain(|l| l.predicate_type != new.predicate_type);
    existing.push(new);
    existing
}

/// The `.att` manifest holding `layers`, and its config: `(manifest, config)`.
pub fn manifest(layers: &[AttLayer]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let config = json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}})
        .to_string()
        .into_bytes();
    let descriptors: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": ENVELOPE_MEDIA_TYPE, "size": l.size, "digest": l.digest, "annotations": {"predicateType": l.predicate_type}}))
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": super::simple_signing::OCI_MANIFEST,
        "config": {
            "mediaType": super::simple_signing::OCI_CONFIG,
            "size": config.len(),
            "digest": crate::image::source::digest_of(&config),
        },
        "layers": descriptors,
    })
    .to_string()
    .into_bytes();
    (manifest, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::keys::tests::{pair, sign};

    #[test]
    fn an_envelope_is_signed_over_its_pae_and_opens_only_with_its_key() {
        // The DSSE spec's own example of the encoding.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        let (kp, key) = pair();
        let (_, other) = pair();
        let body = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
        let env = envelope(
            IN_TOTO_PAYLOAD_TYPE,
            body,
            &sign(&kp, &pae(IN_TOTO_PAYLOAD_TYPE, body)),
        );
        assert_eq!(open(&env, &key).unwrap(), body.to_vec());
        assert!(open(&env, &other).is_err());
        // Signed over the body alone (not its PAE) does not open.
        let wrong = envelope(IN_TOTO_PAYLOAD_TYPE, body, &sign(&kp, body));
        assert!(open(&wrong, &key).is_err());
        assert_eq!(
            attestation_tag(&format!("sha256:{}", "a".repeat(64))),
            format!("sha256-{}.att", "a".repeat(64))
        );
    }

    #[test]
    fn the_att_manifest_holds_one_attestation_per_predicate_type() {
        let slsa = AttLayer::new(b"e1", "https://slsa.dev/provenance/v1");
        let again = AttLayer::new(b"e2", "https://slsa.dev/provenance/v1");
        let spdx = AttLayer::new(b"e3", "https://spdx.dev/Document");
        let layers = merged(merged(vec![slsa], spdx.clone()), again.clone());
        assert_eq!(layers, vec![spdx, again]);
        let (m, config) = manifest(&layers);
        assert_eq!(layers_of(&m), layers);
        let m: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["layers"][1]["mediaType"], ENVELOPE_MEDIA_TYPE);
        assert_eq!(
            m["layers"][1]["annotations"]["predicateType"],
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(m["config"]["size"], config.len());
    }
}

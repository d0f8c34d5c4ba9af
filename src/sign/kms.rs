//! AWS KMS for signing: the key references cosign writes (`awskms:///ARN-or-alias`), Sign and
//! GetPublicKey through the signed JSON client. The private key never leaves KMS.

use crate::aws::json::{CallError, Client, KMS};
use anyhow::Result;
use base64::Engine;
use serde_json::json;
use std::sync::Arc;

/// A KMS key as `--sign` and `--key` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// What KMS's KeyId takes: a key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// The region of an ARN; else the settings' region is used.
    pub region: Option<String>,
}

impl KeyRef {
    /// `awskms:///ID` (cosign's form; `awskms://HOST/ID` too, the host left to
    /// AWS_ENDPOINT_URL_KMS).
    pub fn parse(s: &str) -> Result<KeyRef, String> {
        let rest = s.strip_prefix("awskms://").ok_or_else(|| {
            format!("'{s}' is not a KMS key: write awskms:///<key ARN or alias/NAME>")
        })?;
        let key_id = rest.split_once('/').map_or("", |(_, id)| id).trim();
        let ok = key_id.starts_with("alias/")
            || key_id.starts_with("arn:aws")
            || (key_id.len() == 36 && key_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        if !ok {
            return Err(format!(
                "'{s}' names no KMS key: write awskms:///<key ARN, key id or alias/NAME>"
            ));
        }
        let region = key_id
            .strip_prefix("arn:")
            .and_then(|a| a.split(':').nth(2))
            .filter(|r| !r.is_empty())
            .map(String::from);
        Ok(KeyRef {
            key_id: key_id.to_string(),
            region,
        })
    }

    /// `awskms:///…`, as the user wrote it.
    pub fn display(&self) -> String {
        format!("awskms:///{}", self.key_id)
    }
}

/// KMS in one region.
pub struct Kms {
    client: Client,
}

/// What a failed KMS call means for the user.
fn explain(e: CallError, key: &KeyRef, action: &str) -> anyhow::Error {
    let what = format!("KMS {action} with {}", key.display());
    match &e {
        CallError::Api(a) if a.code == "AccessDeniedException" => anyhow::anyhow!(
            "{what}: {e}; the role needs kms:{action} on that key (`stevedore iam policy --signing-key ARN` renders the statement)"
        ),
        CallError::Api(a) if a.code == "NotFoundException" => anyhow::anyhow!(
            "{what}: no such key in this account and region ({}); check the ARN or alias",
            a.message.trim_end_matches('.')
        ),
        _ => e.into_anyhow(what),
    }
}

impl Kms {
    pub fn new(
        key: &KeyRef,
        default_region: &str,
        credentials: Arc<crate::aws::credentials::Refreshing>,
    ) -> Result<Kms> {
        let region = key.region.as_deref().unwrap_or(default_region);
        Ok(Kms {
            client: Client::new(&KMS, region, credentials)?,
        })
    }

    /// Sign `message` (RAW, ECDSA_SHA_256): the DER signature and the key's ARN.
    pub async fn sign(&self, key: &KeyRef, message: &[u8]) -> Result<(Vec<u8>, String)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let v = self
            .client
            .call(
                "Sign",
                &json!({"KeyId": key.key_id, "Message": b64.encode(message), "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"}),
            )
            .await
            .map_err(|e| explain(e, key, "Sign"))?;
        let sig = v["Signature"]
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .ok_or_else(|| anyhow::anyhow!("KMS Sign answered without a signature"))?;
        Ok((sig, v["KeyId"].as_str().unwrap_or(&key.key_id).to_string()))
    }

    /// Sign with `DryRun`: KMS answers DryRunOperationException when the caller may sign with
    /// the key, and signs nothing.
    pub async fn may_sign(&self, key: &KeyRef) -> Result<(), CallError> {
        let body = json!({"KeyId": key.key_id, "Message": "cHJvYmU=", "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256", "DryRun": true});
        match self.client.call("Sign", &body).await {
            Err(CallError::Api(e)) if e.code == "DryRunOperationException" => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    /// The key's public key (DER SubjectPublicKeyInfo) and ARN.
    pub async fn public_key(&self, key: &KeyRef) -> Result<(Vec<u8>, String)> {
        let v = self
            .client
            .call("GetPublicKey", &json!({"KeyId": key.key_id}))
            .await
            .map_err(|e| explain(e, key, "GetPublicKey"))?;
        let der = v["PublicKey"]
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or_else(|| anyhow::anyhow!("KMS GetPublicKey answered without a public key"))?;
        Ok((der, v["KeyId"].as_str().unwrap_or(&key.key_id).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_in_cosigns_form() {
        let arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let k = KeyRef::parse(&format!("awskms:///{arn}")).unwrap();
        assert_eq!(
            (k.key_id.as_str(), k.region.as_deref()),
            (arn, Some("eu-west-1"))
        );
        let k = KeyRef::parse("awskms://kms.example:443/alias/ci-signing").unwrap();
        assert_eq!(
            (k.key_id.as_str(), k.region.as_deref()),
            ("alias/ci-signing", None)
        );
        assert_eq!(k.display(), "awskms:///alias/ci-signing");
        assert!(KeyRef::parse("alias/ci")
            .unwrap_err()
            .contains("awskms:///"));
        assert!(KeyRef::parse("awskms:///").is_err());
        assert!(KeyRef::parse("awskms:///not a key").is_err());
    }
}

//! AWS KMS, the subset image signing needs: asymmetric ECC_NIST_P256 SIGN_VERIFY keys (CreateKey,
//! DescribeKey, CreateAlias, GetPublicKey, Sign, Verify), with the shapes, enums and error codes
//! of botocore's `kms/2014-11-01` model. Private keys never leave the sandbox, as in KMS.

use crate::awsjson::{AwsError, OpResult};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The DER header of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1), before the
/// 65-byte uncompressed point: what GetPublicKey answers.
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// One key: its metadata and its PKCS#8 private key.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub arn: String,
    pub account: String,
    pub description: String,
    pub created: f64,
    pkcs8: Vec<u8>,
}

impl Key {
    fn pair(&self) -> EcdsaKeyPair {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8)
            .expect("a key the sandbox generated parses")
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair().public_key().as_ref());
        der
    }

    fn metadata(&self) -> Value {
        json!({
            "AWSAccountId": self.account,
            "KeyId": self.id,
            "Arn": self.arn,
            "CreationDate": self.created,
            "Enabled": true,
            "Description": self.description,
            "KeyUsage": "SIGN_VERIFY",
            "KeyState": "Enabled",
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": "ECC_NIST_P256",
            "KeySpec": "ECC_NIST_P256",
            "SigningAlgorithms": ["ECDSA_SHA_256"],
            "MultiRegion": false,
        })
    }
}

/// Keys by ARN and aliases (`alias/…`, per region) naming a key ARN.
#[derive(Debug, Default)]
pub struct KmsState {
    pub keys: BTreeMap<String, Key>,
    /// `(region, alias/name)` → key ARN.
    pub aliases: BTreeMap<(String, String), String>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value, field: &str) -> Result<Vec<u8>, AwsError> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| AwsError::client("ValidationException", format!("{field} is required")))?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| AwsError::client("ValidationException", format!("{field} is not base64")))
}

fn not_found(key: &str) -> AwsError {
    AwsError::client("NotFoundException", format!("Key '{key}' does not exist"))
}

impl KmsState {
    /// The ARN of the key a KeyId names (key id, key ARN, alias name or alias ARN) in `region`.
    pub fn resolve(&self, region: &str, account: &str, key: &str) -> Result<String, AwsError> {
        let alias = key
            .strip_prefix(&format!("arn:aws:kms:{region}:{account}:"))
            .filter(|rest| rest.starts_with("alias/"))
            .unwrap_or(key);
        if alias.starts_with("alias/") {
            return self
                .aliases
                .get(&(region.to_string(), alias.to_string()))
                .cloned()
                .ok_or_else(|| {
                    AwsError::client("NotFoundException", format!("Alias {key} is not found."))
                });
        }
        let arn = if key.starts_with("arn:") {
            key.to_string()
        } else {
            format!("arn:aws:kms:{region}:{account}:key/{key}")
        };
        if self.keys.contains_key(&arn) {
            Ok(arn)
        } else {
            Err(not_found(key))
        }
    }

    /// The resource IAM evaluates a request against: the key's ARN (an alias is resolved first,
    /// as KMS authorizes the key, not the alias); `*` for CreateKey.
    pub fn resource(&self, region: &str, account: &str, op: &str, req: &Value) -> String {
        let named = match op {
            "CreateAlias" => req["TargetKeyId"].as_str(),
            _ => req["KeyId"].as_str(),
        };
        match named {
            Some(k) => self
                .resolve(region, account, k)
                .unwrap_or_else(|_| format!("arn:aws:kms:{region}:{account}:key/{k}")),
            None => "*".into(),
        }
    }
}

/// One KMS operation in `region`.
pub fn handle(
    kms: &mut KmsState,
    (region, account): (&str, &str),
    now: f64,
    op: &str,
    req: &Value,
) -> OpResult {
    match op {
        "CreateKey" => create_key(kms, (region, account), now, req),
        "CreateAlias" => {
            let name = req["AliasName"].as_str().unwrap_or_default();
            let valid = name.len() > 6
                && name.starts_with("alias/")
                && !name.starts_with("alias/aws/")
                && name[6..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
            if !valid {
                return Err(AwsError::client(
                    "InvalidAliasNameException",
                    format!("Alias name {name} must begin with 'alias/' followed by letters, digits, '/', '_' or '-', and not with 'alias/aws/'."),
                ));
            }
            let target = kms.resolve(
                region,
                account,
                req["TargetKeyId"].as_str().unwrap_or_default(),
            )?;
            let slot = (region.to_string(), name.to_string());
            if kms.aliases.contains_key(&slot) {
                return Err(AwsError::client(
                    "AlreadyExistsException",
                    format!("An alias with the name arn:aws:kms:{region}:{account}:{name} already exists"),
                ));
            }
            kms.aliases.insert(slot, target);
            Ok(json!({}))
        }
        "DescribeKey" => {
            let key = key_of(kms, (region, account), req)?;
            Ok(json!({"KeyMetadata": key.metadata()}))
        }
        "GetPublicKey" => {
            let key = key_of(kms, (region, account), req)?;
            Ok(json!({
                "KeyId": key.arn,
                "PublicKey": b64(&key.public_key_der()),
                "CustomerMasterKeySpec": "ECC_NIST_P256",
                "KeySpec": "ECC_NIST_P256",
                "KeyUsage": "SIGN_VERIFY",
                "SigningAlgorithms": ["ECDSA_SHA_256"],
            }))
        }
        "Sign" => sign(kms, (region, account), req),
        "Verify" => verify(kms, (region, account), req),
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The sandbox does not implement KMS {other}"),
        )),
    }
}

fn key_of<'a>(kms: &'a KmsState, at: (&str, &str), req: &Value) -> Result<&'a Key, AwsError> {
    let named = req["KeyId"]
        .as_str()
        .ok_or_else(|| AwsError::client("ValidationException", "KeyId is required"))?;
    let arn = kms.resolve(at.0, at.1, named)?;
    Ok(&kms.keys[&arn])
}

fn create_key(
    kms: &mut KmsState,
    (region, account): (&str, &str),
    now: f64,
    req: &Value,
) -> OpResult {
    let spec = req["KeySpec"]
        .as_str()
        .or(req["CustomerMasterKeySpec"].as_str())
        .unwrap_or("SYMMETRIC_DEFAULT");
    let usage = req["KeyUsage"].as_str().unwrap_or("ENCRYPT_DECRYPT");
    if (spec, usage) != ("ECC_NIST_P256", "SIGN_VERIFY") {
        return Err(AwsError::client(
            "UnsupportedOperationException",
            format!(
                "The sandbox's KMS makes only ECC_NIST_P256 SIGN_VERIFY keys, not {spec} {usage}"
            ),
        ));
    }
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| AwsError::new(500, "KMSInternalException", "key generation failed"))?;
    let id = uuid();
    let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
    let key = Key {
        id,
        arn: arn.clone(),
        account: account.to_string(),
        description: req["Description"].as_str().unwrap_or_default().to_string(),
        created: now,
        pkcs8: pkcs8.as_ref().to_vec(),
    };
    let metadata = key.metadata();
    kms.keys.insert(arn, key);
    Ok(json!({"KeyMetadata": metadata}))
}

/// A random key id in KMS's form (a UUID).
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The message and its form, checked as KMS checks them: RAW up to 4096 bytes, DIGEST exactly
/// the algorithm's digest length; ECDSA_SHA_256 is the only algorithm a P-256 key has.
fn message(req: &Value) -> Result<(Vec<u8>, bool), AwsError> {
    let algorithm = req["SigningAlgorithm"].as_str().unwrap_or_default();
    if algorithm != "ECDSA_SHA_256" {
        return Err(AwsError::client(
            "InvalidKeyUsageException",
            format!("{algorithm} is not a valid signing algorithm for ECC_NIST_P256 keys (ECDSA_SHA_256)"),
        ));
    }
    let message = unb64(req, "Message")?;
    let digest = match req["MessageType"].as_str().unwrap_or("RAW") {
        "RAW" => false,
        "DIGEST" => true,
        other => {
            return Err(AwsError::client(
                "ValidationException",
                format!("1 validation error detected: Value '{other}' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"),
            ))
        }
    };
    if digest && message.len() != 32 {
        return Err(AwsError::client(
            "ValidationException",
            "Digest is invalid length for algorithm ECDSA_SHA_256.",
        ));
    }
    if message.is_empty() || message.len() > 4096 {
        return Err(AwsError::client(
            "ValidationException",
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and 4096",
        ));
    }
    Ok((message, digest))
}

/// KMS's answer to a request that would have succeeded with `DryRun` set.
fn dry_run(req: &Value) -> Result<(), AwsError> {
    if req["DryRun"] == true {
        return Err(AwsError::client(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn sign(kms: &KmsState, at: (&str, &str), req: &Value) -> OpResult {
    let key = key_of(kms, at, req)?;
    let (message, digest) = message(req)?;
    dry_run(req)?;
    let pair = key.pair();
    let signature = if digest {
        let d = aws_lc_rs::digest::Digest::import_less_safe(&message, &aws_lc_rs::digest::SHA256)
            .map_err(|_| AwsError::client("ValidationException", "Digest is invalid"))?;
        pair.sign_digest(&d)
    } else {
        pair.sign(&aws_lc_rs::rand::SystemRandom::new(), &message)
    }
    .map_err(|_| AwsError::new(500, "KMSInternalException", "signing failed"))?;
    Ok(json!({
        "KeyId": key.arn,
        "Signature": b64(signature.as_ref()),
        "SigningAlgorithm": "ECDSA_SHA_256",
    }))
}

fn verify(kms: &KmsState, at: (&str, &str), req: &Value) -> OpResult {
    let key = key_of(kms, at, req)?;
    let (message, digest) = message(req)?;
    let signature = unb64(req, "Signature")?;
    dry_run(req)?;
    let point = key.pair().public_key().as_ref().to_vec();
    let valid = if digest {
        let d = aws_lc_rs::digest::Digest::import_less_safe(&message, &aws_lc_rs::digest::SHA256)
            .map_err(|_| AwsError::client("ValidationException", "Digest is invalid"))?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
            .verify_digest(&d, &signature)
            .is_ok()
    } else {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
            .verify(&message, &signature)
            .is_ok()
    };
    if !valid {
        return Err(AwsError::client(
            "KMSInvalidSignatureException",
            "The signature verification failed.",
        ));
    }
    Ok(json!({"KeyId": key.arn, "SignatureValid": true, "SigningAlgorithm": "ECDSA_SHA_256"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: (&str, &str) = ("us-east-1", "123456789012");

    fn err(r: OpResult) -> String {
        r.unwrap_err().code
    }

    fn call(kms: &mut KmsState, op: &str, req: Value) -> OpResult {
        handle(kms, AT, 1.0, op, &req)
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn unb64(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    /// A state with one P-256 key aliased `alias/ci`: `(state, key id, key ARN)`.
    fn with_key() -> (KmsState, String, String) {
        let mut kms = KmsState::default();
        let k = call(
            &mut kms,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        let arn = k["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        call(
            &mut kms,
            "CreateAlias",
            json!({"AliasName": "alias/ci", "TargetKeyId": id}),
        )
        .unwrap();
        (kms, id, arn)
    }

    #[test]
    fn keys_are_found_by_id_arn_alias_and_alias_arn_in_their_region() {
        let mut kms = KmsState::default();
        assert_eq!(
            err(call(&mut kms, "CreateKey", json!({}))),
            "UnsupportedOperationException"
        );
        let (mut kms, id, arn) = with_key();
        let again = json!({"AliasName": "alias/ci", "TargetKeyId": id});
        assert_eq!(
            err(call(&mut kms, "CreateAlias", again)),
            "AlreadyExistsException"
        );
        let reserved = json!({"AliasName": "alias/aws/x", "TargetKeyId": id});
        assert_eq!(
            err(call(&mut kms, "CreateAlias", reserved)),
            "InvalidAliasNameException"
        );
        let alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/ci";
        for name in [id.as_str(), arn.as_str(), "alias/ci", alias_arn] {
            assert_eq!(kms.resolve(AT.0, AT.1, name).unwrap(), arn, "{name}");
        }
        assert!(
            kms.resolve("eu-west-1", AT.1, "alias/ci").is_err(),
            "aliases are regional"
        );
        let sign = json!({"KeyId": "alias/ci"});
        assert_eq!(
            kms.resource(AT.0, AT.1, "Sign", &sign),
            arn,
            "IAM sees the key"
        );
        let described = call(&mut kms, "DescribeKey", json!({"KeyId": "alias/ci"})).unwrap();
        assert_eq!(described["KeyMetadata"]["KeySpec"], "ECC_NIST_P256");
    }

    #[test]
    fn sign_and_verify_check_what_kms_checks_and_the_public_key_verifies() {
        let (mut kms, id, arn) = with_key();
        let sign = |kms: &mut KmsState, extra: Value| {
            let mut req = json!({"KeyId": "alias/ci", "Message": b64(b"payload"), "SigningAlgorithm": "ECDSA_SHA_256"});
            for (k, v) in extra.as_object().unwrap() {
                req[k] = v.clone();
            }
            call(kms, "Sign", req)
        };
        let signed = sign(&mut kms, json!({})).unwrap();
        assert_eq!(signed["KeyId"], arn.as_str());
        let der = unb64(
            &call(&mut kms, "GetPublicKey", json!({"KeyId": "alias/ci"})).unwrap()["PublicKey"],
        );
        let sig = unb64(&signed["Signature"]);
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der[P256_SPKI_PREFIX.len()..]);
        assert!(key.verify(b"payload", &sig).is_ok());
        assert!(key.verify(b"payloaD", &sig).is_err());
        let verify = |kms: &mut KmsState, message: &[u8]| {
            let req = json!({"KeyId": id, "Message": b64(message), "Signature": b64(&sig), "SigningAlgorithm": "ECDSA_SHA_256"});
            call(kms, "Verify", req)
        };
        assert_eq!(
            verify(&mut kms, b"payload").unwrap()["SignatureValid"],
            true
        );
        assert_eq!(
            err(verify(&mut kms, b"other")),
            "KMSInvalidSignatureException"
        );
        // A digest, as cosign sends one, verifies as the message it is the hash of.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"payload");
        let by_digest = json!({"Message": b64(digest.as_ref()), "MessageType": "DIGEST"});
        let sig2 = unb64(&sign(&mut kms, by_digest).unwrap()["Signature"]);
        assert!(key.verify(b"payload", &sig2).is_ok());
        assert_eq!(
            err(sign(&mut kms, json!({"MessageType": "DIGEST"}))),
            "ValidationException"
        );
        let rsa = json!({"SigningAlgorithm": "RSASSA_PSS_SHA_256"});
        assert_eq!(err(sign(&mut kms, rsa)), "InvalidKeyUsageException");
        assert_eq!(
            err(sign(&mut kms, json!({"DryRun": true}))),
            "DryRunOperationException"
        );
        assert_eq!(
            err(sign(&mut kms, json!({"KeyId": "alias/nope"}))),
            "NotFoundException"
        );
    }
}

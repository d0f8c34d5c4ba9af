//! Public keys that check signatures: ECDSA P-256 (what cosign and an ECC_NIST_P256 KMS key sign
//! with) as the DER SubjectPublicKeyInfo KMS GetPublicKey answers, or as a PEM file.

use base64::Engine;

/// The DER header of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1) before the
/// 65-byte uncompressed point: a P-256 key in any other encoding is not one this reads.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An ECDSA P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The uncompressed point (0x04 ‖ X ‖ Y).
    point: Vec<u8>,
}

impl PublicKey {
    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let point = der
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .filter(|p| p.len() == 65 && p[0] == 4)
            .ok_or("not an ECDSA P-256 public key (SubjectPublicKeyInfo of prime256v1)")?;
        Ok(PublicKey {
            point: point.to_vec(),
        })
    }

    /// From a PEM `PUBLIC KEY` block (`cosign public-key`, `openssl ec -pubout`).
    pub fn from_pem(text: &str) -> Result<PublicKey, String> {
        let body: String = text
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PUBLIC KEY-----")
            .skip(1)
            .take_while(|l| *l != "-----END PUBLIC KEY-----")
            .collect();
        if body.is_empty() {
            return Err("no -----BEGIN PUBLIC KEY----- block".into());
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| "the PUBLIC KEY block is not base64".to_string())?;
        PublicKey::from_spki_der(&der)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.point);
        der
    }

    /// Whether `signature` (ASN.1 DER, as KMS and cosign write it) is this key's over `message`
    /// (ECDSA with SHA-256).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &self.point,
        )
        .verify(message, signature)
        .is_ok()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    /// A fresh P-256 key pair: the signer and its public key.
    pub(crate) fn pair() -> (EcdsaKeyPair, PublicKey) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let key = PublicKey {
            point: kp.public_key().as_ref().to_vec(),
        };
        (kp, key)
    }

    pub(crate) fn sign(kp: &EcdsaKeyPair, message: &[u8]) -> Vec<u8> {
        kp.sign(&ring::rand::SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn a_key_reads_from_der_and_pem_and_checks_only_its_own_signatures() {
        let (kp, key) = pair();
        let (_, other) = pair();
        let der = key.spki_der();
        assert_eq!(PublicKey::from_spki_der(&der).unwrap(), key);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), key);
        let sig = sign(&kp, b"payload");
        assert!(key.verifies(b"payload", &sig));
        assert!(!key.verifies(b"payload!", &sig));
        assert!(!other.verifies(b"payload", &sig));
        assert!(PublicKey::from_pem("nothing").is_err());
        assert!(PublicKey::from_spki_der(&der[1..]).is_err());
    }
}

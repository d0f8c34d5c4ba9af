//! The sandbox's OIDC issuer: an RSA key, tokens shaped like CircleCI's, and RS256 verification.

use anyhow::{Context, Result};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;
use std::path::Path;

/// The key id in token headers.
pub const KID: &str = "stevedore-sandbox-1";

/// An RS256 signing key, persisted so `stevedore-sandbox token` and `up` agree.
pub struct Issuer {
    key: KeyPair,
}

impl Issuer {
    /// Load `<dir>/oidc-key.pk8`, or create it.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join("oidc-key.pk8");
        if let Ok(der) = std::fs::read(&path) {
            let key = KeyPair::from_pkcs8(&der)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            return Ok(Issuer { key });
        }
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        use aws_lc_rs::encoding::AsDer;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)
            .map_err(|_| anyhow::anyhow!("encoding the key"))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, der.as_ref())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Issuer { key })
    }

    /// Sign claims into a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(format!("{input}.{}", B64.encode(sig)))
    }

    /// Verify a token's RS256 signature; return its claims. Expiry and audience are the caller's.
    pub fn verify(&self, token: &str) -> Result<Value, String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err("the token is not a JWT".into());
        }
        let header: Value = B64
            .decode(parts[0])
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the token header is not base64url JSON")?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("the token is not signed with RS256".into());
        }
        let sig = B64
            .decode(parts[2])
            .map_err(|_| "the token signature is not base64url")?;
        let public = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key.public_key().as_ref(),
        );
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .map_err(|_| "the token signature could not be verified with the issuer's keys")?;
        B64.decode(parts[1])
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| "the token payload is not base64url JSON".to_string())
    }
}

/// Claims shaped like CircleCI's: iss `https://oidc.circleci.com/org/<org>`, aud, sub, and the
/// `oidc.circleci.com/*` extras.
pub fn circleci_claims(org: &str, aud: &str, sub: &str, now: u64, ttl: i64) -> Value {
    let project = sub.split('/').nth(3).unwrap_or_default();
    let mut claims = serde_json::json!({
        "iss": format!("https://oidc.circleci.com/org/{org}"),
        "aud": aud,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": (now as i64 + ttl).max(0),
        "oidc.circleci.com/project-id": project,
        "oidc.circleci.com/context-ids": [],
    });
    let parts: Vec<&str> = sub.split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "vcs-origin") {
        if let Some(j) = parts.iter().position(|p| *p == "vcs-ref") {
            claims["oidc.circleci.com/vcs-origin"] = Value::String(parts[i + 1..j].join("/"));
            claims["oidc.circleci.com/vcs-ref"] = Value::String(parts[j + 1..].join("/"));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::load_or_create(dir.path()).unwrap();
        let claims = circleci_claims(
            "o1",
            "o1",
            "org/o1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main",
            1000,
            3600,
        );
        assert_eq!(claims["oidc.circleci.com/vcs-origin"], "github.com/a/b");
        assert_eq!(claims["oidc.circleci.com/vcs-ref"], "refs/heads/main");
        assert_eq!(claims["oidc.circleci.com/project-id"], "p1");
        let token = issuer.sign(&claims).unwrap();
        assert_eq!(issuer.verify(&token).unwrap()["sub"], claims["sub"]);
        // The same key is loaded again from the directory.
        let again = Issuer::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token).is_ok());
        // A changed payload fails verification.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(r#"{"sub":"org/o1/project/evil"}"#),
            parts[2]
        );
        assert!(issuer
            .verify(&forged)
            .unwrap_err()
            .contains("could not be verified"));
        // Another issuer's token fails too.
        let other = Issuer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(issuer.verify(&other.sign(&claims).unwrap()).is_err());
    }
}

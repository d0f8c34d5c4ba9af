//! The AWS SDK's configuration, as every SDK client in stevedore is built from it.

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use stevedore_base::config::env_var;
use stevedore_base::error::usage_error;

/// The configurations loaded so far in this process, by region and whether anonymous.
type Loaded = Vec<((Option<String>, bool), SdkConfig)>;
static LOADED: std::sync::Mutex<Loaded> = std::sync::Mutex::new(Vec::new());

/// The SDK configuration: the SDK's own environment and profiles (`AWS_PROFILE`,
/// `AWS_ENDPOINT_URL[_<SERVICE>]`, `AWS_MAX_ATTEMPTS`, access keys), with our region and our
/// HTTPS client, which also trusts the PEM file `AWS_CA_BUNDLE` names, if any.
///
/// Loaded once per region (and anonymity) for the process and shared, as the SDK advises: the
/// profile files are read and the TLS roots loaded once, and clients share one connection pool.
/// (The credential chain is shared too; it reads the environment each time it is asked.)
pub async fn sdk_config(region: Option<&str>, anonymous: bool) -> Result<SdkConfig> {
    let key = (region.map(String::from), anonymous);
    let cached = |loaded: &Loaded| {
        loaded
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c.clone())
    };
    if let Some(c) = cached(&LOADED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(c);
    }
    let conf = load(region, anonymous).await?;
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    // Another task may have loaded it meanwhile: keep the first, so all share one.
    if let Some(c) = cached(&loaded) {
        return Ok(c);
    }
    loaded.push((key, conf.clone()));
    Ok(conf)
}

async fn load(region: Option<&str>, anonymous: bool) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if anonymous {
        // AssumeRoleWithWebIdentity is unsigned; skipping the credential chain also skips
        // the instance-metadata probe, which costs seconds off EC2.
        loader = loader.no_credentials();
    }
    let bundle = env_var("AWS_CA_BUNDLE");
    Ok(loader
        .http_client(https_client(bundle.as_deref())?)
        .load()
        .await)
}

/// The SDK's HTTPS client on rustls with *ring*, the one crypto provider in the binary (reqwest
/// uses it too; the SDK's default client would link aws-lc as a second one): the system's roots,
/// plus the certificates of `bundle` when given.
fn https_client(
    bundle: Option<&str>,
) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_http_client::tls;
    let mut trust = tls::TrustStore::empty().with_native_roots(true);
    if let Some(path) = bundle {
        let pem = std::fs::read(path).map_err(|e| usage_error(format!("AWS_CA_BUNDLE: cannot read {path}: {e}; point it at a PEM file of CA certificates or unset it")))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(usage_error(format!("AWS_CA_BUNDLE: {path} holds no PEM certificate; point it at a PEM file of CA certificates or unset it")));
        }
        trust = trust.with_pem_certificate(pem);
    }
    let ctx = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("building the TLS context")?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(ctx)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_region_is_loaded_once_and_shared() {
        // A region no other test asks for, so the count is this test's own.
        let a = sdk_config(Some("xx-test-1"), true).await.unwrap();
        let b = sdk_config(Some("xx-test-1"), true).await.unwrap();
        assert_eq!(a.region(), b.region());
        let loaded = LOADED.lock().unwrap();
        let key = (Some("xx-test-1".to_string()), true);
        assert_eq!(loaded.iter().filter(|(k, _)| *k == key).count(), 1);
    }
}

//! The AWS SDK's configuration, as every SDK client in stevedore is built from it.

use crate::config::env_var;
use crate::error::usage;
use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Load the SDK configuration: the SDK's own environment and profiles (`AWS_PROFILE`,
/// `AWS_ENDPOINT_URL[_<SERVICE>]`, `AWS_MAX_ATTEMPTS`, access keys), with our region and our
/// HTTPS client, which also trusts the PEM file `AWS_CA_BUNDLE` names, if any.
pub async fn sdk_config(region: Option<&str>, anonymous: bool) -> Result<SdkConfig> {
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
        let pem = std::fs::read(path).map_err(|e| usage!("AWS_CA_BUNDLE: cannot read {path}: {e}; point it at a PEM file of CA certificates or unset it"))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(usage!("AWS_CA_BUNDLE: {path} holds no PEM certificate; point it at a PEM file of CA certificates or unset it"));
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

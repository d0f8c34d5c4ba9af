//! The sandbox's certificates: a CA, and a leaf for localhost and 127.0.0.1 that the registry
//! fronts and the AWS endpoint serve.

use anyhow::Result;
use std::path::{Path, PathBuf};

/// A CA and a leaf certificate for localhost and 127.0.0.1, as PEM files in `dir`.
pub struct Tls {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// Generate the CA and leaf once per directory (rustls refuses a self-signed CA certificate as a
/// server certificate, hence two: the leaf has CA:FALSE and serverAuth).
pub fn ensure_tls(dir: &Path) -> Result<Tls> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let tls = Tls {
        ca_pem: dir.join("ca.pem"),
        cert_pem: dir.join("registry.pem"),
        key_pem: dir.join("registry-key.pem"),
    };
    if tls.ca_pem.exists() && tls.cert_pem.exists() && tls.key_pem.exists() {
        return Ok(tls);
    }
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "stevedore-sandbox CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;
    std::fs::write(&tls.ca_pem, ca_cert.pem())?;
    std::fs::write(&tls.cert_pem, leaf_cert.pem())?;
    std::fs::write(&tls.key_pem, leaf_key.serialize_pem())?;
    Ok(tls)
}

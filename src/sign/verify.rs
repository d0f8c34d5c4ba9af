//! `stevedore verify`, and what `deploy --require-signature` runs before it registers anything:
//! the image's digest, its cosign signatures under `sha256-<hex>.sig`, each checked against the
//! key (a KMS key's public key from GetPublicKey, or a PEM file), and optionally the provenance
//! attestation that refers to it.

use super::keys::PublicKey;
use super::kms::{KeyRef, Kms};
use super::simple_signing::{self, Expected, SignatureError};
use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::error::usage;
use crate::image::reference::ImageRef;
use crate::image::registry::Registry;
use anyhow::{Context, Result};
use std::sync::Arc;

/// The largest payload read: a simple-signing payload is a few hundred bytes.
const MAX_PAYLOAD: u64 = 64 << 10;
/// The largest attestation read.
const MAX_ATTESTATION: u64 = 16 << 20;

/// The key signatures are checked against.
pub struct Verifier {
    key: PublicKey,
    /// As the user named it.
    name: String,
    /// The KMS key's ARN, when it is one.
    arn: Option<String>,
}

impl Verifier {
    /// Read the key `spec` (`awskms:///…` or a PEM file) named by `flag`.
    pub async fn load(spec: &str, region: &str, flag: &str) -> Result<Verifier> {
        if spec.starts_with("awskms://") {
            let key = KeyRef::parse(spec).map_err(|e| usage!("{flag}: {e}"))?;
            let credentials = crate::auth::credentials(region, None).await?;
            let (der, arn) = Kms::new(&key, region, credentials)?
                .public_key(&key)
                .await?;
            let public = PublicKey::from_spki_der(&der)
                .map_err(|e| usage!("{flag} {spec}: {e}; signatures are ECC_NIST_P256 keys"))?;
            return Ok(Verifier {
                key: public,
                name: key.display(),
                arn: Some(arn),
            });
        }
        let text = std::fs::read_to_string(spec).map_err(|e| {
            usage!("{flag} {spec}: cannot read it ({e}); give awskms:///<key ARN or alias> or a PEM public key file")
        })?;
        let key = PublicKey::from_pem(&text).map_err(|e| usage!("{flag} {spec}: {e}"))?;
        Ok(Verifier {
            key,
            name: spec.to_string(),
            arn: None,
        })
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            key: &self.key,
            name: &self.name,
            arn: self.arn.as_deref(),
        }
    }
}

/// An image's registry, its repository path there, and its digest (its tag resolved).
pub struct Located {
    pub reg: Arc<Registry>,
    pub path: String,
    pub digest: String,
    /// `host/path`.
    pub name: String,
}

/// Find `image` in this account's ECR or in ECR Public.
pub async fn locate(image: &str, region: &str) -> Result<Located> {
    let r = ImageRef::parse(image).map_err(|e| usage!("{e}"))?;
    let host = r.registry.clone().ok_or_else(|| {
        usage!("{image} is not in ECR: only images in ECR or ECR Public can be verified")
    })?;
    let public = host == crate::config::public_registry_host();
    let region = if public {
        crate::config::ECR_PUBLIC_REGION
    } else {
        region
    };
    let (reg, ecr_host) = crate::image::repository::open_registry(public, region).await?;
    if ecr_host != host {
        return Err(usage!(
            "{image} is not in this account's ECR ({ecr_host}) or ECR Public: only those can be verified"
        ));
    }
    let digest = match &r.digest {
        Some(d) => d.clone(),
        None => {
            let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
            reg.manifest_digest(&r.repository, &tag)
                .await?
                .ok_or_else(|| usage!("{image}: no such tag in {}", r.name()))?
        }
    };
    Ok(Located {
        reg,
        path: r.repository.clone(),
        digest,
        name: r.name(),
    })
}

/// Check the signatures of the manifest `digest` in `path`: the signer's ARN (when the
/// signature names it) and the tag, or why none vouches for it.
pub async fn check_signatures(
    reg: &Registry,
    path: &str,
    digest: &str,
    v: &Verifier,
) -> Result<Result<(Option<String>, String), SignatureError>> {
    let tag = simple_signing::signature_tag(digest);
    let manifest = match reg.find_manifest(path, &tag).await? {
        Ok(m) => m,
        Err(_) => return Ok(Err(SignatureError::Missing { tag })),
    };
    let layers = match simple_signing::layers_of(&manifest.bytes) {
        Ok(l) => l,
        Err(e) => return Ok(Err(SignatureError::Malformed(e))),
    };
    let mut results = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let r = match reg
            .small_blob(path, &layer.payload_digest, MAX_PAYLOAD)
            .await
        {
            Ok(payload) => {
                simple_signing::check(layer, &payload, digest, &v.expected()).map(|()| i)
            }
            Err(e) => Err(SignatureError::Malformed(format!(
                "payload {}: {e:#}",
                layer.payload_digest
            ))),
        };
        results.push(r);
    }
    Ok(simple_signing::best(results, &tag).map(|i| (layers[i].key.clone(), tag)))
}

/// What the provenance must say, when asked.
#[derive(Debug, Default, Clone)]
pub struct ProvenanceRules {
    pub repository: Option<String>,
    pub branch: Option<String>,
}

/// Find a provenance attestation of `digest`, signed by the key, that names the repository and
/// branch asked for; the commit it names.
async fn check_provenance(loc: &Located, v: &Verifier, rules: &ProvenanceRules) -> Result<String> {
    use crate::attest::documents;
    let (found, how) =
        crate::attest::list(&loc.reg, &loc.path, &loc.digest, Some(documents::IN_TOTO)).await?;
    let mut seen = Vec::new();
    for r in &found {
        let m = loc.reg.get_manifest(&loc.path, &r.digest).await?;
        let manifest: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap_or_default();
        let Some(blob) = manifest["layers"][0]["digest"].as_str() else {
            continue;
        };
        let statement: serde_json::Value =
            serde_json::from_slice(&loc.reg.small_blob(&loc.path, blob, MAX_ATTESTATION).await?)
                .unwrap_or_default();
        if statement["predicateType"] != documents::SLSA_PROVENANCE_V1 {
            continue;
        }
        let claims = documents::provenance_claims(&statement);
        let signed = check_signatures(&loc.reg, &loc.path, &r.digest, v).await?;
        let problem = provenance_problem(&claims, &loc.digest, signed.err(), rules);
        let commit = claims.3;
        match problem {
            None => return Ok(commit),
            Some(p) => seen.push(format!(
                "{} ({p})",
                crate::image::registry::short(&r.digest)
            )),
        }
    }
    if seen.is_empty() {
        anyhow::bail!(
            "no SLSA provenance refers to {} (looked through {how})",
            loc.digest
        )
    }
    anyhow::bail!(
        "no provenance of {} qualifies: {}; wanted {}",
        loc.digest,
        seen.join("; "),
        rules_text(rules)
    )
}

/// Why a provenance statement with these `claims` (subject, repository, ref, commit) does not
/// qualify for the image `digest` under `rules`, its signature's failure given; `None` when it
/// does.
fn provenance_problem(
    (subject, repository, git_ref, _): &(String, String, String, String),
    digest: &str,
    signature: Option<SignatureError>,
    rules: &ProvenanceRules,
) -> Option<String> {
    let other_repository = rules.repository.as_ref().is_some_and(|r| r != repository);
    let other_branch = rules
        .branch
        .as_ref()
        .is_some_and(|b| *git_ref != format!("refs/heads/{b}"));
    if subject != digest {
        Some(format!("its subject is {subject}"))
    } else if let Some(e) = signature {
        Some(format!("its signature: {e}"))
    } else if other_repository {
        Some(format!("it names the repository {repository}"))
    } else if other_branch && git_ref.is_empty() {
        Some("it names no branch".into())
    } else if other_branch {
        Some(format!("it names {git_ref}"))
    } else {
        None
    }
}

/// What the rules ask for: `repository R and branch B` (empty without rules).
fn rules_text(rules: &ProvenanceRules) -> String {
    let mut want = Vec::new();
    if let Some(r) = &rules.repository {
        want.push(format!("repository {r}"));
    }
    if let Some(b) = &rules.branch {
        want.push(format!("branch {b}"));
    }
    want.join(" and ")
}

/// Verify `image`: its digest when its signature (and provenance, when asked) holds.
pub async fn verify(
    image: &str,
    v: &Verifier,
    region: &str,
    rules: &ProvenanceRules,
) -> Result<String> {
    let loc = locate(image, region).await?;
    let (_, tag) = check_signatures(&loc.reg, &loc.path, &loc.digest, v)
        .await?
        .map_err(|e| anyhow::anyhow!("{image} ({}): {e}", loc.digest))?;
    // The key whose public key verified the signature, never the annotation beside it: that
    // is unsigned, and anyone who can push a tag can write it.
    let by = match &v.arn {
        Some(arn) if *arn != v.name && !v.name.ends_with(arn.as_str()) => {
            format!("{} ({arn})", v.name)
        }
        _ => v.name.clone(),
    };
    println!(
        "verified {}@{}: signed by {by} ({tag})",
        loc.name, loc.digest
    );
    if rules.repository.is_some() || rules.branch.is_some() {
        let commit = check_provenance(&loc, v, rules)
            .await
            .with_context(|| format!("{image}: provenance"))?;
        println!(
            "provenance of {}: built from commit {commit}, {}",
            loc.digest,
            rules_text(rules)
        );
    }
    Ok(loc.digest)
}

/// `stevedore verify`.
pub async fn run(settings: &Settings, a: VerifyArgs) -> Result<()> {
    let rules = ProvenanceRules {
        repository: a.provenance_repository.clone(),
        branch: a.provenance_branch.clone(),
    };
    let region = settings.require_region()?.to_string();
    let v = Verifier::load(&a.key, &region, "--key (STEVEDORE_VERIFY_KEY)").await?;
    verify(&a.image, &v, &region, &rules).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provenance_qualifies_only_for_its_image_signed_and_naming_what_is_asked() {
        let d = format!("sha256:{}", "a".repeat(64));
        let claims = |subject: &str, repo: &str, git_ref: &str| {
            (
                subject.to_string(),
                repo.to_string(),
                git_ref.to_string(),
                "c0ffee".to_string(),
            )
        };
        let rules = ProvenanceRules {
            repository: Some("git@github.com:acme/app.git".into()),
            branch: Some("main".into()),
        };
        let good = claims(&d, "git@github.com:acme/app.git", "refs/heads/main");
        assert_eq!(provenance_problem(&good, &d, None, &rules), None);
        let other = claims("sha256:b", "git@github.com:acme/app.git", "refs/heads/main");
        assert_eq!(
            provenance_problem(&other, &d, None, &rules).unwrap(),
            "its subject is sha256:b"
        );
        let unsigned = Some(SignatureError::Missing { tag: "t".into() });
        assert!(provenance_problem(&good, &d, unsigned, &rules)
            .unwrap()
            .starts_with("its signature: no signature"));
        let fork = claims(&d, "git@github.com:evil/app.git", "refs/heads/main");
        assert_eq!(
            provenance_problem(&fork, &d, None, &rules).unwrap(),
            "it names the repository git@github.com:evil/app.git"
        );
        let tagged = claims(&d, "git@github.com:acme/app.git", "refs/tags/v1");
        assert_eq!(
            provenance_problem(&tagged, &d, None, &rules).unwrap(),
            "it names refs/tags/v1"
        );
        let bare = claims(&d, "git@github.com:acme/app.git", "");
        assert_eq!(
            provenance_problem(&bare, &d, None, &rules).unwrap(),
            "it names no branch"
        );
        assert_eq!(
            rules_text(&rules),
            "repository git@github.com:acme/app.git and branch main"
        );
        assert_eq!(
            provenance_problem(&bare, &d, None, &ProvenanceRules::default()),
            None
        );
    }
}

//! `--require-signature` as one rule for every command that runs an image (`deploy`, `run-task`,
//! `schedule`): each container image of the revision that will run, whatever made it (flags, a
//! file, a template, a promoted revision, the current one), is verified against the key and
//! pinned to the verified digest before anything is registered or updated. An image outside the
//! registries stevedore can verify (this account's ECR, ECR Public) is refused unless it starts
//! with a prefix given to `--allow-unsigned`.

use super::verify::{verify, ProvenanceRules, Verifier};
use crate::error::usage;
use crate::image::reference::ImageRef;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::HashMap;

/// The key every image must be signed by, and the prefixes exempted from it.
pub struct Required {
    verifier: Verifier,
    region: String,
    allow_unsigned: Vec<String>,
    /// Images verified in this run, to their pinned form: several services (or a task and its
    /// revision) that run one image verify it once.
    verified: tokio::sync::Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Required {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Required")
            .field("region", &self.region)
            .field("allow_unsigned", &self.allow_unsigned)
            .finish_non_exhaustive()
    }
}

/// Whether `image` is exempted by one of `prefixes` (`--allow-unsigned`). Pure.
pub fn exempt(image: &str, prefixes: &[String]) -> bool {
    prefixes
        .iter()
        .map(|p| p.trim())
        .any(|p| !p.is_empty() && image.starts_with(p))
}

impl Required {
    /// The rule of `--require-signature KEY` (`None` when no signature is required) with the
    /// exemptions of `--allow-unsigned`.
    pub async fn load(
        key: Option<&str>,
        allow_unsigned: &[String],
        region: &str,
    ) -> Result<Option<Required>> {
        let flag = "--require-signature (STEVEDORE_REQUIRE_SIGNATURE)";
        let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
            if let Some(p) = allow_unsigned.iter().find(|p| !p.trim().is_empty()) {
                return Err(usage!(
                    "--allow-unsigned {p}: it exempts images from --require-signature, which is not set; drop it or require a signature"
                ));
            }
            return Ok(None);
        };
        Ok(Some(Required {
            verifier: Verifier::load(key, region, flag).await?,
            region: region.to_string(),
            allow_unsigned: allow_unsigned.to_vec(),
            verified: Default::default(),
        }))
    }

    /// `image` verified and pinned (`host/path@sha256:…`), or as it is when exempted.
    pub async fn image(&self, image: &str) -> Result<String> {
        if exempt(image, &self.allow_unsigned) {
            println!("not verified: {image} (--allow-unsigned)");
            return Ok(image.to_string());
        }
        if let Some(done) = self.verified.lock().await.get(image) {
            return Ok(done.clone());
        }
        let digest = verify(
            image,
            &self.verifier,
            &self.region,
            &ProvenanceRules::default(),
        )
        .await?;
        let r = ImageRef::parse(image).map_err(|e| usage!("{e}"))?;
        let pinned = format!("{}@{digest}", r.name());
        self.verified
            .lock()
            .await
            .insert(image.to_string(), pinned.clone());
        Ok(pinned)
    }

    /// Every container image of the task definition `td` (registrable, or as DescribeTaskDefinition
    /// answers) verified and pinned in place; the first that fails is the error.
    pub async fn revision(&self, td: &mut Value) -> Result<()> {
        let containers = td
            .pointer_mut("/taskDefinition/containerDefinitions")
            .is_some();
        let path = if containers {
            "/taskDefinition/containerDefinitions"
        } else {
            "/containerDefinitions"
        };
        let Some(list) = td.pointer_mut(path).and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for c in list.iter_mut() {
            let name = c["name"].as_str().unwrap_or("?").to_string();
            let Some(image) = c["image"].as_str().map(String::from) else {
                continue;
            };
            let pinned = self
                .image(&image)
                .await
                .with_context(|| format!("container {name}"))?;
            c["image"] = Value::String(pinned);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_named_prefix_exempts_an_image() {
        let allow = vec![
            "public.ecr.aws/datadog/".to_string(),
            " ".to_string(),
            String::new(),
        ];
        assert!(exempt("public.ecr.aws/datadog/agent:7", &allow));
        assert!(!exempt("public.ecr.aws/evil/agent:7", &allow));
        assert!(!exempt(
            "123.dkr.ecr.eu-west-1.amazonaws.com/app:v1",
            &allow
        ));
        assert!(!exempt("anything", &[]));
    }
}

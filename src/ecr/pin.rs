//! Digest pinning: tags of images in ECR resolved to the digests they name now, so a revision
//! runs exactly the image that was pushed.

use crate::error::usage;
use crate::image::reference::ImageRef;
use anyhow::{Context, Result};

/// Whether an image's registry is this account's private ECR: the standard host, or the proxy
/// endpoint GetAuthorizationToken names (which is how a local endpoint shows itself).
fn in_private_ecr(registry: &str, ecr_host: &Option<String>) -> bool {
    ecr_account(registry).is_some() || ecr_host.as_deref() == Some(registry)
}

/// The account of a standard private ECR host (`<account>.dkr.ecr.<region>.amazonaws.com`),
/// so an image of another account is looked up in that account's registry.
fn ecr_account(registry: &str) -> Option<&str> {
    let (account, rest) = registry.split_once(".dkr.ecr.")?;
    let standard = rest.ends_with(".amazonaws.com") || rest.ends_with(".amazonaws.com.cn");
    (standard && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then_some(account)
}

/// Resolve tags of images in private ECR to digests (`repo@sha256:…`); a tag that does not
/// exist is an error before anything is registered.
pub async fn pin_digests(images: Vec<&mut String>, region: &str) -> Result<()> {
    for i in images.iter() {
        if ImageRef::parse(i).is_ok_and(|r| r.digest.is_none() && r.registry.is_none()) {
            println!(
                "{i} is not in ECR (Docker Hub): it is deployed as the tag, not pinned to a digest"
            );
        }
    }
    let candidates: Vec<&mut String> = images
        .into_iter()
        .filter(|i| ImageRef::parse(i).is_ok_and(|r| r.digest.is_none() && r.registry.is_some()))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    // The proxy endpoint GetAuthorizationToken names is how a registry that is not on a
    // standard ECR host shows itself as ECR. Without it, such an image cannot be told apart from
    // one outside ECR: fail closed rather than deploy a mutable tag unannounced.
    let ecr_host = match crate::ecr::private_auth(region).await {
        Ok(a) => Some(a.host),
        Err(e) => {
            if let Some(image) = candidates.iter().find(|i| {
                ImageRef::parse(i)
                    .ok()
                    .and_then(|r| r.registry)
                    .is_some_and(|reg| ecr_account(&reg).is_none())
            }) {
                return Err(anyhow::anyhow!(
                    "cannot pin {image} to a digest: ECR GetAuthorizationToken failed ({e:#}), so whether its registry is ECR is unknown; fix the credentials, or pass --pin-digests=false to deploy the tag as it is"
                ));
            }
            None
        }
    };
    let conf = crate::aws::sdk::sdk_config(Some(region), false).await?;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    for image in candidates {
        let r = ImageRef::parse(image).map_err(|e| usage!("{e}"))?;
        let registry = r.registry.clone().unwrap_or_default();
        if !in_private_ecr(&registry, &ecr_host) {
            println!("{image} is not in ECR: it is deployed as the tag, not pinned to a digest");
            continue;
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let out = ecr
            .describe_images()
            .set_registry_id(ecr_account(&registry).map(String::from))
            .repository_name(&r.repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&tag).build())
            .send()
            .await
            .map_err(|e| match crate::aws::error::describe(&e) {
                d if d.starts_with("ImageNotFoundException") || d.starts_with("RepositoryNotFoundException") => {
                    usage!("image {image} is not in ECR ({d}); push it first, or pass --pin-digests=false")
                }
                d => anyhow::anyhow!("ECR DescribeImages {}: {d}", r.repository),
            })?;
        let digest = out
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .context("DescribeImages answered without a digest")?;
        let pinned = format!("{}@{digest}", r.name());
        println!("pinned {image} to {digest}");
        *image = pinned;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_name_their_account() {
        assert_eq!(
            ecr_account("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            Some("123456789012")
        );
        assert_eq!(
            ecr_account("999999999999.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            Some("999999999999")
        );
        assert_eq!(ecr_account("public.ecr.aws"), None);
        assert_eq!(ecr_account("evil.dkr.ecr.example.com"), None);
        assert!(in_private_ecr(
            "127.0.0.1:5000",
            &Some("127.0.0.1:5000".into())
        ));
        assert!(!in_private_ecr("ghcr.io", &Some("127.0.0.1:5000".into())));
    }
}

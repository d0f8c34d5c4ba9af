//! `stevedore ecr tag`: give an image already in the repository more tags, by copying its
//! manifest under each (no layer moves; the aws-ecr orb's `tag_image`).

use crate::cli::TagArgs;
use crate::config::Settings;
use crate::error::usage;
use anyhow::Result;

/// `stevedore ecr tag`.
pub async fn run(settings: &Settings, a: TagArgs) -> Result<()> {
    let targets = super::push::tags(&a.tags)?;
    let source = a.source_tag.trim();
    if !source.starts_with("sha256:") {
        crate::validate::image_tag(source)
            .map_err(|e| usage!("--source-tag (STEVEDORE_SOURCE_TAG): '{source}' {e}"))?;
    }
    crate::validate::repository_name(&a.target.repo).map_err(|e| usage!("--repo: {e}"))?;
    let (reg, host, path) =
        super::repository::open_repository(settings, a.target.public, &a.target.repo).await?;
    let manifest = match reg.find_manifest(&path, source).await? {
        Ok(m) => m,
        Err(body) => {
            return Err(usage!(
                "--source-tag: {}",
                super::registry::not_found(&path, source, &body)
            ))
        }
    };
    let short = super::registry::short(&manifest.digest);
    for t in &targets {
        match reg.manifest_digest(&path, t).await? {
            Some(d) if d == manifest.digest => {
                println!("tag {t} already names {short}");
                continue;
            }
            Some(d) if a.skip_existing_tags => {
                println!(
                    "tag {t} exists ({}); left alone",
                    super::registry::short(&d)
                );
                continue;
            }
            _ => {}
        }
        reg.put_manifest(&path, t, &manifest).await?;
        println!("tagged {host}/{path}:{source} ({short}) as {t}");
    }
    Ok(())
}

//! Whether tags already exist in a repository, read with one manifest HEAD each (what the orb's
//! `skip_build_if_tags_exist` asks before building at all).

use crate::config::Settings;
use anyhow::Result;

/// Whether every one of `tags` names a manifest in `repo` (a missing repository has none).
/// Prints what each tag names.
pub async fn all_tags_exist(
    settings: &Settings,
    public: bool,
    repo: &str,
    tags: &[String],
) -> Result<bool> {
    let (reg, host, path) = super::repository::open_repository(settings, public, repo).await?;
    let mut all = true;
    for t in tags {
        match reg.manifest_digest(&path, t).await? {
            Some(d) => println!(
                "tag {t} exists in {host}/{path} ({})",
                super::registry::short(&d)
            ),
            None => {
                println!("tag {t} is not in {host}/{path}");
                all = false;
            }
        }
    }
    Ok(all)
}

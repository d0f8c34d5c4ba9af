//! The Docker engine's side of a push: `docker save` of a local image for stevedore to read, or
//! `docker tag` + `docker push` when the daemon is to push it itself (`--via docker`).

use crate::config::Settings;
use crate::ecr;
use crate::error::usage;
use anyhow::{Context, Result};

/// `docker save NAME` into a temporary archive (DOCKER_HOST is honoured by the CLI).
pub(super) fn docker_save(name: &str) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("stevedore-docker-")
        .tempdir()?;
    let path = dir.path().join("image.tar");
    let out = std::process::Command::new("docker")
        .args(["save", "-o"])
        .arg(&path)
        .arg(name)
        .output()
        .map_err(|e| {
            usage!("--docker-image: cannot run docker ({e}); install docker or push an archive")
        })?;
    if !out.status.success() {
        return Err(usage!(
            "--docker-image {name}: docker save failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        ));
    }
    Ok((dir, path))
}

/// `docker tag` + `docker push` of image `name` as each of `tags` in `repo`, for those who want
/// the daemon to push: the repository's reference and the digest pushed.
pub(super) async fn via_docker(
    settings: &Settings,
    (public, repo): (bool, &str),
    tags: &[String],
    name: &str,
) -> Result<(String, String)> {
    let auth = ecr::login::registry_auth(settings, public).await?;
    let path = ecr::repository_path(settings, public, repo)?;
    let reference = format!("{}/{path}", auth.host);
    ecr::docker_login(&auth)?;
    let mut digest = String::new();
    for t in tags {
        let target = format!("{reference}:{t}");
        let st = std::process::Command::new("docker")
            .args(["tag", name, &target])
            .status()
            .context("running docker tag")?;
        anyhow::ensure!(st.success(), "docker tag {name} {target} failed");
        let out = std::process::Command::new("docker")
            .args(["push", &target])
            .output()
            .context("running docker push")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        anyhow::ensure!(
            out.status.success(),
            "docker push {target} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        if let Some(d) = text
            .split_whitespace()
            .skip_while(|w| *w != "digest:")
            .nth(1)
        {
            digest = d.to_string();
        }
        println!("pushed {target} with docker ({digest})");
    }
    Ok((reference, digest))
}

//! A build cache kept in the image's own ECR repository, under a tag of its own: with buildx, a
//! registry cache in the form ECR accepts (an image manifest with OCI media types, as ECR
//! documents for `--cache-to`); with Docker's classic builder, the last image itself, pulled
//! before the build and named with `--cache-from`.

use crate::config::Settings;
use anyhow::Result;

/// buildx's cache flags for a registry cache at `cache_ref` that ECR stores: without
/// `image-manifest=true,oci-mediatypes=true` BuildKit writes a cache manifest list ECR refuses.
pub fn buildx_args(cache_ref: &str) -> Vec<String> {
    vec![
        "--cache-from".into(),
        format!("type=registry,ref={cache_ref}"),
        "--cache-to".into(),
        format!("type=registry,ref={cache_ref},mode=max,image-manifest=true,oci-mediatypes=true"),
    ]
}

/// The classic builder's: layers of the pulled image at `cache_ref` are reused.
pub fn classic_args(cache_ref: &str) -> Vec<String> {
    vec!["--cache-from".into(), cache_ref.to_string()]
}

/// `args` (a `docker build` or `docker buildx build` ending with its context) with the cache
/// flags before the context.
pub fn with_cache(args: &[String], cache: Vec<String>) -> Vec<String> {
    let mut out = args.to_vec();
    let context = out.pop();
    out.extend(cache);
    out.extend(context);
    out
}

/// Docker can reach the repository (its token saved in docker's config); the cache's reference.
pub async fn prepare(settings: &Settings, public: bool, repo: &str, tag: &str) -> Result<String> {
    let host = crate::ecr::login::save_docker_auth(settings, public).await?;
    let path = crate::ecr::repository_path(settings, public, repo)?;
    Ok(format!("{host}/{path}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_flags_go_before_the_context() {
        let build: Vec<String> = ["build", "-f", "Dockerfile", "-t", "x:1", "."]
            .map(String::from)
            .to_vec();
        assert_eq!(
            with_cache(&build, classic_args("r/app:buildcache")),
            [
                "build",
                "-f",
                "Dockerfile",
                "-t",
                "x:1",
                "--cache-from",
                "r/app:buildcache",
                "."
            ]
        );
        assert_eq!(
            buildx_args("r/app:buildcache")[3],
            "type=registry,ref=r/app:buildcache,mode=max,image-manifest=true,oci-mediatypes=true"
        );
    }
}

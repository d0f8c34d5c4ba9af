//! `stevedore ecr`: repositories and their policies, registry login, and image addresses,
//! for the private registry and ECR Public.

pub mod docker_config;
pub mod login;
pub mod pin;
pub mod repositories;

pub use login::{docker_login, private_auth, public_auth, run_login, RegistryAuth};
pub use repositories::{ensure, run_ensure_repo, RepoPlan};

use crate::cli::UriArgs;
use crate::config::{self, Settings};
use crate::error::usage;
use crate::validate;
use anyhow::Result;

/// Check a repository name, naming the flag.
pub fn check_repo_name(name: &str) -> Result<()> {
    validate::repository_name(name).map_err(|e| {
        usage!("--repo (STEVEDORE_REPO): '{name}' {e}; ECR names are lowercase letters and digits separated by '.', '_', '-' or '/'")
    })
}

/// A repository's path in its registry: ECR Public's begins with the registry alias.
pub fn repository_path(settings: &Settings, public: bool, repo: &str) -> Result<String> {
    Ok(if public {
        format!("{}/{repo}", settings.require_alias()?)
    } else {
        repo.to_string()
    })
}

/// The image address for a repository and optional tag.
pub fn image_uri(
    settings: &Settings,
    repo: &str,
    public: bool,
    tag: Option<&str>,
) -> Result<String> {
    check_repo_name(repo)?;
    if let Some(t) = tag {
        validate::image_tag(t).map_err(|e| usage!("--tag (STEVEDORE_TAG): '{t}' {e}"))?;
    }
    let registry = if public {
        config::public_registry(settings.require_alias()?)
    } else {
        config::private_registry(settings.require_account()?, settings.require_region()?)
    };
    Ok(match tag {
        Some(t) => format!("{registry}/{repo}:{t}"),
        None => format!("{registry}/{repo}"),
    })
}

/// `stevedore ecr uri`.
pub fn run_uri(settings: &Settings, args: UriArgs) -> Result<()> {
    println!(
        "{}",
        image_uri(
            settings,
            &args.target.repo,
            args.target.public,
            args.tag.as_deref()
        )?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            region: Some("eu-west-1".into()),
            account_id: Some("123456789012".into()),
            public_alias: Some("acme".into()),
        }
    }

    #[test]
    fn image_uris() {
        let s = settings();
        assert_eq!(
            image_uri(&s, "team/app", false, Some("v1")).unwrap(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1"
        );
        assert_eq!(
            image_uri(&s, "app", true, None).unwrap(),
            "public.ecr.aws/acme/app"
        );
        assert!(image_uri(&s, "App", false, None)
            .unwrap_err()
            .to_string()
            .starts_with("--repo"));
        assert!(image_uri(&s, "app", false, Some("a:b"))
            .unwrap_err()
            .to_string()
            .starts_with("--tag"));
        let bare = Settings {
            region: None,
            account_id: None,
            public_alias: None,
        };
        assert!(image_uri(&bare, "app", true, None)
            .unwrap_err()
            .to_string()
            .contains("AWS_ECR_PUBLIC_REGISTRY_ALIAS"));
    }
}

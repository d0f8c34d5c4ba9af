//! A repository's registry opened: the client with its ECR token and the way to renew it.

use super::registry::{self, Registry};
use crate::config::{self, Settings};
use crate::ecr::{self, RegistryAuth};
use anyhow::Result;
use std::sync::Arc;

/// The registry of a repository (private ECR in the settings' region, or ECR Public), its
/// host, and the repository's path there (ECR Public's begins with the alias).
pub(crate) async fn open_repository(
    settings: &Settings,
    public: bool,
    repo: &str,
) -> Result<(Arc<Registry>, String, String)> {
    let region = if public {
        config::ECR_PUBLIC_REGION.to_string()
    } else {
        settings.require_region()?.to_string()
    };
    let path = crate::ecr::repository_path(settings, public, repo)?;
    let (reg, host) = open_registry(public, &region).await?;
    Ok((reg, host, path))
}

/// A registry client for the private registry of `region` or ECR Public, with its token and a
/// way to renew it; and the registry's host.
pub(crate) async fn open_registry(public: bool, region: &str) -> Result<(Arc<Registry>, String)> {
    let region = region.to_string();
    let auth = if public {
        ecr::public_auth().await?
    } else {
        ecr::private_auth(&region).await?
    };
    let refresh: registry::Refresh = {
        let region = region.clone();
        Arc::new(move || {
            let region = region.clone();
            Box::pin(async move {
                let fresh: RegistryAuth = if public {
                    ecr::public_auth().await?
                } else {
                    ecr::private_auth(&region).await?
                };
                Ok(fresh.basic())
            })
        })
    };
    let reg = Arc::new(Registry::new(&auth.host, auth.basic(), Some(refresh))?);
    Ok((reg, auth.host))
}

//! Registry authorizations: ECR's tokens, and `stevedore ecr login` for docker.

use crate::aws::error::describe;
use crate::cli::LoginArgs;
use crate::config::{self, Settings};
use crate::ecr::docker_config;
use crate::error::usage;
use anyhow::{Context, Result};
use aws_smithy_types::date_time::Format;
use base64::Engine;

/// A registry authorization: the host, docker's base64 `user:password`, and when it expires.
pub struct RegistryAuth {
    pub host: String,
    auth_b64: String,
    pub expires_at: Option<String>,
}

impl RegistryAuth {
    /// Build from ECR's token (base64 of `AWS:<password>`), checking its shape.
    pub fn new(host: String, token_b64: &str, expires_at: Option<String>) -> Result<Self> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token_b64.trim())
            .map_err(|_| anyhow::anyhow!("the registry token for {host} is not base64"))?;
        if !decoded.contains(&b':') {
            return Err(anyhow::anyhow!(
                "the registry token for {host} is not of the form user:password"
            ));
        }
        Ok(RegistryAuth {
            host,
            auth_b64: token_b64.trim().to_string(),
            expires_at,
        })
    }

    /// docker's `auth` value: base64 of `user:password` (also what HTTP Basic auth wants).
    pub fn basic(&self) -> String {
        self.auth_b64.clone()
    }

    /// The user name and password, for `docker login`.
    fn user_password(&self) -> (String, String) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.auth_b64)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded);
        let (u, p) = text.split_once(':').unwrap_or(("AWS", ""));
        (u.to_string(), p.to_string())
    }
}

/// The host part of a registry endpoint URL such as `https://123.dkr.ecr.us-east-1.amazonaws.com`.
pub fn endpoint_host(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.trim_end_matches('/').to_string()
}

/// Get an authorization for the private registry of the current credentials.
pub async fn private_auth(region: &str) -> Result<RegistryAuth> {
    let conf = crate::aws::sdk::sdk_config(Some(region), false).await?;
    let out = aws_sdk_ecr::Client::new(&conf)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("ECR GetAuthorizationToken: {}", describe(&e)))?;
    let data = out
        .authorization_data()
        .first()
        .context("GetAuthorizationToken answered without authorization data")?;
    let host = endpoint_host(
        data.proxy_endpoint()
            .context("GetAuthorizationToken answered without a proxy endpoint")?,
    );
    RegistryAuth::new(
        host,
        data.authorization_token()
            .context("GetAuthorizationToken answered without a token")?,
        data.expires_at().and_then(|t| t.fmt(Format::DateTime).ok()),
    )
}

/// Get an authorization for ECR Public (always through us-east-1).
pub async fn public_auth() -> Result<RegistryAuth> {
    let conf = crate::aws::sdk::sdk_config(Some(config::ECR_PUBLIC_REGION), false).await?;
    let out = aws_sdk_ecrpublic::Client::new(&conf)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "ECR Public GetAuthorizationToken (us-east-1): {}",
                describe(&e)
            )
        })?;
    let data = out
        .authorization_data()
        .context("GetAuthorizationToken answered without authorization data")?;
    RegistryAuth::new(
        config::public_registry_host(),
        data.authorization_token()
            .context("GetAuthorizationToken answered without a token")?,
        data.expires_at().and_then(|t| t.fmt(Format::DateTime).ok()),
    )
}

/// A registry token of the private registry in the settings' region, or of ECR Public.
pub async fn registry_auth(settings: &Settings, public: bool) -> Result<RegistryAuth> {
    if public {
        public_auth().await
    } else {
        private_auth(settings.require_region()?).await
    }
}

/// Save `auth` in docker's config in `dir` (`DOCKER_CONFIG`, else `~/.docker`), saying a
/// warning when docker would not read it; the file written.
fn save_in_docker_config(
    dir: Option<&std::path::Path>,
    auth: &RegistryAuth,
) -> Result<std::path::PathBuf> {
    let dir = docker_config::config_dir(dir)?;
    let (path, warning) = docker_config::save_auth(&dir, &auth.host, &auth.auth_b64)?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(path)
}

/// `stevedore ecr login`.
pub async fn run_login(settings: &Settings, args: LoginArgs) -> Result<()> {
    let auth = registry_auth(settings, args.public).await?;
    let until = auth
        .expires_at
        .as_deref()
        .map(|t| format!(" (valid until {t})"))
        .unwrap_or_default();
    if args.via_docker {
        docker_login(&auth)?;
        println!("Logged in to {} with docker login{until}", auth.host);
    } else {
        let path = save_in_docker_config(args.docker_config.as_deref(), &auth)?;
        println!(
            "Logged in to {}{until}; credentials saved in {}",
            auth.host,
            path.display()
        );
    }
    Ok(())
}

/// Save a registry token for the private registry (or ECR Public) in docker's config (as
/// `stevedore ecr login` does, quietly); the registry's host, for image references docker uses.
pub async fn save_docker_auth(settings: &Settings, public: bool) -> Result<String> {
    let auth = registry_auth(settings, public).await?;
    let dir = config::env_var("DOCKER_CONFIG").map(std::path::PathBuf::from);
    save_in_docker_config(dir.as_deref(), &auth)?;
    Ok(auth.host)
}

/// Why `docker login` did not log in.
#[derive(Debug, thiserror::Error)]
pub enum DockerLoginError {
    /// docker could not be started.
    #[error("cannot run docker ({0})")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Other(anyhow::Error),
    /// docker refused: its last line of output, the password withheld.
    #[error("docker login {host} failed: {why}")]
    Refused { host: String, why: String },
}

/// `docker login` to an ECR registry with its token (`--via-docker`).
pub fn docker_login(auth: &RegistryAuth) -> Result<()> {
    let (user, password) = auth.user_password();
    docker_login_as(&auth.host, &user, &password).map_err(|e| match e {
        DockerLoginError::Spawn(e) => {
            usage!("--via-docker: cannot run docker ({e}); install docker or drop --via-docker")
        }
        other => anyhow::anyhow!("{other}"),
    })
}

/// `docker login --password-stdin`: the password goes through a pipe, never the command line,
/// and is withheld from what docker says on failure.
pub fn docker_login_as(host: &str, user: &str, password: &str) -> Result<(), DockerLoginError> {
    use std::io::Write;
    let mut child = std::process::Command::new("docker")
        .args(["login", "--username", user, "--password-stdin", host])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(DockerLoginError::Spawn)?;
    child
        .stdin
        .take()
        .context("docker's stdin")
        .and_then(|mut stdin| {
            stdin
                .write_all(password.as_bytes())
                .context("writing the password to docker login")
        })
        .map_err(DockerLoginError::Other)?;
    let out = child
        .wait_with_output()
        .context("waiting for docker login")
        .map_err(DockerLoginError::Other)?;
    if !out.status.success() {
        let mut err = String::from_utf8_lossy(&out.stderr).to_string();
        if !password.is_empty() {
            err = err.replace(password, "<password>");
        }
        return Err(DockerLoginError::Refused {
            host: host.to_string(),
            why: err.lines().last().unwrap_or("no output").to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_shapes() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("AWS:s3cret");
        let a = RegistryAuth::new("h".into(), &b64, None).unwrap();
        assert_eq!(a.user_password(), ("AWS".into(), "s3cret".into()));
        assert!(RegistryAuth::new("h".into(), "not base64!", None).is_err());
        let nocolon = base64::engine::general_purpose::STANDARD.encode("AWS");
        assert!(RegistryAuth::new("h".into(), &nocolon, None).is_err());
        assert_eq!(
            endpoint_host("https://1.dkr.ecr.us-east-1.amazonaws.com/"),
            "1.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(endpoint_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}

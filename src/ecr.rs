//! `stevedore ecr`: repositories and their policies, registry login, and image addresses,
//! for the private registry and ECR Public.

use crate::aws_error::{describe, has_code};
use crate::cli::{Encryption, EnsureRepoArgs, LoginArgs, TagMutability, UriArgs};
use crate::config::{self, Settings};
use crate::docker_config;
use crate::policy;
use crate::usage;
use crate::validate;
use anyhow::{Context, Result};
use aws_sdk_ecr::types as ecr_types;
use aws_smithy_types::date_time::Format;
use base64::Engine;

/// What `ensure-repo` will do, fully validated before any call is made.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoPlan {
    pub name: String,
    pub public: bool,
    pub scan_on_push: Option<bool>,
    pub tag_mutability: Option<TagMutability>,
    pub mutability_exclusions: Vec<String>,
    pub encryption: Option<(Encryption, Option<String>)>,
    pub resource_tags: Vec<(String, String)>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
}

/// Check a repository name, naming the flag.
pub fn check_repo_name(name: &str) -> Result<()> {
    validate::repository_name(name).map_err(|e| {
        usage!("--repo (STEVEDORE_REPO): '{name}' {e}; ECR names are lowercase letters and digits separated by '.', '_', '-' or '/'")
    })
}

fn parse_resource_tags(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            usage!("--resource-tag (STEVEDORE_RESOURCE_TAGS): '{item}' is not KEY=VALUE")
        })?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(usage!("--resource-tag (STEVEDORE_RESOURCE_TAGS): '{item}' needs a key of 1-128 and a value of at most 256 characters"));
        }
        if out.iter().any(|(seen, _)| seen == k) {
            return Err(usage!(
                "--resource-tag (STEVEDORE_RESOURCE_TAGS): key '{k}' is given twice"
            ));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

fn check_exclusions(mutability: Option<TagMutability>, filters: &[String]) -> Result<Vec<String>> {
    let filters: Vec<String> = filters
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let with_exclusion = matches!(
        mutability,
        Some(TagMutability::ImmutableWithExclusion | TagMutability::MutableWithExclusion)
    );
    if with_exclusion && filters.is_empty() {
        return Err(usage!("--tag-mutability *_WITH_EXCLUSION needs at least one --mutability-exclusion filter (e.g. latest or dev-*)"));
    }
    if !with_exclusion && !filters.is_empty() {
        return Err(usage!("--mutability-exclusion needs --tag-mutability IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION"));
    }
    if filters.len() > 5 {
        return Err(usage!(
            "--mutability-exclusion: at most 5 filters, {} given",
            filters.len()
        ));
    }
    for f in &filters {
        let ok = f.len() <= 128
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._*-".contains(c));
        if !ok {
            return Err(usage!("--mutability-exclusion: '{f}' may hold only letters, digits, '.', '_', '-' and the wildcard '*'"));
        }
    }
    Ok(filters)
}

impl RepoPlan {
    /// Validate the arguments and read the policy files: every input error surfaces here.
    pub fn from_args(a: &EnsureRepoArgs) -> Result<Self> {
        check_repo_name(&a.target.repo)?;
        let public = a.target.public;
        if public {
            let unsupported = [
                (a.scan_on_push.is_some(), "--scan-on-push"),
                (a.tag_mutability.is_some(), "--tag-mutability"),
                (a.encryption.is_some(), "--encryption"),
                (
                    a.lifecycle_policy.is_some()
                        || a.keep_last.is_some()
                        || a.expire_untagged_days.is_some(),
                    "lifecycle policies",
                ),
            ];
            if let Some((_, what)) = unsupported.iter().find(|(given, _)| *given) {
                return Err(usage!("{what}: not supported by ECR Public repositories; drop it or use a private repository"));
            }
        }
        let mutability_exclusions = check_exclusions(a.tag_mutability, &a.mutability_exclusions)?;
        if a.kms_key.is_some() && a.encryption != Some(Encryption::Kms) {
            return Err(usage!("--kms-key needs --encryption KMS"));
        }
        let lifecycle = match &a.lifecycle_policy {
            Some(path) => {
                let v = policy::read_json("--lifecycle-policy", path)?;
                policy::check_lifecycle(&v).map_err(|e| {
                    usage!(
                        "--lifecycle-policy: {} is not a valid lifecycle policy: {e}",
                        path.display()
                    )
                })?;
                Some(v)
            }
            None => policy::builtin_lifecycle(a.keep_last, a.expire_untagged_days)?,
        };
        let repository_policy = match &a.repository_policy {
            Some(path) => {
                let v = policy::read_json("--repository-policy", path)?;
                policy::check_resource_policy(&v).map_err(|e| {
                    usage!(
                        "--repository-policy: {} is not a valid repository policy: {e}",
                        path.display()
                    )
                })?;
                Some(v.to_string())
            }
            None => None,
        };
        Ok(RepoPlan {
            name: a.target.repo.clone(),
            public,
            scan_on_push: a.scan_on_push,
            tag_mutability: a.tag_mutability,
            mutability_exclusions,
            encryption: a.encryption.map(|e| (e, a.kms_key.clone())),
            resource_tags: parse_resource_tags(&a.resource_tags)?,
            lifecycle_policy: lifecycle.map(|v| v.to_string()),
            repository_policy,
        })
    }
}

fn mutability_value(m: TagMutability) -> ecr_types::ImageTagMutability {
    ecr_types::ImageTagMutability::from(match m {
        TagMutability::Mutable => "MUTABLE",
        TagMutability::Immutable => "IMMUTABLE",
        TagMutability::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
        TagMutability::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
    })
}

fn exclusion_filters(
    filters: &[String],
) -> Result<Vec<ecr_types::ImageTagMutabilityExclusionFilter>> {
    filters
        .iter()
        .map(|f| {
            ecr_types::ImageTagMutabilityExclusionFilter::builder()
                .filter_type(ecr_types::ImageTagMutabilityExclusionFilterType::Wildcard)
                .filter(f)
                .build()
                .context("building a mutability exclusion filter")
        })
        .collect()
}

/// `stevedore ecr ensure-repo`.
pub async fn run_ensure_repo(settings: &Settings, args: EnsureRepoArgs) -> Result<()> {
    let plan = RepoPlan::from_args(&args)?;
    ensure(settings, &plan).await
}

impl RepoPlan {
    /// A repository with the defaults: what `push --create-repo` asks for.
    pub fn minimal(name: &str, public: bool) -> RepoPlan {
        RepoPlan {
            name: name.to_string(),
            public,
            scan_on_push: None,
            tag_mutability: None,
            mutability_exclusions: vec![],
            encryption: None,
            resource_tags: vec![],
            lifecycle_policy: None,
            repository_policy: None,
        }
    }
}

/// Create or update the repository as planned.
pub async fn ensure(settings: &Settings, plan: &RepoPlan) -> Result<()> {
    if plan.public {
        ensure_public(settings, plan).await
    } else {
        let region = settings.require_region()?;
        ensure_private(region, plan).await
    }
}

async fn ensure_private(region: &str, plan: &RepoPlan) -> Result<()> {
    let conf = config::sdk_config(Some(region), false).await?;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let name = plan.name.as_str();
    let existing = match ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => out.repositories().first().cloned(),
        Err(e) if has_code(&e, "RepositoryNotFoundException") => None,
        Err(e) => {
            return Err(anyhow::anyhow!(
                "ECR DescribeRepositories {name}: {}",
                describe(&e)
            ))
        }
    };
    match existing {
        Some(repo) => {
            update_private(&ecr, plan, &repo).await?;
            println!(
                "Repository {name} exists: {}",
                repo.repository_uri().unwrap_or_default()
            );
        }
        None => {
            let mut req = ecr
                .create_repository()
                .repository_name(name)
                .image_scanning_configuration(
                    ecr_types::ImageScanningConfiguration::builder()
                        .scan_on_push(plan.scan_on_push.unwrap_or(true))
                        .build(),
                )
                .image_tag_mutability(mutability_value(
                    plan.tag_mutability.unwrap_or(TagMutability::Mutable),
                ));
            for f in exclusion_filters(&plan.mutability_exclusions)? {
                req = req.image_tag_mutability_exclusion_filters(f);
            }
            if let Some((enc, key)) = &plan.encryption {
                let ty = match enc {
                    Encryption::Aes256 => ecr_types::EncryptionType::Aes256,
                    Encryption::Kms => ecr_types::EncryptionType::Kms,
                };
                req = req.encryption_configuration(
                    ecr_types::EncryptionConfiguration::builder()
                        .encryption_type(ty)
                        .set_kms_key(key.clone())
                        .build()
                        .context("building the encryption configuration")?,
                );
            }
            for (k, v) in &plan.resource_tags {
                req = req.tags(
                    ecr_types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .context("building a tag")?,
                );
            }
            match req.send().await {
                Ok(out) => {
                    let repo = out
                        .repository()
                        .cloned()
                        .context("CreateRepository answered without a repository")?;
                    println!(
                        "Created repository {name}: {}",
                        repo.repository_uri().unwrap_or_default()
                    );
                }
                // Another job created it between our describe and create: that is success too.
                Err(e) if has_code(&e, "RepositoryAlreadyExistsException") => {
                    println!("Repository {name} was created concurrently; using it");
                }
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "ECR CreateRepository {name}: {}",
                        describe(&e)
                    ))
                }
            }
        }
    }
    if let Some(text) = &plan.lifecycle_policy {
        ecr.put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(text)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ECR PutLifecyclePolicy {name}: {}", describe(&e)))?;
        println!("Applied the lifecycle policy to {name}");
    }
    if let Some(text) = &plan.repository_policy {
        ecr.set_repository_policy()
            .repository_name(name)
            .policy_text(text)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ECR SetRepositoryPolicy {name}: {}", describe(&e)))?;
        println!("Applied the repository policy to {name}");
    }
    Ok(())
}

/// Bring an existing repository to the settings that were asked for explicitly.
async fn update_private(
    ecr: &aws_sdk_ecr::Client,
    plan: &RepoPlan,
    repo: &ecr_types::Repository,
) -> Result<()> {
    let name = plan.name.as_str();
    if let Some(want) = plan.scan_on_push {
        let have = repo
            .image_scanning_configuration()
            .map(|c| c.scan_on_push());
        if have != Some(want) {
            ecr.put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ecr_types::ImageScanningConfiguration::builder()
                        .scan_on_push(want)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("ECR PutImageScanningConfiguration {name}: {}", describe(&e))
                })?;
            println!("Set scan-on-push of {name} to {want}");
        }
    }
    if let Some(m) = plan.tag_mutability {
        let want = mutability_value(m);
        let have_filters: Vec<&str> = repo
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|f| f.filter())
            .collect();
        if repo.image_tag_mutability() != Some(&want) || have_filters != plan.mutability_exclusions
        {
            let mut req = ecr
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(want.clone());
            for f in exclusion_filters(&plan.mutability_exclusions)? {
                req = req.image_tag_mutability_exclusion_filters(f);
            }
            req.send().await.map_err(|e| {
                anyhow::anyhow!("ECR PutImageTagMutability {name}: {}", describe(&e))
            })?;
            println!("Set tag mutability of {name} to {}", want.as_str());
        }
    }
    if let Some((enc, _)) = &plan.encryption {
        let have = repo
            .encryption_configuration()
            .map(|c| c.encryption_type().as_str().to_string());
        let want = match enc {
            Encryption::Aes256 => "AES256",
            Encryption::Kms => "KMS",
        };
        if have.as_deref().is_some_and(|h| h != want) {
            eprintln!("warning: {name} is encrypted with {}; encryption cannot change after creation (asked for {want})", have.unwrap_or_default());
        }
    }
    if !plan.resource_tags.is_empty() {
        let arn = repo
            .repository_arn()
            .context("DescribeRepositories answered without an ARN")?;
        let mut req = ecr.tag_resource().resource_arn(arn);
        for (k, v) in &plan.resource_tags {
            req = req.tags(
                ecr_types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .context("building a tag")?,
            );
        }
        req.send()
            .await
            .map_err(|e| anyhow::anyhow!("ECR TagResource {name}: {}", describe(&e)))?;
    }
    Ok(())
}

async fn ensure_public(settings: &Settings, plan: &RepoPlan) -> Result<()> {
    let conf = config::sdk_config(Some(config::ECR_PUBLIC_REGION), false).await?;
    let ecr = aws_sdk_ecrpublic::Client::new(&conf);
    let name = plan.name.as_str();
    let existing = match ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => out.repositories().first().cloned(),
        Err(e) if has_code(&e, "RepositoryNotFoundException") => None,
        Err(e) => {
            return Err(anyhow::anyhow!(
                "ECR Public DescribeRepositories {name}: {}",
                describe(&e)
            ))
        }
    };
    let uri = |repo: &aws_sdk_ecrpublic::types::Repository| match &settings.public_alias {
        Some(alias) => format!("{}/{name}", config::public_registry(alias)),
        None => repo.repository_uri().unwrap_or_default().to_string(),
    };
    match existing {
        Some(repo) => {
            if !plan.resource_tags.is_empty() {
                let arn = repo
                    .repository_arn()
                    .context("DescribeRepositories answered without an ARN")?;
                let mut req = ecr.tag_resource().resource_arn(arn);
                for (k, v) in &plan.resource_tags {
                    req = req.tags(
                        aws_sdk_ecrpublic::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build(),
                    );
                }
                req.send().await.map_err(|e| {
                    anyhow::anyhow!("ECR Public TagResource {name}: {}", describe(&e))
                })?;
            }
            println!("Public repository {name} exists: {}", uri(&repo));
        }
        None => {
            let mut req = ecr.create_repository().repository_name(name);
            for (k, v) in &plan.resource_tags {
                req = req.tags(
                    aws_sdk_ecrpublic::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build(),
                );
            }
            match req.send().await {
                Ok(out) => {
                    let repo = out
                        .repository()
                        .cloned()
                        .context("CreateRepository answered without a repository")?;
                    println!("Created public repository {name}: {}", uri(&repo));
                }
                Err(e) if has_code(&e, "RepositoryAlreadyExistsException") => {
                    println!("Public repository {name} was created concurrently; using it");
                }
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "ECR Public CreateRepository {name}: {}",
                        describe(&e)
                    ))
                }
            }
        }
    }
    if let Some(text) = &plan.repository_policy {
        ecr.set_repository_policy()
            .repository_name(name)
            .policy_text(text)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("ECR Public SetRepositoryPolicy {name}: {}", describe(&e))
            })?;
        println!("Applied the repository policy to public repository {name}");
    }
    Ok(())
}

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
    let conf = config::sdk_config(Some(region), false).await?;
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
    let conf = config::sdk_config(Some(config::ECR_PUBLIC_REGION), false).await?;
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

/// `stevedore ecr login`.
pub async fn run_login(settings: &Settings, args: LoginArgs) -> Result<()> {
    let auth = if args.public {
        public_auth().await?
    } else {
        private_auth(settings.require_region()?).await?
    };
    let until = auth
        .expires_at
        .as_deref()
        .map(|t| format!(" (valid until {t})"))
        .unwrap_or_default();
    if args.via_docker {
        docker_login(&auth)?;
        println!("Logged in to {} with docker login{until}", auth.host);
    } else {
        let dir = docker_config::config_dir(args.docker_config.as_deref())?;
        let (path, warning) = docker_config::save_auth(&dir, &auth.host, &auth.auth_b64)?;
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        println!(
            "Logged in to {}{until}; credentials saved in {}",
            auth.host,
            path.display()
        );
    }
    Ok(())
}

/// `docker login --password-stdin`: the password goes through a pipe, never the command line.
pub fn docker_login(auth: &RegistryAuth) -> Result<()> {
    use std::io::Write;
    let (user, password) = auth.user_password();
    let mut child = std::process::Command::new("docker")
        .args(["login", "--username", &user, "--password-stdin", &auth.host])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            usage!("--via-docker: cannot run docker ({e}); install docker or drop --via-docker")
        })?;
    child
        .stdin
        .take()
        .context("docker's stdin")?
        .write_all(password.as_bytes())
        .context("writing the password to docker login")?;
    let out = child
        .wait_with_output()
        .context("waiting for docker login")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).replace(&password, "<password>");
        return Err(anyhow::anyhow!(
            "docker login {} failed: {}",
            auth.host,
            err.lines().last().unwrap_or("no output")
        ));
    }
    Ok(())
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

    #[test]
    fn resource_tags_and_exclusions() {
        assert_eq!(
            parse_resource_tags(&["a=1".into(), " b = x=y ".into()]).unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert!(parse_resource_tags(&["nokey".into()]).is_err());
        assert!(parse_resource_tags(&["a=1".into(), "a=2".into()]).is_err());
        assert!(check_exclusions(Some(TagMutability::ImmutableWithExclusion), &[]).is_err());
        assert!(check_exclusions(Some(TagMutability::Immutable), &["latest".into()]).is_err());
        assert_eq!(
            check_exclusions(
                Some(TagMutability::ImmutableWithExclusion),
                &["latest".into(), "dev-*".into()]
            )
            .unwrap()
            .len(),
            2
        );
        assert!(
            check_exclusions(Some(TagMutability::MutableWithExclusion), &["a b".into()]).is_err()
        );
    }

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

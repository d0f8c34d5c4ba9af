//! `stevedore ecr ensure-repo`: repositories, their settings and policies, private and public.

use super::check_repo_name;
use crate::aws::error::{describe, has_code};
use crate::cli::EnsureRepoArgs;
use crate::config::{self, Settings};
use crate::error::usage;
use crate::iam::policy;
use crate::values::{Encryption, TagMutability};
use anyhow::{Context, Result};
use aws_sdk_ecr::types as ecr_types;

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
    let conf = crate::aws::sdk::sdk_config(Some(region), false).await?;
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
    let conf = crate::aws::sdk::sdk_config(Some(config::ECR_PUBLIC_REGION), false).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

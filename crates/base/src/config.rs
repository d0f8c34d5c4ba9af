//! Region, account and registry alias, resolved once from flags and the environment,
//! and the AWS SDK configuration built from them.

use crate::error::usage;
use crate::validate;
use anyhow::Result;

/// The region the ECR Public API and its authorization live in, whatever the job's region is.
pub const ECR_PUBLIC_REGION: &str = "us-east-1";
/// The host of every ECR Public repository.
pub const ECR_PUBLIC_HOST: &str = "public.ecr.aws";

/// Where the values come from: a flag (already merged with its `STEVEDORE_*` variable by clap)
/// or one of the variables CircleCI projects set by convention.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub region_flag: Option<String>,
    pub aws_region: Option<String>,
    pub aws_default_region: Option<String>,
    pub account_id: Option<String>,
    pub public_alias: Option<String>,
}

impl Sources {
    /// Read the conventional variables from the process environment; empty values count as unset.
    pub fn from_env(region_flag: Option<String>) -> Self {
        Sources {
            region_flag: non_empty(region_flag),
            aws_region: env_var("AWS_REGION"),
            aws_default_region: env_var("AWS_DEFAULT_REGION"),
            account_id: env_var("AWS_ACCOUNT_ID"),
            public_alias: env_var("AWS_ECR_PUBLIC_REGISTRY_ALIAS"),
        }
    }
}

/// A variable's value, or `None` when unset or empty (CircleCI passes unset parameters as "").
pub fn env_var(name: &str) -> Option<String> {
    non_empty(std::env::var(name).ok())
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Settings resolved once and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`; `None` leaves it to the AWS profile.
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub public_alias: Option<String>,
}

impl Settings {
    /// Validate what was given. Nothing is required here; [`Settings::require_region`] and
    /// friends say what is missing when a command needs it.
    pub fn resolve(src: Sources) -> Result<Self> {
        let (region, region_from) =
            match (&src.region_flag, &src.aws_region, &src.aws_default_region) {
                (Some(r), _, _) => (Some(r.clone()), "--region (STEVEDORE_REGION)"),
                (None, Some(r), _) => (Some(r.clone()), "AWS_REGION"),
                (None, None, Some(r)) => (Some(r.clone()), "AWS_DEFAULT_REGION"),
                _ => (None, ""),
            };
        if let Some(r) = &region {
            validate::region(r).map_err(|e| {
                usage!("{region_from}: {e}; set it to the region of your registry and cluster")
            })?;
        }
        if let Some(a) = &src.account_id {
            validate::account_id(a).map_err(|e| {
                usage!("AWS_ACCOUNT_ID: {e}; set it to the account that owns the registry")
            })?;
        }
        if let Some(alias) = &src.public_alias {
            validate_alias(alias)?;
        }
        Ok(Settings {
            region,
            account_id: src.account_id,
            public_alias: src.public_alias,
        })
    }

    /// The region, or a usage error saying how to set it.
    pub fn require_region(&self) -> Result<&str> {
        self.region.as_deref().ok_or_else(|| {
            usage!("no AWS region: set AWS_DEFAULT_REGION (or AWS_REGION, or pass --region)")
        })
    }

    /// The account id, or a usage error saying how to set it.
    pub fn require_account(&self) -> Result<&str> {
        self.account_id.as_deref().ok_or_else(|| {
            usage!(
                "AWS_ACCOUNT_ID is not set: set it to the 12-digit account that owns the registry"
            )
        })
    }

    /// The ECR Public alias, or a usage error saying how to set it.
    pub fn require_alias(&self) -> Result<&str> {
        self.public_alias.as_deref().ok_or_else(|| {
            usage!("AWS_ECR_PUBLIC_REGISTRY_ALIAS is not set: set it to your ECR Public registry alias (public.ecr.aws/<alias>)")
        })
    }
}

/// An ECR Public alias: 2–50 characters, `[a-z][a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn validate_alias(alias: &str) -> Result<()> {
    let ok = (2..=50).contains(&alias.len())
        && alias.starts_with(|c: char| c.is_ascii_lowercase())
        && validate::repository_name(alias).is_ok()
        && !alias.contains('/');
    if ok {
        Ok(())
    } else {
        Err(usage!(
            "AWS_ECR_PUBLIC_REGISTRY_ALIAS: '{alias}' is not a registry alias (2-50 lowercase letters, digits, '.', '_', '-', starting with a letter)"
        ))
    }
}

/// The DNS suffix of a region's partition.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The IAM partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The private registry host: `<account>.dkr.ecr.<region>.amazonaws.com` (`.com.cn` in China),
/// or `STEVEDORE_PRIVATE_REGISTRY_HOST` (a local stand-in such as the sandbox's), as
/// `STEVEDORE_PUBLIC_REGISTRY_HOST` does for ECR Public.
pub fn private_registry(account: &str, region: &str) -> String {
    env_var("STEVEDORE_PRIVATE_REGISTRY_HOST")
        .unwrap_or_else(|| format!("{account}.dkr.ecr.{region}.{}", dns_suffix(region)))
}

/// The ECR Public registry host: `public.ecr.aws`, or `STEVEDORE_PUBLIC_REGISTRY_HOST` (a local
/// stand-in such as the sandbox's).
pub fn public_registry_host() -> String {
    env_var("STEVEDORE_PUBLIC_REGISTRY_HOST").unwrap_or_else(|| ECR_PUBLIC_HOST.to_string())
}

/// The public registry prefix: `public.ecr.aws/<alias>` (on the overridden host, if any).
pub fn public_registry(alias: &str) -> String {
    format!("{}/{alias}", public_registry_host())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Sources {
        Sources::default()
    }

    #[test]
    fn region_precedence_flag_then_aws_region_then_default() {
        let mut s = src();
        s.aws_default_region = Some("eu-west-1".into());
        assert_eq!(
            Settings::resolve(s.clone()).unwrap().region.as_deref(),
            Some("eu-west-1")
        );
        s.aws_region = Some("eu-west-2".into());
        assert_eq!(
            Settings::resolve(s.clone()).unwrap().region.as_deref(),
            Some("eu-west-2")
        );
        s.region_flag = Some("us-west-2".into());
        assert_eq!(
            Settings::resolve(s).unwrap().region.as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn invalid_values_name_their_source() {
        let mut s = src();
        s.aws_default_region = Some("Frankfurt".into());
        let e = Settings::resolve(s).unwrap_err().to_string();
        assert!(e.starts_with("AWS_DEFAULT_REGION:"), "{e}");
        let mut s = src();
        s.account_id = Some("1234".into());
        assert!(Settings::resolve(s)
            .unwrap_err()
            .to_string()
            .starts_with("AWS_ACCOUNT_ID:"));
        let mut s = src();
        s.public_alias = Some("My Alias".into());
        assert!(Settings::resolve(s)
            .unwrap_err()
            .to_string()
            .starts_with("AWS_ECR_PUBLIC_REGISTRY_ALIAS:"));
    }

    #[test]
    fn missing_values_say_how_to_set_them() {
        let s = Settings::resolve(src()).unwrap();
        assert!(s
            .require_region()
            .unwrap_err()
            .to_string()
            .contains("AWS_DEFAULT_REGION"));
        assert!(s
            .require_account()
            .unwrap_err()
            .to_string()
            .contains("AWS_ACCOUNT_ID"));
        assert!(s
            .require_alias()
            .unwrap_err()
            .to_string()
            .contains("AWS_ECR_PUBLIC_REGISTRY_ALIAS"));
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(
            private_registry("123456789012", "us-east-1"),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(
            private_registry("123456789012", "cn-north-1"),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            private_registry("123456789012", "cn-northwest-1"),
            "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn"
        );
        assert_eq!(public_registry("acme"), "public.ecr.aws/acme");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }
}

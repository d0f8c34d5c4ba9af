//! `stevedore auth` and `stevedore whoami`: assuming a role with the job's OIDC token (or with
//! the standard credential chain), exporting the credentials, and explaining refusals.

mod choice;
pub mod oidc;

use choice::Source;

use crate::aws::credentials::{Reassume, Refreshing};
use crate::aws::error::{backoff, describe, is_retryable};
use crate::cli::{AuthArgs, WhoamiArgs};
use crate::config::{self, Settings};
use crate::error::usage;
use crate::export;
use crate::validate::{self, RoleArn};
use anyhow::{Context, Result};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::date_time::Format;
use oidc::Token;
use std::path::PathBuf;
use std::time::SystemTime;

/// The codes by which STS refuses a token or a role; they get an explanation.
const REFUSALS: [&str; 5] = [
    "AccessDenied",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "ExpiredTokenException",
    "InvalidParameterValue",
];
const MAX_ATTEMPTS: u32 = 4;

/// Where the temporary credentials go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    BashEnv(PathBuf),
    Profile(String),
}

/// The role to assume: `--role-arn`, else `AWS_ROLE_ARN`, else `--role-name` in `AWS_ACCOUNT_ID`.
pub fn resolve_role(
    arn_flag: Option<&str>,
    aws_role_arn: Option<&str>,
    role_name: Option<&str>,
    settings: &Settings,
) -> Result<Option<(String, RoleArn)>> {
    let (arn, source) = match (arn_flag, aws_role_arn, role_name) {
        (Some(a), _, _) => (a.to_string(), "--role-arn (STEVEDORE_ROLE_ARN)"),
        (None, _, Some(name)) => {
            let account = settings
                .account_id
                .as_deref()
                .ok_or_else(|| usage!("--role-name needs AWS_ACCOUNT_ID to build the role ARN: set it, or pass --role-arn"))?;
            let partition = config::partition(settings.region.as_deref().unwrap_or("us-east-1"));
            (
                format!(
                    "arn:{partition}:iam::{account}:role/{}",
                    name.trim_start_matches('/')
                ),
                "--role-name (STEVEDORE_ROLE_NAME)",
            )
        }
        (None, Some(a), None) => (a.to_string(), "AWS_ROLE_ARN"),
        (None, None, None) => return Ok(None),
    };
    let parsed = validate::role_arn(&arn).map_err(|e| usage!("{source}: {e}"))?;
    Ok(Some((arn, parsed)))
}

fn validate_session_name(name: &str) -> Result<()> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(usage!("--session-name (STEVEDORE_SESSION_NAME): '{name}' must be 2-64 of letters, digits and _+=,.@-"))
    }
}

fn validate_profile_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        Ok(())
    } else {
        Err(usage!("--profile-name (STEVEDORE_PROFILE_NAME): '{name}' may hold only letters, digits, '_', '.' and '-'"))
    }
}

/// Temporary credentials, kept out of `Debug` output.
pub struct TempCredentials {
    pub access_key_id: String,
    secret_access_key: String,
    session_token: String,
    pub expiration: String,
    pub assumed_arn: Option<String>,
}

impl std::fmt::Debug for TempCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl TempCredentials {
    /// The credentials for an in-process client (the doctor's probes).
    pub fn to_sdk(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            Some(self.session_token.clone()),
            None,
            "stevedore-doctor",
        )
    }

    fn from_sts(
        c: Option<&aws_sdk_sts::types::Credentials>,
        assumed_arn: Option<String>,
    ) -> Result<Self> {
        let c = c.context("STS answered without credentials")?;
        Ok(TempCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            expiration: c.expiration().fmt(Format::DateTime).unwrap_or_default(),
            assumed_arn,
        })
    }

    /// Write the credentials where later steps will find them.
    pub fn export(&self, target: &ExportTarget, region: Option<&str>) -> Result<()> {
        match target {
            ExportTarget::BashEnv(path) => export::append_bash_env(
                path,
                &[
                    ("AWS_ACCESS_KEY_ID", &self.access_key_id),
                    ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
                    ("AWS_SESSION_TOKEN", &self.session_token),
                    (crate::handoff::CREDENTIAL_EXPIRATION, &self.expiration),
                ],
            ),
            ExportTarget::Profile(name) => {
                export::write_ini_section(
                    &export::credentials_file()?,
                    name,
                    &[
                        ("aws_access_key_id", &self.access_key_id),
                        ("aws_secret_access_key", &self.secret_access_key),
                        ("aws_session_token", &self.session_token),
                    ],
                )?;
                if let Some(r) = region {
                    let section = if name == "default" {
                        "default".to_string()
                    } else {
                        format!("profile {name}")
                    };
                    export::write_ini_section(&export::config_file()?, &section, &[("region", r)])?;
                }
                Ok(())
            }
        }
    }
}

/// `stevedore auth`.
pub async fn run_auth(settings: &Settings, args: AuthArgs) -> Result<()> {
    // Everything the user gave is checked before any call.
    let duration = args.duration;
    let aws_role_arn = config::env_var("AWS_ROLE_ARN");
    let role = resolve_role(
        args.role_arn.as_deref(),
        aws_role_arn.as_deref(),
        args.role_name.as_deref(),
        settings,
    )?;
    let target = match (&args.profile_name, &args.bash_env) {
        (Some(p), _) => {
            validate_profile_name(p)?;
            ExportTarget::Profile(p.clone())
        }
        (None, Some(f)) if !f.as_os_str().is_empty() => ExportTarget::BashEnv(f.clone()),
        _ => {
            return Err(usage!(
                "nowhere to put the credentials: BASH_ENV is not set (CircleCI sets it in every job); pass --bash-env FILE or --profile-name NAME"
            ))
        }
    };
    let session = match &args.session_name {
        Some(s) => {
            validate_session_name(s)?;
            s.clone()
        }
        None => oidc::session_name(
            config::env_var("CIRCLE_PROJECT_REPONAME").as_deref(),
            config::env_var("CIRCLE_BUILD_NUM").as_deref(),
            SystemTime::now(),
        ),
    };
    let audience = args
        .audience
        .clone()
        .or_else(|| config::env_var("CIRCLE_ORGANIZATION_ID"));
    let region = settings.region.as_deref();
    let keys = config::env_var("AWS_ACCESS_KEY_ID").is_some()
        && config::env_var("AWS_SECRET_ACCESS_KEY").is_some();
    let chosen = choice::choose(
        args.credentials,
        choice::Available {
            token: oidc::token_source(),
            role: role.is_some(),
            keys,
        },
    )?;

    let mut reassume_with = None;
    let creds = match (chosen.source, role) {
        (Source::Oidc, Some((arn, parsed))) => {
            // Read (and checked) only now: a malformed token must not stop a job that uses keys.
            let token = oidc::find_token(audience.as_deref())?
                .context("the OIDC token went away while auth ran")?;
            println!(
                "Assuming {arn} with the OIDC token from {} (session {session})",
                token.source
            );
            let c =
                assume_with_web_identity(region, &token, &arn, &parsed, &session, duration).await?;
            reassume_with = Some(arn);
            c
        }
        (_, Some((arn, _))) => {
            if let Some(var) = oidc::empty_token_variable() {
                if !keys && config::env_var("AWS_PROFILE").is_none() {
                    return Err(usage!(
                        "{var} is set but empty and there are no access keys: enable OIDC for the project (or run in a context that provides it), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    ));
                }
            }
            println!(
                "Assuming {arn} with {} (session {session}): {}",
                chosen.source.describe(),
                chosen.why
            );
            assume_with_chain(region, &arn, &session, duration).await?
        }
        (_, None) => {
            let id = caller_identity(region).await.with_context(|| match chosen.source {
                Source::Keys => "STS did not accept the access keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
                _ => "no OIDC token (CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN) and no role, and the standard credential chain did not work; enable OIDC and set AWS_ROLE_ARN, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
            })?;
            println!(
                "Using {} as they are, as {} (nothing exported): {}",
                chosen.source.describe(),
                id.arn,
                chosen.why
            );
            return Ok(());
        }
    };
    creds.export(&target, region)?;
    // What a later step needs to assume the role again when a long wait outlives these
    // credentials (the orb passes the role only to this step); never the token, which each step
    // reads afresh.
    if let (Some(arn), ExportTarget::BashEnv(path)) = (&reassume_with, &target) {
        let mut vars = vec![(REASSUME_ROLE_ARN, arn.as_str())];
        if let Some(a) = &args.audience {
            vars.push((REASSUME_AUDIENCE, a.as_str()));
        }
        crate::export::append_bash_env(path, &vars)?;
    }
    let dest = match &target {
        ExportTarget::BashEnv(p) => format!("exported to $BASH_ENV ({})", p.display()),
        ExportTarget::Profile(p) => format!("written to profile '{p}' (use AWS_PROFILE={p})"),
    };
    println!(
        "Assumed {} until {}; credentials {dest}",
        creds.assumed_arn.as_deref().unwrap_or("the role"),
        creds.expiration
    );
    Ok(())
}

use crate::handoff::{REASSUME_AUDIENCE, REASSUME_ROLE_ARN};

/// The credentials commands sign with: the SDK's chain (or `keys`, when given), re-assumed with
/// the job's OIDC token ahead of expiry and after an ExpiredToken answer (see [`reassume`]).
pub async fn credentials(
    region: &str,
    keys: Option<aws_credential_types::Credentials>,
) -> Result<std::sync::Arc<Refreshing>> {
    let chain = match keys {
        Some(c) => aws_credential_types::provider::SharedCredentialsProvider::new(c),
        None => {
            let conf = crate::aws::sdk::sdk_config(Some(region), false).await?;
            conf.credentials_provider().context("no AWS credentials: run `stevedore auth` first, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?
        }
    };
    let region = region.to_string();
    let again: Reassume = std::sync::Arc::new(move || {
        let region = region.clone();
        Box::pin(async move { reassume(&region).await })
    });
    Ok(std::sync::Arc::new(Refreshing::new(chain, Some(again))))
}

/// Assume the job's role again with a fresh OIDC token, for waits that outlive the credentials:
/// the step's own role flags, else the role `stevedore auth` recorded in an earlier step, else
/// AWS_ROLE_ARN. `Ok(None)` when there is no token or no role to do it with.
pub async fn reassume(region: &str) -> Result<Option<aws_credential_types::Credentials>> {
    let settings = Settings::resolve(config::Sources::from_env(Some(region.to_string())))?;
    let (flag, name) = (
        config::env_var("STEVEDORE_ROLE_ARN"),
        config::env_var("STEVEDORE_ROLE_NAME"),
    );
    // The recorded role stands in for --role-arn unless this step names a role itself.
    let arn = flag.or_else(|| config::env_var(REASSUME_ROLE_ARN).filter(|_| name.is_none()));
    let role = resolve_role(
        arn.as_deref(),
        config::env_var("AWS_ROLE_ARN").as_deref(),
        name.as_deref(),
        &settings,
    )?;
    let Some((arn, parsed)) = role else {
        return Ok(None);
    };
    let audience = config::env_var("STEVEDORE_OIDC_AUDIENCE")
        .or_else(|| config::env_var(REASSUME_AUDIENCE))
        .or_else(|| config::env_var("CIRCLE_ORGANIZATION_ID"));
    let Some(token) = oidc::find_token(audience.as_deref())? else {
        return Ok(None);
    };
    let session = oidc::session_name(
        config::env_var("CIRCLE_PROJECT_REPONAME").as_deref(),
        config::env_var("CIRCLE_BUILD_NUM").as_deref(),
        SystemTime::now(),
    );
    let c = assume_with_web_identity(Some(region), &token, &arn, &parsed, &session, 3600).await?;
    let expiry = aws_smithy_types::DateTime::from_str(&c.expiration, Format::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok());
    println!(
        "re-assumed {arn} (credentials valid until {})",
        c.expiration
    );
    Ok(Some(aws_credential_types::Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
        Some(c.session_token.clone()),
        expiry,
        "stevedore-reassumed",
    )))
}

fn sts_region(region: Option<&str>) -> &str {
    // STS answers in every region; without one configured, the global partition's home will do.
    region.unwrap_or("us-east-1")
}

pub(crate) async fn assume_with_web_identity(
    region: Option<&str>,
    token: &Token,
    arn: &str,
    role: &RoleArn,
    session: &str,
    duration: i32,
) -> Result<TempCredentials> {
    let conf = crate::aws::sdk::sdk_config(Some(sts_region(region)), true).await?;
    let sts = aws_sdk_sts::Client::new(&conf);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = sts
            .assume_role_with_web_identity()
            .role_arn(arn)
            .role_session_name(session)
            .web_identity_token(token.secret())
            .duration_seconds(duration)
            .send()
            .await;
        match res {
            Ok(out) => {
                let assumed = out.assumed_role_user().map(|u| u.arn().to_string());
                return TempCredentials::from_sts(out.credentials(), assumed);
            }
            Err(e) if attempt < MAX_ATTEMPTS && is_retryable(&e) => {
                let wait = backoff(attempt);
                println!(
                    "STS answered {} (attempt {attempt}/{MAX_ATTEMPTS}); retrying in {} ms",
                    e.code().unwrap_or("an error"),
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(explain_refusal(&e, token, arn, role)),
        }
    }
}

pub(crate) async fn assume_with_chain(
    region: Option<&str>,
    arn: &str,
    session: &str,
    duration: i32,
) -> Result<TempCredentials> {
    let conf = crate::aws::sdk::sdk_config(Some(sts_region(region)), false).await?;
    let sts = aws_sdk_sts::Client::new(&conf);
    let out = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name(session)
        .duration_seconds(duration)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("STS AssumeRole of {arn} failed: {}", describe(&e)))?;
    let assumed = out.assumed_role_user().map(|u| u.arn().to_string());
    TempCredentials::from_sts(out.credentials(), assumed)
}

/// STS refused the job's OIDC token for the role: the message says why and what would admit it.
/// Callers that explain set-ups (doctor) branch on this type, never on the text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenRefused(pub String);

/// Turn an STS refusal into something a user can act on: the token's claims beside the role,
/// and a trust-policy statement that would admit the token. Never the token itself.
fn explain_refusal<E, R>(
    e: &SdkError<E, R>,
    token: &Token,
    arn: &str,
    role: &RoleArn,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let redact = |s: String| s.replace(token.secret(), "<token>");
    let what = redact(describe(e));
    if !e.code().is_some_and(|c| REFUSALS.contains(&c)) {
        return anyhow::anyhow!("STS AssumeRoleWithWebIdentity for {arn} failed: {what}");
    }
    let mut msg = format!(
        "STS refused the OIDC token from {} for {arn}: {what}\n  token claims: {}",
        token.source,
        token.claims.summary(SystemTime::now())
    );
    if let Some(stmt) = token
        .claims
        .admitting_trust_statement(&role.partition, &role.account)
    {
        msg.push_str(&format!(
            "\n  the role's trust policy must allow this token, for example with this statement (and the account needs the OIDC provider it names):\n  {}",
            serde_json::to_string(&stmt).unwrap_or_default()
        ));
    }
    anyhow::Error::new(TokenRefused(redact(msg)))
}

/// The caller's identity.
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// STS GetCallerIdentity with the standard credential chain.
pub async fn caller_identity(region: Option<&str>) -> Result<Identity> {
    let conf = crate::aws::sdk::sdk_config(Some(sts_region(region)), false).await?;
    let out = aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("STS GetCallerIdentity failed: {}", describe(&e)))?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

/// `stevedore whoami`.
pub async fn run_whoami(settings: &Settings, args: WhoamiArgs) -> Result<()> {
    let id = caller_identity(settings.region.as_deref()).await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"account": id.account, "arn": id.arn, "userId": id.user_id})
        );
    } else {
        println!(
            "account: {}\narn:     {}\nuser id: {}",
            id.account, id.arn, id.user_id
        );
    }
    if let Some(expected) = &settings.account_id {
        if expected != &id.account {
            eprintln!(
                "warning: AWS_ACCOUNT_ID is {expected} but these credentials belong to {}",
                id.account
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(crate::cli::session_duration("3600"), Ok(3600));
        assert_eq!(crate::cli::session_duration("1h"), Ok(3600));
        assert_eq!(crate::cli::session_duration("45m"), Ok(2700));
        assert_eq!(crate::cli::session_duration("900s"), Ok(900));
        assert!(crate::cli::session_duration("10m")
            .unwrap_err()
            .contains("outside 15m to 12h"));
        assert!(crate::cli::session_duration("1000.5s").is_err());
        assert!(crate::cli::session_duration("13h").is_err());
        assert!(crate::cli::session_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
    }

    fn settings(account: Option<&str>, region: Option<&str>) -> Settings {
        Settings {
            region: region.map(Into::into),
            account_id: account.map(Into::into),
            public_alias: None,
        }
    }

    #[test]
    fn role_resolution_order_and_errors() {
        let s = settings(Some("123456789012"), Some("cn-north-1"));
        let (arn, _) = resolve_role(None, None, Some("ci"), &s).unwrap().unwrap();
        assert_eq!(arn, "arn:aws-cn:iam::123456789012:role/ci");
        let (arn, _) = resolve_role(None, Some("arn:aws:iam::210987654321:role/x"), None, &s)
            .unwrap()
            .unwrap();
        assert!(arn.contains("210987654321"));
        let (arn, _) = resolve_role(
            Some("arn:aws:iam::111111111111:role/y"),
            Some("arn:aws:iam::210987654321:role/x"),
            None,
            &s,
        )
        .unwrap()
        .unwrap();
        assert!(arn.contains("111111111111"));
        assert!(resolve_role(None, None, None, &s).unwrap().is_none());
        let e = resolve_role(None, Some("deployer"), None, &s)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("AWS_ROLE_ARN:"), "{e}");
        let e = resolve_role(None, None, Some("ci"), &settings(None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_ACCOUNT_ID"), "{e}");
    }

    #[test]
    fn names() {
        assert!(validate_session_name("ok-name").is_ok());
        assert!(validate_session_name("a").is_err());
        assert!(validate_session_name("has space").is_err());
        assert!(validate_profile_name("ci-prod").is_ok());
        assert!(validate_profile_name("a]b").is_err());
    }
}

//! `stevedore doctor`: the set-up checked in the order a job needs it — OIDC token, role,
//! variables against the caller identity, repository, cluster and service, the task roles, and
//! the permissions the push and deploy need (probed with calls that change nothing). One line per
//! check; the first failure stops the run and says the exact change to make.

mod checks;
mod probes;
mod registry;

pub use checks::{denied_action, refusal_fix, variables_check, Failure};

use crate::auth;
use crate::auth::oidc::{self};
use crate::cli::DoctorArgs;
use crate::config::{self, Settings};
use anyhow::Result;
use checks::*;
use probes::{Doctor, Target};
use std::time::SystemTime;

fn report(name: &str, check: &Check) {
    match check {
        Ok(detail) if detail.starts_with(WARNING) => {
            println!("warn  {name}: {}", &detail[WARNING.len()..])
        }
        Ok(detail) => println!("ok    {name}: {detail}"),
        Err(f) => {
            println!("FAIL  {name}: {}", f.problem);
            println!("      fix: {}", f.fix);
        }
    }
}

/// An `Ok` detail that is a warning: said, but not a failure.
const WARNING: &str = "warning: ";

/// `stevedore doctor`.
pub async fn run(settings: &Settings, args: DoctorArgs) -> Result<()> {
    let failed = || {
        Err(crate::error::Outcome {
            code: crate::error::EXIT_FAILURE,
            message: "doctor: a check failed; the line above says the fix".into(),
        }
        .into())
    };
    let Some(token) = check_token(args.audience.as_deref()) else {
        return failed();
    };
    let role = (args.role_arn.as_deref(), args.role_name.as_deref());
    let Some(creds) = check_role(settings, role, token.as_ref()).await else {
        return failed();
    };
    // 3. Variables against the caller identity.
    let region = settings.region.clone();
    let identity = match caller_identity(region.as_deref(), creds.clone()).await {
        Ok(id) => id,
        Err(e) => {
            report(
                "variables",
                &Err(fail(
                    format!("STS GetCallerIdentity: {e:#}"),
                    "check the credentials and the network",
                )),
            );
            return failed();
        }
    };
    let check = variables_check(
        &config::Sources::from_env(None),
        &identity.0,
        args.repo.is_some() && !args.public,
        args.public,
    )
    .map(|d| format!("{d}, as {}", identity.1));
    report("variables", &check);
    if check.is_err() {
        return failed();
    }
    let doctor = Doctor {
        region: settings.region.clone().unwrap_or_default(),
        target: Target::from_args(&args),
        creds,
        account: identity.0,
    };
    // 4. The repository.
    if let Some(repo) = doctor.target.repo.clone() {
        let check = doctor.repository(&repo).await;
        report("repository", &check);
        if check.is_err() {
            return failed();
        }
    }
    // 5–6. Cluster, services and their task roles.
    if let Some(cluster) = doctor.target.cluster.clone() {
        let ecs = match doctor.ecs().await {
            Ok(c) => c,
            Err(f) => {
                report("service", &Err(f));
                return failed();
            }
        };
        for service in doctor.target.services.clone() {
            let (td, rollout, how) = match doctor.service(&ecs, &cluster, &service).await {
                Ok(x) => x,
                Err(f) => {
                    report("service", &Err(f));
                    return failed();
                }
            };
            report(
                "service",
                &Ok(format!(
                    "{cluster}/{service} ACTIVE, {}{how}, last rollout {rollout}",
                    td.rsplit('/').next().unwrap_or(&td)
                )),
            );
            let check = doctor.task_roles(&ecs, &td).await;
            report("task roles", &check);
            if check.is_err() {
                return failed();
            }
            report(
                "logs",
                &doctor.logging(&ecs, &td).await.map(|w| match w {
                    Some(w) => format!("{WARNING}{w}"),
                    None => format!(
                        "every container of {} writes to CloudWatch Logs (awslogs)",
                        td.rsplit('/').next().unwrap_or(&td)
                    ),
                }),
            );
        }
    }
    // 7. Permissions.
    let check = doctor.permissions().await;
    report("permissions", &check);
    if check.is_err() {
        return failed();
    }
    println!("stevedore doctor: all checks passed");
    Ok(())
}

/// Check 1, the OIDC token (or access keys instead), reported; `None` when it failed.
fn check_token(audience: Option<&str>) -> Option<Option<oidc::Token>> {
    let audience = audience
        .map(String::from)
        .or_else(|| config::env_var("CIRCLE_ORGANIZATION_ID"));
    let keys =
        config::env_var("AWS_ACCESS_KEY_ID").is_some() || config::env_var("AWS_PROFILE").is_some();
    let token = match oidc::find_token(audience.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            report("oidc token", &Err(fail(format!("{e:#}"), "run inside a CircleCI job of a project with OIDC (it sets CIRCLE_OIDC_TOKEN_V2), or use access keys")));
            return None;
        }
    };
    let check = match (&token, keys) {
        (Some(t), _) => Ok(format!("{} ({})", t.source, t.claims.summary(SystemTime::now()))),
        (None, true) => Ok("no OIDC token; the access keys (AWS_ACCESS_KEY_ID) are used".into()),
        (None, false) => Err(fail(
            match oidc::empty_token_variable() {
                Some(v) => format!("{v} is set but empty"),
                None => "no OIDC token (CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN) and no access keys".into(),
            },
            "enable OIDC: CircleCI sets CIRCLE_OIDC_TOKEN_V2 in jobs of projects that use it (Project Settings > OIDC); or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )),
    };
    report("oidc token", &check);
    check.ok().map(|_| token)
}

/// Check 2, the role (`--role-arn`, `--role-name`), assumed for a short session; reported. `None` when it failed, else the
/// credentials the later checks use (none: the chain's own).
async fn check_role(
    settings: &Settings,
    (role_arn, role_name): (Option<&str>, Option<&str>),
    token: Option<&oidc::Token>,
) -> Option<Option<aws_credential_types::Credentials>> {
    let region = settings.region.clone();
    let role = auth::resolve_role(
        role_arn,
        config::env_var("AWS_ROLE_ARN").as_deref(),
        role_name,
        settings,
    );
    let session = oidc::session_name(Some("doctor"), None, SystemTime::now());
    let (check, creds) = match (role, token) {
        (Err(e), _) => (Err(fail(format!("{e:#}"), "set AWS_ROLE_ARN (or --role-name with AWS_ACCOUNT_ID) to the CI role")), None),
        (Ok(None), Some(_)) => (Err(fail("an OIDC token but no role to assume", "set AWS_ROLE_ARN to the CI role's ARN, or STEVEDORE_ROLE_NAME with AWS_ACCOUNT_ID")), None),
        (Ok(None), None) => (Ok("no role: the access keys are used as they are".into()), None),
        (Ok(Some((arn, parsed))), Some(t)) => {
            match auth::assume_with_web_identity(region.as_deref(), t, &arn, &parsed, &session, 900).await {
                Ok(c) => (Ok(format!("assumed {}", c.assumed_arn.as_deref().unwrap_or(&arn))), Some(c.to_sdk())),
                Err(e) if e.chain().any(|c| c.is::<auth::TokenRefused>()) => (Err(refusal_fix(&t.claims, &arn)), None),
                Err(e) => (Err(fail(format!("{e:#}"), "check the network, AWS_DEFAULT_REGION and the role ARN")), None),
            }
        }
        (Ok(Some((arn, _))), None) => match auth::assume_with_chain(region.as_deref(), &arn, &session, 900).await {
            Ok(c) => (Ok(format!("assumed {} with the access keys", c.assumed_arn.as_deref().unwrap_or(&arn))), Some(c.to_sdk())),
            Err(e) => (Err(fail(format!("{e:#}"), format!("allow sts:AssumeRole on {arn} for the access keys' user, and trust that user in the role"))), None),
        },
    };
    report("role", &check);
    check.ok().map(|_| creds)
}

/// `(account, arn)` of the caller, with explicit credentials when given.
async fn caller_identity(
    region: Option<&str>,
    creds: Option<aws_credential_types::Credentials>,
) -> Result<(String, String)> {
    let conf = crate::aws::sdk::sdk_config(Some(region.unwrap_or("us-east-1")), false).await?;
    let mut builder = aws_sdk_sts::config::Builder::from(&conf);
    if let Some(c) = creds {
        builder = builder.credentials_provider(c);
    }
    let out = aws_sdk_sts::Client::from_conf(builder.build())
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(crate::aws::error::describe(&e)))?;
    Ok((
        out.account().unwrap_or_default().to_string(),
        out.arn().unwrap_or_default().to_string(),
    ))
}

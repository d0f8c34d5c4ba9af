//! STS over awsQuery: AssumeRoleWithWebIdentity (the JWT verified for real against the
//! sandbox's issuer key and the role's trust policy), AssumeRole, GetCallerIdentity.

use crate::awsjson::{xml_escape, AwsError};
use crate::jwt::Issuer;
use crate::state::{iso8601, Caller, Credential, State};
use crate::trust::{self, WebIdentity};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

fn param<'a>(p: &'a BTreeMap<String, String>, k: &str) -> Result<&'a str, AwsError> {
    p.get(k)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::client("ValidationError", format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(k))))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn role_name_from_arn(arn: &str, account: &str) -> Result<String, AwsError> {
    let prefix = format!("arn:aws:iam::{account}:role/");
    arn.strip_prefix(&prefix)
        .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            AwsError::client(
                "ValidationError",
                format!("{arn} is not a role ARN of account {account}"),
            )
        })
}

fn check_session(p: &BTreeMap<String, String>, max: i64) -> Result<(String, i64), AwsError> {
    let session = param(p, "RoleSessionName")?.to_string();
    let ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !ok {
        return Err(AwsError::client(
            "ValidationError",
            format!("1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
        ));
    }
    let duration = match p.get("DurationSeconds") {
        Some(d) => d
            .parse::<i64>()
            .map_err(|_| AwsError::client("ValidationError", "DurationSeconds is not a number"))?,
        None => 3600,
    };
    if duration < 900 {
        return Err(AwsError::client("ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"));
    }
    if duration > max {
        return Err(AwsError::client(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok((session, duration))
}

fn credentials_xml(akid: &str, c: &Credential) -> String {
    format!(
        "<Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><Arn>{}</Arn><AssumedRoleId>{}</AssumedRoleId></AssumedRoleUser>",
        xml_escape(&c.secret),
        xml_escape(c.session_token.as_deref().unwrap_or_default()),
        iso8601(c.expires.unwrap_or_default()),
        xml_escape(&c.arn),
        xml_escape(&c.user_id)
    )
}

/// AssumeRoleWithWebIdentity: verify the token, then the trust policy. Returns the result XML
/// and, for the sandbox's log, why a refusal happened.
pub fn assume_role_with_web_identity(
    state: &mut State,
    issuer: &Issuer,
    p: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let account = state.config.account_id.clone();
    let role_arn = param(p, "RoleArn")?;
    let token = param(p, "WebIdentityToken")?;
    let claims = issuer.verify(token).map_err(|why| {
        AwsError::client(
            "InvalidIdentityToken",
            format!("Couldn't verify the token: {why}"),
        )
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now {
        return Err(AwsError::client(
            "ExpiredTokenException",
            format!("Token expired: current date/time {now} must be before the expiration date/time {exp}"),
        ));
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let provider = iss
        .split_once("://")
        .map_or(iss, |(_, r)| r)
        .trim_end_matches('/')
        .to_string();
    let role_name = role_name_from_arn(role_arn, &account)?;
    // AWS's words, then the sandbox's reason on a second line marked as the sandbox's own (AWS
    // never says why), so a user of the sandbox sees it without reading the sandbox's log.
    let denied = |why: &str| {
        eprintln!("sandbox: AssumeRoleWithWebIdentity of {role_name} refused: {why}");
        AwsError::new(
            403,
            "AccessDenied",
            format!("Not authorized to perform sts:AssumeRoleWithWebIdentity\n(stevedore-sandbox only, AWS does not say why: {why})"),
        )
    };
    let role = state
        .roles
        .get(&role_name)
        .cloned()
        .ok_or_else(|| denied(&format!("there is no role {role_name} in the sandbox")))?;
    let (session, duration) = check_session(p, role.max_session_duration)?;
    trust::admits_web_identity(
        &role.trust_policy,
        &account,
        &WebIdentity {
            provider,
            claims: &claims,
        },
    )
    .map_err(|why| denied(&why))?;
    let (akid, cred) = state.issue(&role_name, &session, duration);
    Ok(format!(
        "{}<SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken><Audience>{}</Audience><Provider>{}</Provider>",
        credentials_xml(&akid, &cred),
        xml_escape(claims.get("sub").and_then(Value::as_str).unwrap_or_default()),
        xml_escape(&trust::strings(claims.get("aud")).join(",")),
        xml_escape(iss)
    ))
}

/// AssumeRole with signed credentials: the role must trust the caller's account.
pub fn assume_role(
    state: &mut State,
    caller: &Caller,
    p: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let account = state.config.account_id.clone();
    let role_name = role_name_from_arn(param(p, "RoleArn")?, &account)?;
    let denied = || {
        AwsError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole",
                caller.arn
            ),
        )
    };
    let role = state.roles.get(&role_name).cloned().ok_or_else(denied)?;
    let (session, duration) = check_session(p, role.max_session_duration)?;
    let root = format!("arn:aws:iam::{account}:root");
    let trusted = match role.trust_policy.get("Statement") {
        Some(Value::Array(stmts)) => stmts.iter().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && trust::strings(s.get("Action"))
                    .iter()
                    .any(|a| trust::action_matches(a, "sts:AssumeRole"))
                && trust::strings(s.get("Principal").and_then(|p| p.get("AWS")))
                    .iter()
                    .any(|p| *p == root || *p == caller.arn)
        }),
        _ => false,
    };
    // The default roles trust only CircleCI's provider; the sandbox lets its administrator in too,
    // standing in for the account-level trust most set-ups add for humans.
    if !trusted && caller.role.is_some() {
        return Err(denied());
    }
    let (akid, cred) = state.issue(&role_name, &session, duration);
    Ok(credentials_xml(&akid, &cred))
}

pub fn get_caller_identity(state: &State, caller: &Caller) -> String {
    format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
        xml_escape(&caller.arn),
        xml_escape(&caller.user_id),
        state.config.account_id
    )
}

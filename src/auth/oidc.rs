//! CircleCI OIDC tokens: where to find one, how to mint one, and what its claims say.
//!
//! The token itself is a secret: nothing here prints it, and [`Token`]'s `Debug` hides it.

use crate::error::usage;
use anyhow::{Context, Result};
use base64::Engine;
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A web-identity token and where it came from.
pub struct Token {
    secret: String,
    /// Where the token came from, e.g. `CIRCLE_OIDC_TOKEN_V2`, for messages.
    pub source: String,
    pub claims: Claims,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("source", &self.source)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Parse a JWT's claims without verifying it (STS verifies); refuse expired tokens early.
    pub fn parse(secret: &str, source: &str, now: SystemTime) -> Result<Token> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(usage!(
                "{source} is empty: enable OIDC for the project, or unset it to use access keys"
            ));
        }
        let claims = Claims::decode(secret).map_err(|why| {
            usage!("{source}: not a JWT ({why}); pass the token exactly as CircleCI provides it")
        })?;
        if let Some(exp) = claims.exp {
            let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            if exp <= now_s {
                return Err(usage!(
                    "{source} expired at {} ({} ago): CircleCI OIDC tokens live one hour; re-run the job or mint a new one with `circleci run oidc get`",
                    fmt_unix(exp),
                    fmt_age(now_s - exp)
                ));
            }
        }
        Ok(Token {
            secret: secret.to_string(),
            source: source.to_string(),
            claims,
        })
    }

    /// The raw token, to hand to STS and nowhere else.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

/// The non-secret claims stevedore reads and prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Claims {
    pub iss: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub sub: Option<String>,
    pub exp: Option<u64>,
    /// CircleCI's `oidc.circleci.com/vcs-origin` (`github.com/acme/app`).
    #[serde(rename = "oidc.circleci.com/vcs-origin")]
    pub vcs_origin: Option<String>,
    /// CircleCI's `oidc.circleci.com/vcs-ref` (`refs/heads/main`).
    #[serde(rename = "oidc.circleci.com/vcs-ref")]
    pub vcs_ref: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => vec![],
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

impl Claims {
    /// Decode the payload of a compact JWS (`header.payload.signature`).
    pub fn decode(jwt: &str) -> std::result::Result<Claims, String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err(format!(
                "expected 3 dot-separated parts, found {}",
                parts.len()
            ));
        }
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1].trim_end_matches('='))
            .map_err(|_| "the payload is not base64url".to_string())?;
        serde_json::from_slice(&payload)
            .map_err(|_| "the payload is not a JSON object of claims".to_string())
    }

    /// `iss` without its scheme: the provider name IAM uses in trust-policy condition keys.
    pub fn provider(&self) -> Option<String> {
        let iss = self.iss.as_deref()?;
        let p = iss.split_once("://").map_or(iss, |(_, rest)| rest);
        Some(p.trim_end_matches('/').to_string())
    }

    /// The org id and project id of a CircleCI `sub`: `org/<org>/project/<project>/user/<user>[/…]`.
    pub fn circleci_project(&self) -> Option<(String, String)> {
        let parts: Vec<&str> = self.sub.as_deref()?.split('/').collect();
        match parts.as_slice() {
            ["org", org, "project", project, ..] => Some((org.to_string(), project.to_string())),
            _ => None,
        }
    }

    /// The source the job runs from, `(origin, ref)`: the `vcs-origin` and `vcs-ref` claims, or
    /// the v2 `sub`'s `…/vcs-origin/<origin>/vcs-ref/<ref>` when the claims are absent.
    pub fn vcs(&self) -> (Option<String>, Option<String>) {
        let from_sub = self.sub.as_deref().and_then(|s| {
            let (_, rest) = s.split_once("/vcs-origin/")?;
            let (origin, r) = rest.split_once("/vcs-ref/")?;
            Some((origin.to_string(), r.to_string()))
        });
        let origin = self
            .vcs_origin
            .clone()
            .or_else(|| from_sub.as_ref().map(|(o, _)| o.clone()));
        let git_ref = self.vcs_ref.clone().or(from_sub.map(|(_, r)| r));
        (origin, git_ref)
    }

    /// One line of claims for messages: `iss=… aud=… sub=… exp=…`.
    pub fn summary(&self, now: SystemTime) -> String {
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = match self.exp {
            Some(e) if e > now_s => format!("{} (in {})", fmt_unix(e), fmt_age(e - now_s)),
            Some(e) => format!("{} (expired)", fmt_unix(e)),
            None => "-".into(),
        };
        format!(
            "iss={} aud={} sub={} exp={exp}",
            self.iss.as_deref().unwrap_or("-"),
            if self.aud.is_empty() {
                "-".to_string()
            } else {
                self.aud.join(",")
            },
            self.sub.as_deref().unwrap_or("-"),
        )
    }

    /// The trust-policy statement that would admit this token for roles in `account`,
    /// written as CircleCI documents it (StringLike on `sub`, so v1 and v2 tokens both match).
    pub fn admitting_trust_statement(
        &self,
        partition: &str,
        account: &str,
    ) -> Option<serde_json::Value> {
        let provider = self.provider()?;
        let aud = self.aud.first()?;
        let sub = match self.circleci_project() {
            Some((org, project)) => format!("org/{org}/project/{project}/user/*"),
            None => self.sub.clone()?,
        };
        Some(serde_json::json!({
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:{partition}:iam::{account}:oidc-provider/{provider}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{provider}:aud"): aud},
                "StringLike": {format!("{provider}:sub"): sub}
            }
        }))
    }
}

/// Seconds since the epoch as an RFC 3339 UTC time.
pub fn fmt_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm: the date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn fmt_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// The variables a token is read from, in order.
pub const TOKEN_VARIABLES: [&str; 2] = ["CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"];

/// Find a token: `CIRCLE_OIDC_TOKEN_V2`, else `CIRCLE_OIDC_TOKEN`, else one minted by the
/// `circleci` agent when it is on PATH. `Ok(None)` when there is none to be had.
///
/// CircleCI's own tokens always carry the organisation id as audience: when `audience` asks for
/// another one and the agent is on PATH, a token with that audience is minted instead.
pub fn find_token(audience: Option<&str>) -> Result<Option<Token>> {
    let agent = which("circleci");
    for var in TOKEN_VARIABLES {
        if let Some(v) = crate::config::env_var(var) {
            let token = Token::parse(&v, var, SystemTime::now())?;
            match (audience, &agent) {
                (Some(aud), Some(agent)) if !token.claims.aud.iter().any(|a| a == aud) => {
                    return mint(agent, aud).map(Some)
                }
                _ => return Ok(Some(token)),
            }
        }
    }
    let Some(agent) = agent else {
        return Ok(None);
    };
    let Some(aud) = audience else {
        return Err(usage!(
            "no OIDC token in CIRCLE_OIDC_TOKEN_V2 or CIRCLE_OIDC_TOKEN, and no audience to mint one: set CIRCLE_ORGANIZATION_ID or --audience"
        ));
    };
    mint(&agent, aud).map(Some)
}

/// Where a token would come from, without reading it: the first token variable that is set, else
/// the `circleci` agent when it is on PATH (which mints one).
pub fn token_source() -> Option<&'static str> {
    TOKEN_VARIABLES
        .into_iter()
        .find(|v| crate::config::env_var(v).is_some())
        .or_else(|| which("circleci").map(|_| "`circleci run oidc get`"))
}

/// What the job's own OIDC token (in `CIRCLE_OIDC_TOKEN_V2` or `CIRCLE_OIDC_TOKEN`) says of its
/// source, `(origin, ref)`; `None` without a readable token.
pub fn job_source() -> Option<(Option<String>, Option<String>)> {
    TOKEN_VARIABLES
        .iter()
        .find_map(|v| crate::config::env_var(v))
        .and_then(|t| Claims::decode(t.trim()).ok())
        .map(|c| c.vcs())
        .filter(|(o, r)| o.is_some() || r.is_some())
}

/// The first token variable that is set but empty, if any: a sign that OIDC was expected
/// but is not enabled (or the token was not passed through).
pub fn empty_token_variable() -> Option<&'static str> {
    TOKEN_VARIABLES
        .into_iter()
        .find(|v| std::env::var_os(v).is_some_and(|s| s.to_string_lossy().trim().is_empty()))
}

/// Ask the CircleCI agent for a token; fresh tokens are sometimes empty, so try a few times.
fn mint(agent: &std::path::Path, audience: &str) -> Result<Token> {
    let claims = serde_json::json!({ "aud": audience }).to_string();
    let mut last_err = String::new();
    for attempt in 1..=5u32 {
        let out = std::process::Command::new(agent)
            .args(["run", "oidc", "get", "--claims", &claims])
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running {} run oidc get", agent.display()))?;
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !token.is_empty() {
            return Token::parse(&token, "`circleci run oidc get`", SystemTime::now());
        }
        // The agent's stderr never holds the token; keep its first line for the error.
        last_err = String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("empty token")
            .to_string();
        std::thread::sleep(Duration::from_millis(250 * u64::from(attempt)));
    }
    Err(anyhow::anyhow!(
        "`circleci run oidc get` gave no token after 5 attempts ({last_err}); is OIDC enabled for this project?"
    ))
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// An STS role session name derived from CircleCI's variables: `<project>-<build>`, sanitised to
/// `[\w+=,.@-]{2,64}`. Falls back to `stevedore-<unix time>` outside CircleCI.
pub fn session_name(project: Option<&str>, build: Option<&str>, now: SystemTime) -> String {
    let raw = match (project, build) {
        (Some(p), Some(b)) => format!("{p}-{b}"),
        (Some(p), None) => p.to_string(),
        (None, Some(b)) => format!("circleci-{b}"),
        (None, None) => format!(
            "stevedore-{}",
            now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
        ),
    };
    sanitize_session_name(&raw)
}

/// Replace what STS refuses with '-', keep at most 64 characters (keeping the end, where the
/// build number is), and pad names shorter than 2.
pub fn sanitize_session_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.len() > 64 {
        s = s[s.len() - 64..].to_string();
    }
    while s.len() < 2 {
        s.push('-');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            e.encode(br#"{"alg":"RS256"}"#),
            e.encode(claims.to_string()),
            "c2ln"
        )
    }

    const NOW: u64 = 1_800_000_000;
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn parses_circleci_claims() {
        let t = Token::parse(
            &jwt(serde_json::json!({"iss":"https://oidc.circleci.com/org/o1","aud":"o1","sub":"org/o1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main","exp":NOW+600})),
            "CIRCLE_OIDC_TOKEN_V2",
            now(),
        )
        .unwrap();
        assert_eq!(
            t.claims.provider().as_deref(),
            Some("oidc.circleci.com/org/o1")
        );
        assert_eq!(
            t.claims.circleci_project(),
            Some(("o1".into(), "p1".into()))
        );
        assert_eq!(t.claims.aud, vec!["o1".to_string()]);
        let s = t.claims.summary(now());
        assert!(s.contains("aud=o1") && s.contains("(in 10 min)"), "{s}");
        assert!(!format!("{t:?}").contains(t.secret()));
        let stmt = t
            .claims
            .admitting_trust_statement("aws", "123456789012")
            .unwrap();
        assert_eq!(
            stmt["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/o1"
        );
        assert_eq!(
            stmt["Condition"]["StringLike"]["oidc.circleci.com/org/o1:sub"],
            "org/o1/project/p1/user/*"
        );
        assert_eq!(
            stmt["Condition"]["StringEquals"]["oidc.circleci.com/org/o1:aud"],
            "o1"
        );
    }

    #[test]
    fn refuses_empty_malformed_and_expired_tokens() {
        assert!(Token::parse("  ", "X", now())
            .unwrap_err()
            .to_string()
            .contains("X is empty"));
        assert!(Token::parse("abc", "X", now())
            .unwrap_err()
            .to_string()
            .contains("not a JWT"));
        assert!(Token::parse("a.!!.c", "X", now())
            .unwrap_err()
            .to_string()
            .contains("not base64url"));
        let e = Token::parse(&jwt(serde_json::json!({"exp": NOW - 90})), "X", now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("expired at") && e.contains("90 s ago"), "{e}");
        assert!(!e.contains("c2ln"));
    }

    #[test]
    fn aud_may_be_a_list() {
        let c = Claims::decode(&jwt(serde_json::json!({"aud":["a","b"]}))).unwrap();
        assert_eq!(c.aud, vec!["a", "b"]);
    }

    #[test]
    fn session_names_fit_sts_rules() {
        assert_eq!(session_name(Some("my app"), Some("42"), now()), "my-app-42");
        assert_eq!(session_name(None, None, now()), format!("stevedore-{NOW}"));
        let long = session_name(Some(&"x".repeat(100)), Some("12345"), now());
        assert_eq!(long.len(), 64);
        assert!(long.ends_with("-12345"));
        assert_eq!(sanitize_session_name("a"), "a-");
        assert_eq!(sanitize_session_name("ü/ß:"), "----");
    }

    #[test]
    fn formats_times() {
        assert_eq!(fmt_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_unix(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(fmt_unix(951_782_400), "2000-02-29T00:00:00Z");
    }
}

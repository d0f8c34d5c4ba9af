//! Which credentials `stevedore auth` uses, chosen from what the job has: a named role, an OIDC
//! token, access keys. Pure, so every combination is tested directly.
//!
//! CircleCI puts `CIRCLE_OIDC_TOKEN(_V2)` into every job that uses a context, so "a token is
//! present" does not mean "the user wants OIDC": a project that keeps access keys in a context
//! has a token too. `auto` therefore goes by the role: named, it is assumed (with the token when
//! there is one); not named, access keys are used as they are.

use crate::error::usage;
use anyhow::Result;

pub use crate::values::CredentialsMode as Mode;

/// What the job has to authenticate with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available<'a> {
    /// The variable the OIDC token came from, when there is one.
    pub token: Option<&'a str>,
    /// A role to assume is named (flag, AWS_ROLE_ARN or role name).
    pub role: bool,
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are both set.
    pub keys: bool,
}

/// How `auth` gets its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// AssumeRoleWithWebIdentity with the token.
    Oidc,
    /// The access keys: AssumeRole with them when a role is named, else used as they are.
    Keys,
    /// The SDK's standard chain (profiles, instance roles, …): AssumeRole when a role is named,
    /// else used as it is.
    Chain,
}

impl Source {
    /// The credentials, as the line that says what `auth` does names them.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Oidc => "the OIDC token",
            Source::Keys => "the access keys in AWS_ACCESS_KEY_ID",
            Source::Chain => "the standard credential chain",
        }
    }
}

/// The choice, and why (a clause for the line that says what `auth` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub source: Source,
    pub why: String,
}

const FLAG: &str = "--credentials (STEVEDORE_CREDENTIALS)";
const NO_ROLE: &str = "set AWS_ROLE_ARN, --role-arn, or --role-name with AWS_ACCOUNT_ID";

/// Choose, or refuse with one line naming the input and the fix.
pub fn choose(mode: Mode, has: Available) -> Result<Choice> {
    let choice = |source, why: String| Ok(Choice { source, why });
    match mode {
        Mode::Oidc => match (has.token, has.role) {
            (None, _) => Err(usage!("{FLAG} is oidc but there is no OIDC token in CIRCLE_OIDC_TOKEN_V2 or CIRCLE_OIDC_TOKEN: enable OIDC for the project (or run the job in a context), or use --credentials keys")),
            (Some(_), false) => Err(usage!("{FLAG} is oidc but there is no role to assume: {NO_ROLE}")),
            (Some(t), true) => choice(Source::Oidc, format!("--credentials oidc, the token in {t}")),
        },
        Mode::Keys if !has.keys => Err(usage!("{FLAG} is keys but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set: add them to the project's or the context's variables (the orb's auth takes access_key_id_var and secret_access_key_var for other names), or use --credentials oidc")),
        Mode::Keys => choice(Source::Keys, format!("--credentials keys{}", unused(has.token))),
        Mode::Auto => match (has.role, has.token, has.keys) {
            (true, Some(t), _) => choice(Source::Oidc, format!("a role is named and there is an OIDC token in {t}")),
            (true, None, true) => choice(Source::Keys, "no OIDC token".into()),
            (true, None, false) => choice(Source::Chain, "no OIDC token and no access keys".into()),
            (false, _, true) => choice(Source::Keys, format!("no role is named{}", unused(has.token))),
            (false, Some(t), false) => Err(usage!("an OIDC token is present ({t}) but no role to assume: {NO_ROLE}; or, to use access keys, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")),
            (false, None, false) => choice(Source::Chain, "no role, no OIDC token and no access keys".into()),
        },
    }
}

fn unused(token: Option<&str>) -> String {
    token
        .map(|t| format!("; the OIDC token in {t} is not used"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(token: bool, role: bool, keys: bool) -> Available<'static> {
        Available {
            token: token.then_some("CIRCLE_OIDC_TOKEN_V2"),
            role,
            keys,
        }
    }

    #[test]
    fn auto_goes_by_the_role_then_the_keys() {
        let src = |t, r, k| choose(Mode::Auto, has(t, r, k)).map(|c| c.source);
        // Keys in a context: the context brings a token, and no role is named.
        assert_eq!(src(true, false, true).unwrap(), Source::Keys);
        let why = choose(Mode::Auto, has(true, false, true)).unwrap().why;
        assert_eq!(
            why,
            "no role is named; the OIDC token in CIRCLE_OIDC_TOKEN_V2 is not used"
        );
        assert_eq!(src(true, true, true).unwrap(), Source::Oidc);
        assert_eq!(src(true, true, false).unwrap(), Source::Oidc);
        assert_eq!(src(false, true, true).unwrap(), Source::Keys);
        assert_eq!(src(false, true, false).unwrap(), Source::Chain);
        assert_eq!(src(false, false, false).unwrap(), Source::Chain);
        let e = src(true, false, false).unwrap_err().to_string();
        assert!(
            e.contains("no role to assume") && e.contains("AWS_ACCESS_KEY_ID"),
            "{e}"
        );
    }

    #[test]
    fn a_mode_asked_for_is_the_mode_used_or_refused() {
        for (t, r) in [(true, true), (false, true), (true, false), (false, false)] {
            assert_eq!(
                choose(Mode::Keys, has(t, r, true)).unwrap().source,
                Source::Keys
            );
            let e = choose(Mode::Keys, has(t, r, false))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(
                    "--credentials (STEVEDORE_CREDENTIALS) is keys but AWS_ACCESS_KEY_ID"
                ),
                "{e}"
            );
        }
        assert_eq!(
            choose(Mode::Oidc, has(true, true, true)).unwrap().source,
            Source::Oidc
        );
        let e = choose(Mode::Oidc, has(false, true, true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no OIDC token"), "{e}");
        let e = choose(Mode::Oidc, has(true, false, true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no role to assume"), "{e}");
    }
}

//! `--check-url PATH`, as asked: the path, the statuses it accepts and the time it gets,
//! checked before anything runs (`probe` sends the GETs once the rollout completes).

use crate::error::usage;
use anyhow::Result;
use std::time::Duration;

/// The status a check accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any 2xx.
    Success,
    Exactly(u16),
}

impl Expect {
    /// `--expect-status`: `2xx` or a status code.
    pub fn parse(text: &str) -> Result<Expect> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("2xx") {
            return Ok(Expect::Success);
        }
        match t.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(Expect::Exactly(code)),
            _ => Err(usage!("--expect-status (STEVEDORE_EXPECT_STATUS): '{text}' is not 2xx or an HTTP status code (100-599)")),
        }
    }

    pub(super) fn accepts(self, status: u16) -> bool {
        match self {
            Expect::Success => (200..300).contains(&status),
            Expect::Exactly(code) => status == code,
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Success => f.write_str("2xx"),
            Expect::Exactly(c) => write!(f, "{c}"),
        }
    }
}

/// What `--check-url` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub path: String,
    pub expect: Expect,
    /// How long each task has to answer as expected.
    pub within: Duration,
}

impl Check {
    /// `--check-url`, `--expect-status` and `--check-timeout`; `None` without a path.
    pub fn from_args(a: &crate::cli::DeployArgs) -> Result<Option<Check>> {
        let Some(path) = a.check_url.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        if a.wait_until == crate::values::WaitUntil::None {
            return Err(usage!(
                "--check-url runs once the rollout completes, and --wait-until none does not wait for it: use --wait-until deployed (or stable)"
            ));
        }
        Ok(Some(Check {
            path: parse_path(path)?,
            expect: Expect::parse(&a.expect_status)?,
            within: a.check_timeout,
        }))
    }
}

/// `--check-url`'s path: absolute, printable, without spaces.
pub fn parse_path(text: &str) -> Result<String> {
    let ok = text.starts_with('/') && text.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(text.to_string())
    } else {
        Err(usage!("--check-url (STEVEDORE_CHECK_URL): '{}' is not a path: give the path to GET on each new task, starting with /, e.g. / or /health", crate::relay::escape(text)))
    }
}

/// `--check-url` is for rolling deployments: refused, before anything is registered, for a
/// service that deploys `how` (blue/green, linear, canary, CodeDeploy).
pub fn rolling_only(asked: bool, service: &str, how: &str) -> Result<()> {
    if asked {
        return Err(usage!("--check-url checks a rolling deployment once it completes, and service {service} deploys {how}: check the new revision at its pause hook with --verify (against the test listener) instead"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_statuses_are_checked_before_anything_runs() {
        assert_eq!(parse_path("/health?full=1").unwrap(), "/health?full=1");
        for bad in ["", "health", "/a b", "/\u{1b}[2J"] {
            let e = parse_path(bad).unwrap_err().to_string();
            assert!(e.starts_with("--check-url (STEVEDORE_CHECK_URL): '"), "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        assert_eq!(Expect::parse("2xx").unwrap(), Expect::Success);
        assert_eq!(Expect::parse("204").unwrap(), Expect::Exactly(204));
        assert!(Expect::parse("600").is_err());
        assert!(Expect::parse("ok").is_err());
        assert!(Expect::Success.accepts(204) && !Expect::Success.accepts(301));
        assert!(Expect::Exactly(401).accepts(401) && !Expect::Exactly(401).accepts(200));
    }
}

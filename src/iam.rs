//! `stevedore iam trust`: the trust policy a CI role needs for CircleCI's OIDC provider, as
//! CircleCI documents it — audience with StringEquals, `sub` with StringLike so the v2 token's
//! longer subject still matches, and an optional branch lock through `vcs-origin`/`vcs-ref`.

use crate::cli::IamTrustArgs;
use crate::config::{self, Settings};
use crate::render::Renderer;
use crate::usage;
use anyhow::Result;

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The `sub` pattern a role should admit.
pub fn sub_pattern(
    org: &str,
    project: &str,
    branch: Option<&str>,
    vcs_origin: Option<&str>,
) -> String {
    let base = format!("org/{org}/project/{project}/user/*");
    match branch {
        None => base,
        Some(b) => format!(
            "{base}/vcs-origin/{}/vcs-ref/refs/heads/{b}",
            vcs_origin.unwrap_or("*")
        ),
    }
}

/// Render the trust policy JSON.
pub fn trust_policy(
    account: &str,
    partition: &str,
    org: &str,
    project: &str,
    branch: Option<&str>,
    vcs_origin: Option<&str>,
) -> Result<serde_json::Value> {
    let provider = format!("oidc.circleci.com/org/{org}");
    let text = Renderer::new()?.render(
        "trust",
        &serde_json::json!({
            "partition": partition, "account": account, "provider": provider, "org_id": org,
            "sub": sub_pattern(org, project, branch, vcs_origin),
        }),
    )?;
    Ok(serde_json::from_str(&text)?)
}

/// `stevedore iam trust`.
pub fn run_trust(settings: &Settings, a: IamTrustArgs) -> Result<()> {
    if !id_ok(&a.org_id) {
        return Err(usage!(
            "--org-id: '{}' is not a CircleCI organization id (Organization Settings > Overview)",
            a.org_id
        ));
    }
    if !id_ok(&a.project_id) {
        return Err(usage!(
            "--project-id: '{}' is not a CircleCI project id (Project Settings > Overview)",
            a.project_id
        ));
    }
    if let Some(b) = &a.branch {
        if b.is_empty() || b.contains(char::is_whitespace) || b.contains('*') && b != "*" {
            return Err(usage!("--branch: '{b}' is not a branch name"));
        }
    }
    if let Some(o) = &a.vcs_origin {
        if o.contains(char::is_whitespace) || o.contains("://") {
            return Err(usage!(
                "--vcs-origin: '{o}' should look like github.com/OWNER/REPO (no scheme)"
            ));
        }
    }
    let account = settings.require_account()?;
    let partition = config::partition(settings.region.as_deref().unwrap_or("us-east-1"));
    let policy = trust_policy(
        account,
        partition,
        &a.org_id,
        &a.project_id,
        a.branch.as_deref(),
        a.vcs_origin.as_deref(),
    )?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_patterns() {
        assert_eq!(sub_pattern("o", "p", None, None), "org/o/project/p/user/*");
        assert_eq!(
            sub_pattern("o", "p", Some("main"), Some("github.com/a/b")),
            "org/o/project/p/user/*/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main"
        );
        assert_eq!(
            sub_pattern("o", "p", Some("main"), None),
            "org/o/project/p/user/*/vcs-origin/*/vcs-ref/refs/heads/main"
        );
    }

    #[test]
    fn renders_circleci_documented_shape() {
        let p = trust_policy("123456789012", "aws", "org-1", "proj-1", None, None).unwrap();
        let s = &p["Statement"][0];
        assert_eq!(
            s["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/org-1"
        );
        assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            s["Condition"]["StringEquals"]["oidc.circleci.com/org/org-1:aud"],
            "org-1"
        );
        assert_eq!(
            s["Condition"]["StringLike"]["oidc.circleci.com/org/org-1:sub"],
            "org/org-1/project/proj-1/user/*"
        );
    }
}

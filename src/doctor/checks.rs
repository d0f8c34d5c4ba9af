//! The pure part of doctor: what a refusal, a variable set-up or an AccessDenied message means,
//! and the fix to print. No I/O.

use crate::auth::oidc::Claims;
use crate::config::{self};

/// A failed check: what is wrong and the change that fixes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub problem: String,
    pub fix: String,
}

pub(super) fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Failure {
    Failure {
        problem: problem.into(),
        fix: fix.into(),
    }
}

pub(super) type Check = std::result::Result<String, Failure>;

/// The organization id a CircleCI token belongs to: from `sub`, else from `iss`.
pub(super) fn org_of(claims: &Claims) -> Option<String> {
    claims.circleci_project().map(|(o, _)| o).or_else(|| {
        claims
            .provider()
            .and_then(|p| p.rsplit_once("/org/").map(|(_, o)| o.to_string()))
    })
}

/// Why STS refused the token, read from its claims (STS itself only says "not authorized"):
/// an audience other than the organization id, or a `sub` the trust policy does not match.
pub fn refusal_fix(claims: &Claims, role_arn: &str) -> Failure {
    let provider = claims
        .provider()
        .unwrap_or_else(|| "oidc.circleci.com/org/<ORG_ID>".into());
    let problem = format!("STS refused the token for {role_arn} (not authorized to perform sts:AssumeRoleWithWebIdentity)");
    let org = org_of(claims);
    let aud = claims.aud.first().cloned().unwrap_or_default();
    if let Some(org) = org.as_deref().filter(|o| *o != aud) {
        return fail(
            format!("{problem}: the token's audience is '{aud}', not the organization id '{org}'"),
            format!(
                "mint tokens for the organization id: unset STEVEDORE_OIDC_AUDIENCE (or set it to {org}); or, to keep audience '{aud}', add it to the OIDC provider's audiences and set the trust policy's StringEquals {provider}:aud to '{aud}'"
            ),
        );
    }
    let sub = claims.sub.clone().unwrap_or_default();
    let (org, project) = claims
        .circleci_project()
        .unwrap_or_else(|| ("<ORG_ID>".into(), "<PROJECT_ID>".into()));
    let branch = sub
        .split_once("/vcs-ref/refs/heads/")
        .map(|(_, b)| format!(" (add --branch {b} to admit only this branch)"))
        .unwrap_or_default();
    fail(
        format!("{problem}: the trust policy does not admit sub '{sub}' with aud '{aud}'"),
        format!(
            "the role's trust policy must allow Federated arn:aws:iam::{}:oidc-provider/{provider} with StringEquals {provider}:aud = {aud} and StringLike {provider}:sub = org/{org}/project/{project}/user/*; render it with `stevedore iam trust --org-id {org} --project-id {project}`{branch}",
            role_arn.split(':').nth(4).unwrap_or("<ACCOUNT>"),
        ),
    )
}

/// The variables, side by side with who the credentials say the caller is (pure).
pub fn variables_check(
    env: &config::Sources,
    caller_account: &str,
    needs_account: bool,
    needs_alias: bool,
) -> Check {
    let (region, default) = (&env.aws_region, &env.aws_default_region);
    if let (Some(r), Some(d)) = (region, default) {
        if r != d {
            return Err(fail(
                format!("AWS_REGION={r} and AWS_DEFAULT_REGION={d} disagree (AWS_REGION wins, for stevedore and the AWS CLI alike)"),
                format!("make them equal, or unset AWS_REGION so AWS_DEFAULT_REGION={d} applies"),
            ));
        }
    }
    let region = match (&env.region_flag, region, default) {
        (Some(r), _, _) | (None, Some(r), _) | (None, None, Some(r)) => r,
        _ => {
            return Err(fail(
                "no region: AWS_DEFAULT_REGION is not set",
                "set AWS_DEFAULT_REGION to the region of your registry and cluster (Project Settings > Environment Variables, or a context)",
            ))
        }
    };
    let account = match &env.account_id {
        Some(a) if a != caller_account => {
            return Err(fail(
                format!(
                    "AWS_ACCOUNT_ID is {a} but the credentials belong to account {caller_account}"
                ),
                format!("set AWS_ACCOUNT_ID={caller_account}, or assume a role in account {a}"),
            ))
        }
        Some(a) => format!("account {a} (= AWS_ACCOUNT_ID)"),
        None if needs_account => {
            return Err(fail(
                "AWS_ACCOUNT_ID is not set (the private registry's address needs it)",
                format!("set AWS_ACCOUNT_ID={caller_account}"),
            ))
        }
        None => format!("account {caller_account}"),
    };
    let alias = match &env.public_alias {
        Some(a) => format!(", ECR Public alias {a}"),
        None if needs_alias => {
            return Err(fail(
                "AWS_ECR_PUBLIC_REGISTRY_ALIAS is not set (public.ecr.aws/<alias>/<repo> needs it)",
                "set AWS_ECR_PUBLIC_REGISTRY_ALIAS to your registry's alias (ECR console > Public registry > Settings)",
            ))
        }
        None => String::new(),
    };
    Ok(format!("{account}, region {region}{alias}"))
}

/// `action` and `resource` of an AWS AccessDenied message, when it names them.
pub fn denied_action(message: &str) -> Option<(String, String)> {
    let rest = message.split("perform: ").nth(1)?;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let resource = rest.split_whitespace().next()?;
    Some((action.to_string(), resource.to_string()))
}

pub(super) fn is_denied(code: &str) -> bool {
    code.starts_with("AccessDenied") || code == "UnauthorizedOperation"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(aud: &str, sub: &str) -> Claims {
        let payload = json!({"iss": "https://oidc.circleci.com/org/o1", "aud": aud, "sub": sub});
        let b64 = |v: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
        };
        Claims::decode(&format!("{}.{}.sig", b64("{}"), b64(&payload.to_string()))).unwrap()
    }

    #[test]
    fn a_refusal_names_the_audience_or_the_subject() {
        let role = "arn:aws:iam::123456789012:role/ci";
        let f = refusal_fix(
            &claims("sts.amazonaws.com", "org/o1/project/p1/user/u1"),
            role,
        );
        assert!(
            f.problem
                .contains("audience is 'sts.amazonaws.com', not the organization id 'o1'"),
            "{f:?}"
        );
        assert!(f.fix.contains("unset STEVEDORE_OIDC_AUDIENCE"), "{f:?}");
        let f = refusal_fix(
            &claims(
                "o1",
                "org/o1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main",
            ),
            role,
        );
        assert!(
            f.fix
                .contains("`stevedore iam trust --org-id o1 --project-id p1` (add --branch main"),
            "{f:?}"
        );
        assert!(
            f.fix.contains("oidc-provider/oidc.circleci.com/org/o1"),
            "{f:?}"
        );
    }

    fn sources(
        region: Option<&str>,
        default: Option<&str>,
        account: Option<&str>,
    ) -> config::Sources {
        config::Sources {
            region_flag: None,
            aws_region: region.map(String::from),
            aws_default_region: default.map(String::from),
            account_id: account.map(String::from),
            public_alias: None,
        }
    }

    #[test]
    fn variables_are_checked_against_each_other_and_the_caller() {
        let ok = variables_check(
            &sources(None, Some("us-east-1"), Some("123456789012")),
            "123456789012",
            true,
            false,
        );
        assert_eq!(
            ok.unwrap(),
            "account 123456789012 (= AWS_ACCOUNT_ID), region us-east-1"
        );
        let f = variables_check(
            &sources(Some("us-west-2"), Some("us-east-1"), None),
            "1",
            false,
            false,
        )
        .unwrap_err();
        assert!(
            f.problem
                .contains("AWS_REGION=us-west-2 and AWS_DEFAULT_REGION=us-east-1 disagree"),
            "{f:?}"
        );
        let f = variables_check(&sources(None, None, None), "1", false, false).unwrap_err();
        assert!(f.fix.starts_with("set AWS_DEFAULT_REGION"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), Some("999999999999")),
            "123456789012",
            true,
            false,
        )
        .unwrap_err();
        assert!(f.fix.contains("AWS_ACCOUNT_ID=123456789012"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), None),
            "123456789012",
            true,
            false,
        )
        .unwrap_err();
        assert!(f.problem.contains("AWS_ACCOUNT_ID is not set"), "{f:?}");
        let f = variables_check(
            &sources(None, Some("us-east-1"), None),
            "123456789012",
            false,
            true,
        )
        .unwrap_err();
        assert!(f.problem.contains("AWS_ECR_PUBLIC_REGISTRY_ALIAS"), "{f:?}");
    }

    #[test]
    fn access_denied_messages_name_action_and_resource() {
        let m = "User: arn:aws:sts::1:assumed-role/ci/s is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/app because no identity-based policy allows the iam:PassRole action";
        assert_eq!(
            denied_action(m),
            Some(("iam:PassRole".into(), "arn:aws:iam::1:role/app".into()))
        );
        assert_eq!(denied_action("Access Denied"), None);
    }
}

//! Role trust policies for web identities, evaluated as IAM does for the parts CircleCI's
//! documented set-up uses: a Federated principal, the AssumeRoleWithWebIdentity action, and
//! StringEquals / StringLike (and their negations) on `<provider>:<claim>` keys.

use serde_json::Value;

/// The values of a policy field that may be a string or a list of strings.
pub fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` exactly one.
pub fn like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether an action pattern (`sts:*`, `ecr:Get*`, `*`) covers an action, case-insensitively.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    like(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// The claims of a verified token, as condition keys see them.
pub struct WebIdentity<'a> {
    /// `iss` without its scheme, e.g. `oidc.circleci.com/org/<org>`.
    pub provider: String,
    pub claims: &'a Value,
}

fn claim_values(claims: &Value, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => vec![],
    }
}

/// Evaluate one statement's Condition block. Unknown operators fail closed.
fn conditions_hold(cond: Option<&Value>, id: &WebIdentity) -> Result<(), String> {
    let Some(cond) = cond.and_then(Value::as_object) else {
        return Ok(());
    };
    for (op, keys) in cond {
        let Some(keys) = keys.as_object() else {
            return Err(format!("condition {op} is not an object"));
        };
        for (key, expected) in keys {
            let expected = strings(Some(expected));
            let claim = key.strip_prefix(&format!("{}:", id.provider));
            let actual = claim
                .map(|c| claim_values(id.claims, c))
                .unwrap_or_default();
            let any = |f: &dyn Fn(&str, &str) -> bool| {
                actual.iter().any(|a| expected.iter().any(|e| f(e, a)))
            };
            let ok = match op.as_str() {
                "StringEquals" => any(&|e, a| e == a),
                "StringLike" => any(&|e, a| like(e, a)),
                "StringNotEquals" => !any(&|e, a| e == a),
                "StringNotLike" => !any(&|e, a| like(e, a)),
                other => {
                    return Err(format!(
                        "condition operator {other} is not supported by the sandbox"
                    ))
                }
            };
            if !ok {
                return Err(format!("{op} {key} {expected:?} does not match {actual:?}"));
            }
        }
    }
    Ok(())
}

/// Whether the trust policy lets this web identity assume the role. `Err` says why not.
pub fn admits_web_identity(policy: &Value, account: &str, id: &WebIdentity) -> Result<(), String> {
    let principal = format!("arn:aws:iam::{account}:oidc-provider/{}", id.provider);
    let stmts: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err("the trust policy has no Statement".into()),
    };
    let mut reasons = Vec::new();
    let mut allowed = false;
    for s in stmts {
        let applies = strings(s.get("Action"))
            .iter()
            .any(|a| action_matches(a, "sts:AssumeRoleWithWebIdentity"))
            && strings(s.get("Principal").and_then(|p| p.get("Federated")))
                .contains(&principal.as_str());
        if !applies {
            reasons.push(format!("no statement for principal {principal}"));
            continue;
        }
        match (
            s.get("Effect").and_then(Value::as_str),
            conditions_hold(s.get("Condition"), id),
        ) {
            (Some("Deny"), Ok(())) => return Err("an explicit Deny statement matches".into()),
            (Some("Allow"), Ok(())) => allowed = true,
            (_, Err(why)) => reasons.push(why),
            _ => {}
        }
    }
    if allowed {
        Ok(())
    } else {
        Err(reasons
            .pop()
            .unwrap_or_else(|| "no statement allows it".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards() {
        assert!(like(
            "org/o/project/p/user/*",
            "org/o/project/p/user/u/vcs-origin/x"
        ));
        assert!(like("a?c", "abc"));
        assert!(!like("a?c", "ac"));
        assert!(like("*", ""));
        assert!(!like("org/o/project/p/user/*", "org/o/project/q/user/u"));
        assert!(action_matches("sts:*", "sts:AssumeRoleWithWebIdentity"));
        assert!(action_matches("ecr:get*", "ecr:GetAuthorizationToken"));
    }

    fn policy(sub: &str) -> Value {
        json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/oidc.circleci.com/org/o1"},
            "Condition": {"StringEquals": {"oidc.circleci.com/org/o1:aud": "o1"},
                          "StringLike": {"oidc.circleci.com/org/o1:sub": sub}}}]})
    }

    #[test]
    fn circleci_trust_policies() {
        let claims = json!({"aud": "o1", "sub": "org/o1/project/p1/user/u1/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main"});
        let id = WebIdentity {
            provider: "oidc.circleci.com/org/o1".into(),
            claims: &claims,
        };
        assert!(
            admits_web_identity(&policy("org/o1/project/p1/user/*"), "111111111111", &id).is_ok()
        );
        assert!(admits_web_identity(
            &policy("org/o1/project/p1/user/*/vcs-origin/github.com/a/b/vcs-ref/refs/heads/main"),
            "111111111111",
            &id
        )
        .is_ok());
        let e = admits_web_identity(&policy("org/o1/project/p2/user/*"), "111111111111", &id)
            .unwrap_err();
        assert!(e.contains("StringLike"), "{e}");
        assert!(admits_web_identity(
            &policy("org/o1/project/p1/user/*/vcs-ref/refs/heads/release"),
            "111111111111",
            &id
        )
        .is_err());
        // Wrong account's provider, wrong audience.
        assert!(admits_web_identity(&policy("*"), "222222222222", &id).is_err());
        let other_aud = json!({"aud": "o2", "sub": "org/o1/project/p1/user/u1"});
        let id2 = WebIdentity {
            provider: "oidc.circleci.com/org/o1".into(),
            claims: &other_aud,
        };
        assert!(admits_web_identity(&policy("*"), "111111111111", &id2)
            .unwrap_err()
            .contains("aud"));
    }
}

//! Checks of user input against the rules AWS and the OCI spec apply, done before any call.
//!
//! Each function returns a one-line reason on failure; callers add the input's name.

/// A repository name as ECR accepts it: 2–256 characters,
/// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
pub fn repository_name(name: &str) -> Result<(), String> {
    if name.len() < 2 || name.len() > 256 {
        return Err(format!(
            "must be 2 to 256 characters long, is {}",
            name.len()
        ));
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Err("has an empty path component (leading, trailing or double '/')".into());
        }
        // Components are runs of [a-z0-9] joined by single separators from [._-].
        let mut prev_sep = true;
        for c in component.chars() {
            match c {
                'a'..='z' | '0'..='9' => prev_sep = false,
                '.' | '_' | '-' => {
                    if prev_sep {
                        return Err(format!(
                            "'{component}' may not start with or repeat a separator ('.', '_', '-')"
                        ));
                    }
                    prev_sep = true;
                }
                'A'..='Z' => return Err("must be lowercase".into()),
                other => return Err(format!("may not contain '{other}'")),
            }
        }
        if prev_sep {
            return Err(format!("'{component}' may not end with a separator"));
        }
    }
    Ok(())
}

/// An image tag as the OCI distribution spec allows in a reference: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn image_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("is empty".into()),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {}
        Some(c) => return Err(format!("may not start with '{c}'")),
    }
    if tag.len() > 128 {
        return Err(format!(
            "is {} characters long, at most 128 allowed",
            tag.len()
        ));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!(
            "may not contain '{c}' (allowed: letters, digits, '_', '.', '-')"
        ));
    }
    Ok(())
}

/// A span of time: `500ms`, `30s`, `10m`, `1h`. A bare number other than 0 is refused, naming
/// both readings: `--timeout 5` meant as minutes would otherwise die after five seconds.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (use 500ms, 30s, 10m or 1h)"))?;
    let secs = match unit {
        "" if n == 0.0 => 0.0,
        "" => return Err(format!("'{text}' needs a unit: say {num}s or {num}m")),
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "'{text}' is not a duration (use 500ms, 30s, 10m or 1h)"
            ))
        }
    };
    std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| d.as_secs() <= 10 * 365 * 86_400)
        .ok_or_else(|| format!("'{text}' is not a sensible duration (at most a few hours is)"))
}

/// A duration within `[min, max]`, for a clap value parser; `var` names the flag's variable
/// in the message, since clap names only the flag.
pub fn bounded_duration(
    text: &str,
    min: std::time::Duration,
    max: std::time::Duration,
    var: &str,
) -> Result<std::time::Duration, String> {
    let d = duration(text).map_err(|e| format!("{e} ({var})"))?;
    if d < min || d > max {
        return Err(format!(
            "'{text}' is outside {} to {} ({var})",
            human_duration(min),
            human_duration(max)
        ));
    }
    Ok(d)
}

/// `200ms`, `30s`, `5m`, `12h`: a bound as a user would write it.
pub fn human_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Read a text file given as input, refusing what is not a regular file (a device such as
/// `/dev/zero`, a directory) or is larger than `max` bytes, before reading it.
pub fn read_input_file(path: &std::path::Path, max: u64, flag: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| crate::error::usage!("{flag}: cannot read {}: {e}", path.display()))?;
    let meta = f
        .metadata()
        .map_err(|e| crate::error::usage!("{flag}: cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(crate::error::usage!(
            "{flag}: {} is not a regular file",
            path.display()
        ));
    }
    if meta.len() > max {
        return Err(crate::error::usage!(
            "{flag}: {} is {}, more than the {} this input may be",
            path.display(),
            crate::units::bytes(meta.len()),
            crate::units::bytes(max)
        ));
    }
    let mut text = String::new();
    // take(): the file may grow while it is read.
    f.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| crate::error::usage!("{flag}: cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > max {
        return Err(crate::error::usage!(
            "{flag}: {} grew past {} while it was read",
            path.display(),
            crate::units::bytes(max)
        ));
    }
    Ok(text)
}

/// A 12-digit AWS account id.
pub fn account_id(id: &str) -> Result<(), String> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("'{id}' is not a 12-digit AWS account id"))
    }
}

/// A region name such as `us-east-1`, `eu-central-2` or `cn-north-1`.
pub fn region(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not an AWS region name (like us-east-1)"
        ))
    }
}

/// The parts of an IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account: String,
    /// Path and name, e.g. `ci/deployer`.
    pub name: String,
}

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path/name>`.
pub fn role_arn(arn: &str) -> Result<RoleArn, String> {
    let bad = |why: &str| {
        Err(format!(
            "'{arn}' is not an IAM role ARN ({why}); expected arn:aws:iam::123456789012:role/NAME"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return bad("it must have six ':'-separated fields starting with 'arn'");
    }
    if !matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov") {
        return bad("unknown partition");
    }
    if parts[2] != "iam" || !parts[3].is_empty() {
        return bad("service must be 'iam' with an empty region");
    }
    if account_id(parts[4]).is_err() {
        return bad("the account must be 12 digits");
    }
    let Some(name) = parts[5].strip_prefix("role/") else {
        return bad("the resource must start with 'role/'");
    };
    let leaf = name.rsplit('/').next().unwrap_or_default();
    if leaf.is_empty()
        || leaf.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
    {
        return bad("the role name may hold 1 to 64 of letters, digits and +=,.@_-");
    }
    Ok(RoleArn {
        partition: parts[1].to_string(),
        account: parts[4].to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["ab", "app", "team/app", "a.b_c-d/e1", "x/y/z9"] {
            assert_eq!(repository_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "a",
            "App",
            "team//app",
            "/app",
            "app/",
            "-app",
            "ap--p",
            "app_",
            "ap p",
            "app:1",
        ] {
            assert!(repository_name(bad).is_err(), "{bad}");
        }
        assert!(repository_name(&"a".repeat(257)).is_err());
        assert!(repository_name(&"a".repeat(256)).is_ok());
    }

    #[test]
    fn image_tags() {
        for ok in ["latest", "v1.2.3", "_x", "sha-abc_DEF", &"a".repeat(128)] {
            assert_eq!(image_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a b", &"a".repeat(129)] {
            assert!(image_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn role_arns() {
        let r = role_arn("arn:aws:iam::123456789012:role/ci/deployer").unwrap();
        assert_eq!(r.account, "123456789012");
        assert_eq!(r.name, "ci/deployer");
        assert_eq!(
            role_arn("arn:aws-cn:iam::123456789012:role/x")
                .unwrap()
                .partition,
            "aws-cn"
        );
        for bad in [
            "deployer",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/bad name",
        ] {
            assert!(role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("10m").unwrap().as_secs(), 600);
        assert_eq!(duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(duration("90s").unwrap().as_secs(), 90);
        assert_eq!(duration("0").unwrap().as_secs(), 0);
        assert_eq!(duration("5").unwrap_err(), "'5' needs a unit: say 5s or 5m");
        assert_eq!(duration("1.5s").unwrap().as_millis(), 1500);
        assert!(duration("soon").is_err());
        assert!(duration("5d").is_err());
    }

    #[test]
    fn regions_and_accounts() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "cn-north-1",
            "us-gov-west-1",
            "ap-southeast-5",
        ] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for bad in ["", "useast1", "US-EAST-1", "us-east-", "us east 1"] {
            assert!(region(bad).is_err(), "{bad}");
        }
        assert!(account_id("123456789012").is_ok());
        assert!(account_id("12345678901").is_err());
        assert!(account_id("12345678901a").is_err());
    }
}

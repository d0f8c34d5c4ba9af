//! What crosses the wire to a registry, with the rules that keep it safe: where the credential
//! may go (the registry's own origin, never plain HTTP), and how much of an answer is read.

use anyhow::{Context, Result};

/// The largest manifest, index or referrers listing read: the OCI distribution spec's
/// recommendation ("registries SHOULD accept … at least 4 megabytes").
pub const MAX_MANIFEST: u64 = 4 << 20;
/// How much of an error answer is read, to quote in the message.
pub const MAX_ERROR_BODY: u64 = 4 << 10;

/// A redirect policy that follows at most 5 hops and only to `https://`: a plain-HTTP hop
/// would carry the image (and, on the same host and port, the credential) in the clear.
pub fn https_redirects_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.url().scheme() != "https" {
            let to = attempt.url().to_string();
            attempt.error(format!(
                "the registry redirected to {}: refusing plain HTTP",
                crate::relay::escape(&to)
            ))
        } else if attempt.previous().len() >= 5 {
            attempt.error("the registry redirected more than 5 times")
        } else {
            attempt.follow()
        }
    })
}

/// Where an upload `Location` points from a registry at `base` (`https://host[:port]`): the
/// absolute URL, and whether it is the registry's own origin (scheme, host and port), the only
/// one the credential goes to. A plain-HTTP Location is an error. Pure.
pub fn upload_target(base: &str, location: &str) -> Result<(String, bool)> {
    let base_url = reqwest::Url::parse(base).context("the registry's address")?;
    let url = base_url.join(location).map_err(|e| {
        anyhow::anyhow!(
            "the registry answered an upload Location that is not a URL ({e}): {}",
            crate::relay::escape(location)
        )
    })?;
    anyhow::ensure!(
        url.scheme() == "https",
        "the registry sent the upload to {}: refusing plain HTTP (the image and its credential would travel unencrypted)",
        crate::relay::escape(url.as_str())
    );
    let same = url.origin() == base_url.origin();
    Ok((url.to_string(), same))
}

/// A response's body, at most `max` bytes (refused beyond that, whatever Content-Length says,
/// without reading the rest): `what` names it in the error.
pub async fn bounded(r: reqwest::Response, max: u64, what: &str) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    if let Some(len) = r.content_length() {
        anyhow::ensure!(
            len <= max,
            "{what} is {}, more than the {} stevedore reads: the registry's answer is refused",
            crate::units::bytes(len),
            crate::units::bytes(max)
        );
    }
    let mut out = Vec::new();
    let mut stream = r.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading {what}"))?;
        anyhow::ensure!(
            (out.len() + chunk.len()) as u64 <= max,
            "{what} is more than the {} stevedore reads: the registry's answer is refused",
            crate::units::bytes(max)
        );
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The start of an error answer's body, trimmed and escaped, to quote in a message.
pub async fn error_text(r: reqwest::Response) -> String {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut stream = r.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend_from_slice(&chunk);
        if out.len() as u64 >= MAX_ERROR_BODY {
            out.truncate(MAX_ERROR_BODY as usize);
            break;
        }
    }
    crate::relay::escape(String::from_utf8_lossy(&out).trim()).into_owned()
}

/// What a registry's 404 for a manifest means, in the user's terms: the repository or the tag
/// (or digest) is not there. `body` is the registry's error document, if any.
pub fn not_found(repo: &str, reference: &str, body: &str) -> String {
    let what = if reference.starts_with("sha256:") {
        format!("image {reference}")
    } else {
        format!("tag {reference}")
    };
    if body.contains("NAME_UNKNOWN") {
        format!("repository {repo} does not exist in this registry: check the repository name (and the account and region)")
    } else {
        format!("{what} is not in repository {repo}: check the tag, or push the image first")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_manifest_is_named_in_the_users_terms() {
        assert_eq!(
            not_found(
                "team/app",
                "v9",
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#
            ),
            "tag v9 is not in repository team/app: check the tag, or push the image first"
        );
        assert!(
            not_found("team/app", "v9", r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#)
                .starts_with("repository team/app does not exist")
        );
        assert!(not_found("a", "sha256:00", "").starts_with("image sha256:00 is not"));
    }

    #[test]
    fn the_credential_goes_only_to_the_registrys_own_origin() {
        let base = "https://123.dkr.ecr.eu-west-1.amazonaws.com";
        let (url, same) = upload_target(base, "/v2/app/blobs/uploads/u1?_state=x").unwrap();
        assert_eq!(url, format!("{base}/v2/app/blobs/uploads/u1?_state=x"));
        assert!(same);
        let own = format!("{base}:443/v2/app/blobs/uploads/u2");
        assert!(
            upload_target(base, &own).unwrap().1,
            "the default port is the same origin"
        );
        for other in [
            "https://evil.example/v2/app/blobs/uploads/u3",
            "https://123.dkr.ecr.eu-west-1.amazonaws.com:8443/u4",
            "//evil.example/u5",
        ] {
            let (url, same) = upload_target(base, other).unwrap();
            assert!(!same, "{other} is another origin ({url})");
        }
        let e = upload_target(base, "http://123.dkr.ecr.eu-west-1.amazonaws.com/u6").unwrap_err();
        assert!(e.to_string().contains("refusing plain HTTP"), "{e}");
        let e = upload_target(base, "http://x/\u{1b}[2K").unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }
}

//! AWS Signature Version 4: reading the Authorization header and checking the signature with
//! the secret the sandbox issued for that access key.

use aws_lc_rs::{digest, hmac};
use axum::http::HeaderMap;

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parse the header; `None` when the request is not SigV4-signed.
pub fn parse(header: &str) -> Option<Authorization> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256")?.trim();
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => cred = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => sig = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = cred?.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return None;
    }
    Some(Authorization {
        access_key: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
        signed_headers: signed?.split(';').map(str::to_string).collect(),
        signature: sig?.to_string(),
    })
}

pub(crate) fn hex_sha256(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sign(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// Percent-encode as SigV4 wants: unreserved characters stay, everything else is %XX.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Why AWS refuses a signed request before checking the signature itself, as AWS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// `IncompleteSignature`: the host is not signed, or the date is missing.
    Incomplete(String),
    /// `InvalidSignatureException` / STS `SignatureDoesNotMatch`: wrong service or region in
    /// the credential scope, or a date more than 15 minutes off.
    Invalid(String),
}

/// Check what AWS checks of a SigV4 request beyond the signature: `host` among the signed
/// headers, an `X-Amz-Date` within 15 minutes of `now` (epoch seconds, real time) whose day is
/// the scope's, the scope's service is `service`, and its region looks like a region (and is
/// `region` when one is required, as ECR Public's us-east-1 is).
pub fn check_scope(
    auth: &Authorization,
    amz_date: Option<&str>,
    service: &str,
    region: Option<&str>,
    now: i64,
) -> Result<(), ScopeError> {
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(ScopeError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let date = amz_date.ok_or_else(|| {
        ScopeError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let at = parse_amz_date(date).ok_or_else(|| {
        ScopeError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date}'."
        ))
    })?;
    if at < now - 900 {
        return Err(ScopeError::Invalid(format!(
            "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
            amz_date_of(now - 900),
            amz_date_of(now)
        )));
    }
    if at > now + 900 {
        return Err(ScopeError::Invalid(format!(
            "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
            amz_date_of(now + 900),
            amz_date_of(now)
        )));
    }
    if !date.starts_with(&auth.date) || auth.date.len() != 8 {
        return Err(ScopeError::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date}'.",
            auth.date,
            &date[..8.min(date.len())]
        )));
    }
    if auth.service != service {
        return Err(ScopeError::Invalid(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    let looks_like_region = {
        let parts: Vec<&str> = auth.region.split('-').collect();
        parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !looks_like_region || region.is_some_and(|r| r != auth.region) {
        return Err(ScopeError::Invalid(
            "Credential should be scoped to a valid region. ".into(),
        ));
    }
    Ok(())
}

/// `20260101T120000Z` as epoch seconds.
fn parse_amz_date(d: &str) -> Option<i64> {
    let b = d.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| d.get(r)?.parse::<i64>().ok();
    let (y, m, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Epoch seconds as `20260101T120000Z`.
fn amz_date_of(epoch: i64) -> String {
    let iso = crate::state::iso8601(epoch as f64);
    // 2026-01-01T12:00:00.000Z → 20260101T120000Z
    format!(
        "{}{}{}T{}{}{}Z",
        &iso[0..4],
        &iso[5..7],
        &iso[8..10],
        &iso[11..13],
        &iso[14..16],
        &iso[17..19]
    )
}

/// Check the signature of a request against `secret`.
pub fn verify(
    auth: &Authorization,
    secret: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = match headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) if h != "UNSIGNED-PAYLOAD" => h.to_string(),
        _ => hex_sha256(body),
    };
    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        uri_encode(path, true),
        canonical_query(query),
        auth.signed_headers.join(";")
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical_request.as_bytes())
    );
    let k_date = hmac_sign(format!("AWS4{secret}").as_bytes(), &auth.date);
    let k_region = hmac_sign(&k_date, &auth.region);
    let k_service = hmac_sign(&k_region, &auth.service);
    let k_signing = hmac_sign(&k_service, "aws4_request");
    let expected = hex::encode(hmac_sign(&k_signing, &string_to_sign));
    // Constant-time comparison is not needed for a test sandbox, but it costs nothing.
    expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn aws_documented_example_verifies() {
        // The GET example of AWS's "Signature Version 4 test suite" (get-vanilla).
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let auth = parse("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31").unwrap();
        assert_eq!(auth.access_key, "AKIDEXAMPLE");
        assert_eq!(auth.service, "service");
        assert!(verify(
            &auth,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "GET",
            "/",
            "",
            &h,
            b""
        ));
        assert!(!verify(&auth, "wrong-secret", "GET", "/", "", &h, b""));
        assert!(!verify(
            &auth,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "POST",
            "/",
            "",
            &h,
            b""
        ));
        assert!(parse("Bearer abc").is_none());
    }

    #[test]
    fn scope_and_date_are_checked_as_aws_checks_them() {
        let auth = parse("AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab").unwrap();
        let now = parse_amz_date("20260101T120000Z").unwrap();
        assert_eq!(amz_date_of(now), "20260101T120000Z");
        assert!(check_scope(&auth, Some("20260101T120500Z"), "ecs", None, now).is_ok());
        let err = |date: &str, service: &str, region: Option<&str>| {
            check_scope(&auth, Some(date), service, region, now).unwrap_err()
        };
        assert!(
            matches!(err("20260101T113000Z", "ecs", None), ScopeError::Invalid(m) if m.starts_with("Signature expired: 20260101T113000Z is now earlier than 20260101T114500Z"))
        );
        assert!(
            matches!(err("20260101T123000Z", "ecs", None), ScopeError::Invalid(m) if m.starts_with("Signature not yet current"))
        );
        assert!(
            matches!(err("20260101T120000Z", "ecr", None), ScopeError::Invalid(m) if m.contains("correct service: 'ecr'"))
        );
        assert!(
            matches!(err("20260101T120000Z", "ecs", Some("eu-west-1")), ScopeError::Invalid(m) if m.contains("valid region"))
        );
        let unsigned_host = parse("AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/ecs/aws4_request, SignedHeaders=x-amz-date, Signature=ab").unwrap();
        assert!(matches!(
            check_scope(&unsigned_host, Some("20260101T120000Z"), "ecs", None, now),
            Err(ScopeError::Incomplete(_))
        ));
        let bad_region = parse("AWS4-HMAC-SHA256 Credential=AK/20260101/nowhere/ecs/aws4_request, SignedHeaders=host, Signature=ab").unwrap();
        assert!(check_scope(&bad_region, Some("20260101T120000Z"), "ecs", None, now).is_err());
    }
}

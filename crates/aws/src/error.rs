//! Reading AWS SDK errors: one-line descriptions, which ones deserve a retry, and the backoff.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// The codes AWS services throttle with: the one table the SDK calls and the JSON client share.
pub const THROTTLING: [&str; 4] = [
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Whether an error code is worth another try: throttled, or (STS) the OIDC provider behind it
/// was briefly unreachable.
pub fn is_retryable_code(code: &str) -> bool {
    THROTTLING.contains(&code) || code == "IDPCommunicationError"
}

/// Whether an SDK error is worth retrying: a throttling or provider-communication code, or a
/// request that never got an answer.
pub fn is_retryable<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::ServiceError(_) => e.code().is_some_and(is_retryable_code),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        _ => false,
    }
}

/// Exponential backoff with jitter: 300 ms doubled per attempt, capped at 5 s, drawn from [½, 1] of that.
pub fn backoff(attempt: u32) -> Duration {
    let cap = (300u64 << attempt.saturating_sub(1).min(5)).min(5_000);
    Duration::from_millis(rand::random_range(cap / 2..=cap))
}

/// `Code: message` of a service error, or the transport error with its cause.
pub fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {}", stevedore_base::relay::escape(m)),
        (Some(c), None) => c.to_string(),
        _ => match e {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                let mut cause = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(c) = src {
                    cause = c.to_string();
                    src = c.source();
                }
                format!("cannot reach {}: {cause}", endpoint_overrides())
            }
            _ => {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(cause) = src {
                    s.push_str(": ");
                    s.push_str(&cause.to_string());
                    src = cause.source();
                }
                s
            }
        },
    }
}

/// The innermost cause of an error: for a transport error the useful part (connection refused,
/// DNS, TLS), without the layers of client wrapping around it.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    if text.is_empty() {
        e.to_string()
    } else {
        text
    }
}

/// Where AWS calls go, for an error that could not reach them: the `AWS_ENDPOINT_URL*`
/// variables that are set, or AWS itself.
pub fn endpoint_overrides() -> String {
    let mut set: Vec<String> = std::env::vars()
        .filter(|(k, v)| k.starts_with("AWS_ENDPOINT_URL") && !v.trim().is_empty())
        .map(|(k, v)| format!("{v} (from {k})"))
        .collect();
    set.sort();
    if set.is_empty() {
        "AWS (no AWS_ENDPOINT_URL is set: check the network, a proxy and the region)".into()
    } else {
        set.join(", ")
    }
}

/// Whether an SDK error carries this service error code.
pub fn has_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, code: &str) -> bool {
    e.code() == Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..10 {
            let d = backoff(attempt).as_millis() as u64;
            let cap = (300u64 << (attempt - 1).min(5)).min(5000);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d}");
        }
    }
}

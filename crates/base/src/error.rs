//! Errors a caller branches on, and the exit codes they map to.

use thiserror::Error;

/// Exit code for a run that failed for a reason outside the user's input (AWS refused, network).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad input: a flag, a variable or a file the user must fix. Same code as clap's.
pub const EXIT_USAGE: u8 = 2;

/// Exit code for a deployment that failed or was rolled back.
pub const EXIT_DEPLOY_FAILED: u8 = 3;
/// Exit code for a deployment (or task) that did not finish within `--timeout`.
pub const EXIT_TIMED_OUT: u8 = 4;

/// A run that finished but whose outcome has its own exit code; its message is the summary.
/// An empty message means the outcome has been printed already, so nothing is said twice.
#[derive(Debug, Error)]
#[error("{message}")]
pub struct Outcome {
    pub code: u8,
    pub message: String,
}

/// The run's deadline (`--timeout`) passed while AWS did not answer: exits as timed out.
#[derive(Debug, Error)]
#[error("{endpoint} did not answer {op} before the deadline (--timeout)")]
pub struct DeadlineExceeded {
    pub endpoint: String,
    pub op: String,
}

/// Input the user must fix before anything is sent to AWS.
///
/// Its message is one line that names the input and says how to fix it.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] wrapped in `anyhow`: what each crate's `usage!` builds.
pub fn usage_error(message: String) -> anyhow::Error {
    anyhow::Error::new(UsageError(message))
}

/// Build a [`UsageError`] wrapped in `anyhow`, for `return Err(usage!(...))`; modules import it
/// as `crate::error::usage` (each crate above has its own, over [`usage_error`]).
macro_rules! usage {
    ($($arg:tt)*) => {
        $crate::error::usage_error(format!($($arg)*))
    };
}
pub(crate) use usage;

/// The exit code for an error chain: usage errors anywhere in the chain win.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(o) = err.chain().find_map(|e| e.downcast_ref::<Outcome>()) {
        o.code
    } else if err.chain().any(|e| e.is::<DeadlineExceeded>()) {
        EXIT_TIMED_OUT
    } else if err.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_map_to_2_even_under_context() {
        let e: anyhow::Result<()> = Err(usage!("--repo: bad"));
        let e = e.context("while ensuring the repository").unwrap_err();
        assert_eq!(exit_code(&e), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("network down")), EXIT_FAILURE);
    }
}

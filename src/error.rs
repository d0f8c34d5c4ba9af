//! Errors a caller branches on and their exit codes: [`stevedore_base::error`]'s, and this
//! crate's `usage!` over them.

pub use stevedore_base::error::*;

/// Build a [`UsageError`] wrapped in `anyhow`, for `return Err(usage!(...))`; modules import it
/// as `crate::error::usage`.
macro_rules! usage {
    ($($arg:tt)*) => {
        $crate::error::usage_error(format!($($arg)*))
    };
}
pub(crate) use usage;

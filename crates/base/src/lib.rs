//! The bottom of stevedore: what every layer above shares and nothing here knows of AWS or of a
//! command. Errors a caller branches on and their exit codes (`error`), the run's settings
//! (`config`), input checks (`validate`), human units (`units`), escaping what others send
//! (`relay`), exports to the job (`export`, `handoff`), and the words the flags take (`values`).

pub mod config;
pub mod error;
pub mod export;
pub mod handoff;
pub mod relay;
pub mod units;
pub mod validate;
pub mod values;

//! The bottom layer: how stevedore talks to AWS. Nothing here knows a command.

pub mod credentials;
pub mod deadline;
pub mod error;
pub mod json;
pub mod sdk;

//! Images: where they come from (`source`, `archive`), the registry protocol (`registry`) and
//! `stevedore push`.

pub mod archive;
pub mod push;
pub mod reference;
pub mod registry;
pub mod source;

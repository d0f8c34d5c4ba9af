//! Images: where they come from (`source`, `archive`), the registry protocol (`registry`, its origin and size rules in `wire`) and
//! `stevedore push` (with `progress` lines for long uploads), and `stevedore index` (`index`).

pub mod archive;
pub mod attach;
pub mod cache;
pub mod engine;
pub mod exists;
pub mod index;
pub mod platform;
pub mod progress;
pub mod push;
pub mod reference;
pub mod registry;
pub mod repository;
pub mod retag;
pub mod source;
pub mod wire;

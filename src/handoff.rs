//! The names of the variables one orb step leaves for the next (through `$BASH_ENV`), in one
//! place: who writes each and who reads it.

/// The pushed image's digest; written by `push --bash-env`.
pub const IMAGE_DIGEST: &str = "STEVEDORE_IMAGE_DIGEST";
/// The pushed image pinned by digest (`registry/repo@sha256:…`); written by `push --bash-env`,
/// read by the orb's deploy and run-task steps when they are given no image.
pub const IMAGE_URI: &str = "STEVEDORE_IMAGE_URI";
/// The local image a build-only step (`push_image: false`) left in the Docker engine.
pub const BUILT_IMAGE: &str = "STEVEDORE_BUILT_IMAGE";
/// The role `auth` assumed, so a later step can assume it again when the credentials expire.
pub const REASSUME_ROLE_ARN: &str = "STEVEDORE_REASSUME_ROLE_ARN";
/// The audience `auth` was given, exported beside [`REASSUME_ROLE_ARN`].
pub const REASSUME_AUDIENCE: &str = "STEVEDORE_REASSUME_AUDIENCE";
/// When the exported credentials expire (RFC 3339); written by `auth`, read to re-assume early.
pub const CREDENTIAL_EXPIRATION: &str = "AWS_CREDENTIAL_EXPIRATION";
/// The task definition a single-service deploy left the service on; written by `deploy`.
pub const TASK_DEFINITION_ARN: &str = "STEVEDORE_TASK_DEFINITION_ARN";
/// The deployment a single-service deploy started; written by `deploy`.
pub const DEPLOYMENT_ID: &str = "STEVEDORE_DEPLOYMENT_ID";
/// How a single-service deploy ended (deployed, failed, rolled back, …); written by `deploy`.
pub const DEPLOY_RESULT: &str = "STEVEDORE_DEPLOY_RESULT";

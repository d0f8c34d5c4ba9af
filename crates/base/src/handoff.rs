//! The names of the variables one orb step leaves for the next (through `$BASH_ENV`), in one
//! place: who writes each and who reads it.

/// The pushed image's digest; written by `push --bash-env`.
pub const IMAGE_DIGEST: &str = "STEVEDORE_IMAGE_DIGEST";
/// The pushed image pinned by digest (`registry/repo@sha256:…`); written by `push --bash-env`,
/// read by the orb's deploy and run-task steps when they are given no image.
pub const IMAGE_URI: &str = "STEVEDORE_IMAGE_URI";
/// A copy's digest (`push --from`, e.g. to ECR Public); written instead of [`IMAGE_DIGEST`], so a
/// copy made after the push leaves what the deploy reads alone.
pub const COPIED_IMAGE_DIGEST: &str = "STEVEDORE_COPIED_IMAGE_DIGEST";
/// A copy pinned by digest; written by `push --from --bash-env` instead of [`IMAGE_URI`].
pub const COPIED_IMAGE_URI: &str = "STEVEDORE_COPIED_IMAGE_URI";
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
/// Where the new revision's tasks answered (`http://IP:PORT`, one a line), when `--check-url`
/// or `--verify` asked; written by `deploy`.
pub const SERVICE_URLS: &str = "STEVEDORE_SERVICE_URLS";
/// How a single-service deploy ended (deployed, failed, rolled back, …); written by `deploy`.
pub const DEPLOY_RESULT: &str = "STEVEDORE_DEPLOY_RESULT";

#[cfg(test)]
mod tests {
    /// Every variable named here has its row in the README's table of who writes and reads it.
    #[test]
    fn the_readme_says_who_writes_and_reads_each_variable() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("**What one step leaves for the next**")
            .nth(1)
            .and_then(|t| t.split("\n\n").nth(1))
            .expect("the README's handoff table");
        let names: Vec<&str> = include_str!("handoff.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub const "))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert!(names.len() >= 11, "{names:?}");
        for name in names {
            assert!(table.contains(&format!("`{name}`")), "{name} has no row");
        }
    }
}

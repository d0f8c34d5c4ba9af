//! The arguments of `push` and `ecr`.

use super::{Encryption, TagMutability, Via};
use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Tags to push; repeat or comma-separate. Defaults to `latest`.
    #[arg(long = "tag", env = "STEVEDORE_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// The platform(s) the image must be (`linux/arm64`, or comma-separated for an index), checked
    /// against its config (architecture, os, variant) before anything is pushed or tagged.
    #[arg(long, env = "STEVEDORE_PLATFORM", value_name = "OS/ARCH")]
    pub platform: Option<String>,

    /// An OCI image layout directory (e.g. `docker buildx build --output type=oci,tar=false`).
    #[arg(long, env = "STEVEDORE_OCI_LAYOUT", value_name = "DIR", conflicts_with_all = ["archive", "docker_image"])]
    pub oci_layout: Option<PathBuf>,

    /// A tarball: `docker save` output (either layout) or an OCI layout archive.
    #[arg(
        long,
        env = "STEVEDORE_ARCHIVE",
        value_name = "FILE",
        conflicts_with = "docker_image"
    )]
    pub archive: Option<PathBuf>,

    /// An image in the local Docker engine (read with `docker save`, honouring DOCKER_HOST).
    #[arg(
        long,
        env = "STEVEDORE_DOCKER_IMAGE",
        value_name = "NAME",
        conflicts_with = "from"
    )]
    pub docker_image: Option<String>,

    /// Copy an image from this account's private ECR (REPO:TAG or REPO@DIGEST), e.g. to ECR
    /// Public; blobs the target has already are not copied.
    #[arg(long, env = "STEVEDORE_FROM", value_name = "IMAGE", conflicts_with_all = ["oci_layout", "archive"])]
    pub from: Option<String>,

    /// Create the repository first if it is missing (scan on push, MUTABLE tags).
    #[arg(long, env = "STEVEDORE_CREATE_REPO")]
    pub create_repo: bool,

    /// Leave tags that already exist in the repository alone (push nothing when all exist).
    #[arg(long, env = "STEVEDORE_SKIP_EXISTING_TAGS")]
    pub skip_existing_tags: bool,

    /// Repository in the same registry to mount blobs from instead of uploading them.
    #[arg(long, env = "STEVEDORE_MOUNT_FROM")]
    pub mount_from: Option<String>,

    /// Blobs uploaded at once.
    #[arg(long, env = "STEVEDORE_PARALLEL", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,

    /// Push through the Docker daemon (`docker tag` + `docker push`) instead; needs --docker-image.
    #[arg(long, env = "STEVEDORE_VIA", value_enum, default_value = "native")]
    pub via: Via,

    /// Write the result (digest, image reference, tags) as JSON to this file.
    #[arg(long, env = "STEVEDORE_OUTPUT_FILE", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Append STEVEDORE_IMAGE_DIGEST and STEVEDORE_IMAGE_URI here (a copy with --from:
    /// STEVEDORE_COPIED_IMAGE_DIGEST and STEVEDORE_COPIED_IMAGE_URI, so the image a later deploy
    /// reads stays the one pushed).
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,

    /// Sign the image (and its attestations) with this asymmetric KMS key, in cosign's layout
    /// (tag sha256-<hex>.sig), so `cosign verify --key awskms:///…` and `stevedore verify`
    /// accept it. Signed before the upload: a role without kms:Sign pushes nothing.
    #[arg(long, env = "STEVEDORE_SIGN", value_name = "awskms:///ARN-OR-ALIAS")]
    pub sign: Option<String>,

    /// Attach this SBOM (SPDX or CycloneDX JSON, e.g. from syft) to the image as an OCI 1.1
    /// artifact whose subject is the image.
    #[arg(long, env = "STEVEDORE_SBOM", value_name = "FILE")]
    pub sbom: Option<PathBuf>,

    /// Attach SLSA v1 provenance (an in-toto statement naming the CircleCI job's repository,
    /// commit, workflow and job, and the image digest) as an OCI 1.1 artifact.
    #[arg(long, env = "STEVEDORE_PROVENANCE")]
    pub provenance: bool,
}

#[derive(Debug, Subcommand)]
pub enum EcrCommand {
    /// Create the repository if it is missing and apply its settings and policies (idempotent).
    EnsureRepo(EnsureRepoArgs),
    /// Get a registry token and save it in docker's config.json (or hand it to `docker login`).
    Login(LoginArgs),
    /// Print the full image address for a repository (and tag).
    Uri(UriArgs),
    /// Give an image already in the repository more tags (its manifest copied; no layer moves).
    Tag(TagArgs),
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// The tag (or digest) of the image to tag.
    #[arg(long, env = "STEVEDORE_SOURCE_TAG")]
    pub source_tag: String,

    /// The new tags; repeat or comma-separate.
    #[arg(
        long = "tag",
        env = "STEVEDORE_TAGS",
        value_delimiter = ',',
        required = true
    )]
    pub tags: Vec<String>,

    /// Leave a tag that already names another image alone instead of moving it.
    #[arg(long, env = "STEVEDORE_SKIP_EXISTING_TAGS")]
    pub skip_existing_tags: bool,
}

/// `stevedore index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// The per-architecture images, already in the repository: tags, digests, or REPO:TAG and
    /// REGISTRY/REPO@DIGEST of the same repository; repeat or comma-separate.
    #[arg(
        long = "manifest",
        env = "STEVEDORE_INDEX_MANIFESTS",
        value_delimiter = ',',
        value_name = "TAG|DIGEST"
    )]
    pub manifests: Vec<String>,

    /// The platforms the index must hold, e.g. linux/amd64,linux/arm64: a missing one, or an
    /// image of another platform, is refused. Empty: whatever the images are.
    #[arg(
        long,
        env = "STEVEDORE_PLATFORMS",
        value_delimiter = ',',
        value_name = "OS/ARCH"
    )]
    pub platforms: Vec<String>,

    /// Tags for the index; repeat or comma-separate. Defaults to `latest`.
    #[arg(long = "tag", env = "STEVEDORE_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Write the result (digest, image reference, tags) as JSON to this file.
    #[arg(long, env = "STEVEDORE_OUTPUT_FILE", value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Append STEVEDORE_IMAGE_DIGEST and STEVEDORE_IMAGE_URI (the index's) here.
    #[arg(long, env = "BASH_ENV", value_name = "FILE")]
    pub bash_env: Option<PathBuf>,

    /// Sign the index with this asymmetric KMS key, in cosign's layout (tag sha256-<hex>.sig),
    /// so a deploy of the index's digest passes --require-signature. Signed before the index is
    /// put: a role without kms:Sign tags nothing.
    #[arg(long, env = "STEVEDORE_SIGN", value_name = "awskms:///ARN-OR-ALIAS")]
    pub sign: Option<String>,
}

#[derive(Debug, Args)]
pub struct RepoTarget {
    /// Repository name, e.g. `team/app`.
    #[arg(long, env = "STEVEDORE_REPO")]
    pub repo: String,

    /// Use ECR Public (public.ecr.aws/<AWS_ECR_PUBLIC_REGISTRY_ALIAS>) instead of the private registry.
    #[arg(long, env = "STEVEDORE_PUBLIC")]
    pub public: bool,
}

#[derive(Debug, Args)]
pub struct EnsureRepoArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Scan images on push. New repositories default to true; an existing one changes only when this is given.
    #[arg(long, env = "STEVEDORE_SCAN_ON_PUSH", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub scan_on_push: Option<bool>,

    /// Tag mutability. New repositories default to MUTABLE; an existing one changes only when this is given.
    #[arg(long, env = "STEVEDORE_TAG_MUTABILITY", value_enum)]
    pub tag_mutability: Option<TagMutability>,

    /// Tag filters (wildcards such as `latest` or `dev-*`) exempt from the mutability setting; with *_WITH_EXCLUSION.
    #[arg(
        long = "mutability-exclusion",
        env = "STEVEDORE_MUTABILITY_EXCLUSIONS",
        value_delimiter = ','
    )]
    pub mutability_exclusions: Vec<String>,

    /// Encryption at rest for a new repository (fixed once created).
    #[arg(long, env = "STEVEDORE_ENCRYPTION", value_enum)]
    pub encryption: Option<Encryption>,

    /// KMS key ARN or alias for --encryption KMS; AWS's managed key when omitted.
    #[arg(long, env = "STEVEDORE_KMS_KEY", requires = "encryption")]
    pub kms_key: Option<String>,

    /// Resource tag KEY=VALUE; repeat or separate with commas.
    #[arg(
        long = "resource-tag",
        env = "STEVEDORE_RESOURCE_TAGS",
        value_delimiter = ','
    )]
    pub resource_tags: Vec<String>,

    /// Lifecycle policy JSON file to apply (private registries only).
    #[arg(long, env = "STEVEDORE_LIFECYCLE_POLICY", value_name = "FILE",
          conflicts_with_all = ["keep_last", "expire_untagged_days"])]
    pub lifecycle_policy: Option<PathBuf>,

    /// Built-in lifecycle rule: keep only the newest N images.
    #[arg(long, env = "STEVEDORE_KEEP_LAST", value_name = "N")]
    pub keep_last: Option<u32>,

    /// Built-in lifecycle rule: expire untagged images N days after they were pushed.
    #[arg(long, env = "STEVEDORE_EXPIRE_UNTAGGED_DAYS", value_name = "N")]
    pub expire_untagged_days: Option<u32>,

    /// Repository policy JSON file to apply.
    #[arg(long, env = "STEVEDORE_REPOSITORY_POLICY", value_name = "FILE")]
    pub repository_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Log in to ECR Public (public.ecr.aws) instead of the private registry.
    #[arg(long, env = "STEVEDORE_PUBLIC")]
    pub public: bool,

    /// Docker's configuration directory (config.json is written there).
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub docker_config: Option<PathBuf>,

    /// Hand the password to `docker login --password-stdin` instead of writing config.json.
    #[arg(long, env = "STEVEDORE_VIA_DOCKER")]
    pub via_docker: bool,
}

#[derive(Debug, Args)]
pub struct UriArgs {
    #[command(flatten)]
    pub target: RepoTarget,

    /// Image tag to append.
    #[arg(long, env = "STEVEDORE_TAG")]
    pub tag: Option<String>,
}

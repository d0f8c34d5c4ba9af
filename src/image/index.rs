//! `stevedore index`: one multi-architecture image from per-architecture images already in the
//! repository, as `docker manifest create` or `crane index append` make one, without pulling a
//! layer. Each architecture is built natively on its own machine and pushed by digest; this
//! reads each manifest and its small config (for the platform), checks the set against
//! `--platforms`, and puts an OCI image index under the tags.

pub use super::platform::Platform;
use super::push;
use super::registry::Registry;
use super::source::{Manifest, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::cli::IndexArgs;
use crate::config::{self, Settings};
use crate::error::usage;
use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::platform::MAX_CONFIG;

/// One `--manifest`: a tag or digest in the target repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// As the user wrote it, for messages.
    pub given: String,
    /// The tag or `sha256:` digest to ask the registry for.
    pub reference: String,
}

/// Where an index goes and what it is made of, checked before any call.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    pub repo: String,
    pub public: bool,
    pub sources: Vec<Source>,
    pub platforms: Vec<Platform>,
    pub tags: Vec<String>,
    pub output_file: Option<std::path::PathBuf>,
    pub bash_env: Option<std::path::PathBuf>,
    /// `--sign`: the signature the index gets (nothing else is attached to an index).
    pub extras: crate::image::attach::Extras,
}

impl IndexPlan {
    pub fn from_args(a: &IndexArgs) -> Result<IndexPlan> {
        crate::ecr::check_repo_name(&a.target.repo)?;
        let tags = push::tags(&a.tags)?;
        let mut sources = Vec::new();
        for m in a
            .manifests
            .iter()
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
        {
            sources.push(source(m, &a.target.repo, a.target.public)?);
        }
        if sources.is_empty() {
            return Err(usage!(
                "--manifest (STEVEDORE_INDEX_MANIFESTS) is empty: name the per-architecture images, e.g. --manifest app:sha-amd64,app:sha-arm64"
            ));
        }
        let mut platforms: Vec<Platform> = Vec::new();
        for p in a
            .platforms
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
        {
            let p =
                Platform::parse(p).map_err(|e| usage!("--platforms (STEVEDORE_PLATFORMS): {e}"))?;
            if !platforms.contains(&p) {
                platforms.push(p);
            }
        }
        Ok(IndexPlan {
            repo: a.target.repo.clone(),
            public: a.target.public,
            sources,
            platforms,
            tags,
            output_file: a.output_file.clone(),
            bash_env: a.bash_env.clone().filter(|p| !p.as_os_str().is_empty()),
            extras: crate::image::attach::Extras {
                sign: match a.sign.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    Some(s) => Some(
                        crate::sign::kms::KeyRef::parse(s)
                            .map_err(|e| usage!("--sign (STEVEDORE_SIGN): {e}"))?,
                    ),
                    None => None,
                },
                ..Default::default()
            },
        })
    }
}

/// A `--manifest` value: `TAG`, `sha256:…`, or a reference (`[REGISTRY/]REPO:TAG`,
/// `…@sha256:…`) that must name the target repository: an index can only name manifests of
/// its own repository. ECR Public references carry the registry alias first (`ALIAS/REPO`).
pub fn source(given: &str, repo: &str, public: bool) -> Result<Source> {
    let bad = |e: String| usage!("--manifest {given}: {e}");
    if let Some(hex) = given.strip_prefix("sha256:") {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("a digest is sha256:<64 hex digits>".into()));
        }
        return Ok(Source {
            given: given.into(),
            reference: given.into(),
        });
    }
    if !given.contains([':', '@', '/']) {
        crate::validate::image_tag(given).map_err(|e| bad(format!("the tag {e}")))?;
        return Ok(Source {
            given: given.into(),
            reference: given.into(),
        });
    }
    let r = super::reference::ImageRef::parse(given).map_err(bad)?;
    let named = r.repository == repo
        || (public
            && r.repository
                .split_once('/')
                .is_some_and(|(alias, rest)| !alias.is_empty() && rest == repo));
    if !named {
        return Err(bad(format!(
            "it is in repository {}, not {repo}: an index names manifests of its own repository; push each architecture to {repo} first",
            r.repository
        )));
    }
    let reference = r
        .digest
        .or(r.tag)
        .ok_or_else(|| bad("name a tag or a digest".into()))?;
    Ok(Source {
        given: given.into(),
        reference,
    })
}

/// One manifest the index will name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub media_type: String,
    pub digest: String,
    pub size: usize,
    pub platform: Platform,
    /// The `--manifest` it came from.
    pub from: String,
}

/// Check the entries against each other and `wanted` (empty: any set of platforms).
pub fn check(entries: &[Entry], wanted: &[Platform]) -> Result<()> {
    for (i, a) in entries.iter().enumerate() {
        if let Some(b) = entries[i + 1..].iter().find(|b| b.platform == a.platform) {
            return Err(usage!(
                "--manifest {} and {} are both {}: an index holds one image per platform",
                a.from,
                b.from,
                a.platform
            ));
        }
    }
    for w in wanted {
        if !entries.iter().any(|e| e.platform.serves(w)) {
            let have: Vec<String> = entries.iter().map(|e| e.platform.to_string()).collect();
            return Err(usage!(
                "no image for {w} among --manifest (they are {}): build and push the {w} image first, or drop {w} from --platforms",
                have.join(", ")
            ));
        }
    }
    if !wanted.is_empty() {
        if let Some(e) = entries
            .iter()
            .find(|e| !wanted.iter().any(|w| e.platform.serves(w)))
        {
            return Err(usage!(
                "--manifest {} is {}, which --platforms does not list",
                e.from,
                e.platform
            ));
        }
    }
    Ok(())
}

/// The OCI image index naming `entries`, in their order.
pub fn build(entries: &[Entry]) -> Manifest {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "mediaType": e.media_type,
                "digest": e.digest,
                "size": e.size,
                "platform": e.platform.json(),
            })
        })
        .collect();
    let doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
    Manifest::new(OCI_INDEX, bytes)
}

/// What a source manifest holds: an image (its config digest) or an index (its entries with
/// a platform, attestation manifests left out).
enum Kind {
    Image { config: String },
    Index(Vec<Entry>),
}

fn kind(m: &Manifest, from: &str) -> Result<Kind> {
    let doc: Value = serde_json::from_slice(&m.bytes)
        .with_context(|| format!("--manifest {from}: the registry's manifest is not JSON"))?;
    let media = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(&m.media_type);
    if media == OCI_INDEX || media == DOCKER_LIST {
        let mut out = Vec::new();
        for d in doc["manifests"].as_array().into_iter().flatten() {
            let platform = d.get("platform").and_then(Platform::of_config);
            let attestation = d
                .pointer("/annotations/vnd.docker.reference.type")
                .is_some_and(|t| t == "attestation-manifest");
            if let (Some(platform), false) = (platform, attestation) {
                out.push(Entry {
                    media_type: d["mediaType"].as_str().unwrap_or(OCI_MANIFEST).into(),
                    digest: d["digest"].as_str().unwrap_or_default().into(),
                    size: d["size"].as_u64().unwrap_or(0) as usize,
                    platform,
                    from: from.into(),
                });
            }
        }
        return Ok(Kind::Index(out));
    }
    if media != OCI_MANIFEST && media != DOCKER_MANIFEST {
        return Err(usage!(
            "--manifest {from} is a {media}, not an image manifest"
        ));
    }
    let config = doc
        .pointer("/config/digest")
        .and_then(Value::as_str)
        .ok_or_else(|| usage!("--manifest {from}: the manifest names no config"))?;
    Ok(Kind::Image {
        config: config.into(),
    })
}

/// The entries of one source: its manifest, and its config for the platform.
async fn entries_of(reg: &Registry, path: &str, src: &Source) -> Result<Vec<Entry>> {
    let m = reg
        .find_manifest(path, &src.reference)
        .await?
        .map_err(|_| {
            usage!(
                "--manifest {}: not in {path}: push that image first",
                src.given
            )
        })?;
    match kind(&m, &src.given)? {
        Kind::Index(entries) => Ok(entries),
        Kind::Image { config } => {
            let bytes = reg.small_blob(path, &config, MAX_CONFIG).await?;
            let cfg: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("--manifest {}: its config is not JSON", src.given))?;
            let platform = Platform::of_config(&cfg).ok_or_else(|| {
                usage!(
                    "--manifest {}: its config names no os and architecture",
                    src.given
                )
            })?;
            Ok(vec![Entry {
                media_type: m.media_type.clone(),
                digest: m.digest.clone(),
                size: m.bytes.len(),
                platform,
                from: src.given.clone(),
            }])
        }
    }
}

/// `stevedore index`.
pub async fn run(settings: &Settings, a: IndexArgs) -> Result<()> {
    let plan = IndexPlan::from_args(&a)?;
    if let Some(p) = &plan.output_file {
        crate::export::check_writable(p, "--output-file (STEVEDORE_OUTPUT_FILE)")?;
    }
    if let Some(p) = &plan.bash_env {
        crate::export::check_writable(p, "BASH_ENV")?;
    }
    let (path, region) = if plan.public {
        (
            format!("{}/{}", settings.require_alias()?, plan.repo),
            config::ECR_PUBLIC_REGION.to_string(),
        )
    } else {
        (plan.repo.clone(), settings.require_region()?.to_string())
    };
    let (reg, host) = super::repository::open_registry(plan.public, &region).await?;
    let reference = format!("{host}/{path}");

    let mut reads = tokio::task::JoinSet::new();
    for (i, src) in plan.sources.iter().enumerate() {
        let (reg, path, src) = (reg.clone(), path.clone(), src.clone());
        reads.spawn(async move { (i, entries_of(&reg, &path, &src).await) });
    }
    let mut found = vec![Vec::new(); plan.sources.len()];
    while let Some(r) = reads.join_next().await {
        let (i, entries) = r.context("a manifest read panicked")?;
        found[i] = entries?;
    }
    let entries: Vec<Entry> = found.into_iter().flatten().collect();
    check(&entries, &plan.platforms)?;
    for e in &entries {
        println!("{} {} ({})", e.platform, e.digest, e.from);
    }
    let index = build(&entries);
    // Signed before anything is tagged, as a push is: a role that may not sign tags nothing.
    let pushed = crate::image::attach::Pushed::new(&path, &reference, &index);
    let signature = crate::image::attach::prepare(&plan.extras, settings, &pushed).await?;
    for t in &plan.tags {
        if reg.manifest_digest(&path, t).await?.as_deref() == Some(index.digest.as_str()) {
            println!("tag {t} already names {}", index.digest);
            continue;
        }
        reg.put_manifest(&path, t, &index)
            .await
            .with_context(|| format!("putting the index under {reference}:{t}"))?;
        println!("tagged {reference}:{t}");
    }
    println!(
        "index {reference}@{}: {}, no layer read",
        index.digest,
        crate::units::count(entries.len(), "platform")
    );
    // The index may have been there (and signed by another key) before: its signatures merge.
    let subject = crate::image::attach::Subject::Existing;
    signature.publish(&reg, &pushed, subject).await?;
    crate::export::image_outputs(
        false,
        plan.bash_env.as_deref(),
        plan.output_file.as_deref(),
        &plan.tags,
        &reference,
        &index.digest,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(platform: &str, from: &str) -> Entry {
        Entry {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 10,
            platform: Platform::parse(platform).unwrap(),
            from: from.into(),
        }
    }

    fn code(e: anyhow::Error) -> (u8, String) {
        (crate::error::exit_code(&e), e.to_string())
    }

    #[test]
    fn platforms_parse_and_a_variantless_one_accepts_any_variant() {
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(v8.to_string(), "linux/arm64/v8");
        assert!(v8.serves(&Platform::parse("linux/arm64").unwrap()));
        assert!(!Platform::parse("linux/arm64")
            .unwrap()
            .serves(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/arm64/v8/x").is_err());
        assert!(Platform::parse("linux/$(id)").is_err());
    }

    #[test]
    fn sources_name_the_target_repository_or_are_refused() {
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            source("sha-amd64", "app", false).unwrap().reference,
            "sha-amd64"
        );
        assert_eq!(source(&d, "app", false).unwrap().reference, d);
        let full = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@{d}");
        assert_eq!(source(&full, "app", false).unwrap().reference, d);
        assert_eq!(source("app:v1", "app", false).unwrap().reference, "v1");
        assert_eq!(
            source("public.ecr.aws/alias/app:v1", "app", true)
                .unwrap()
                .reference,
            "v1"
        );
        let (c, msg) = code(source("other:v1", "app", false).unwrap_err());
        assert_eq!(c, 2);
        assert!(msg.contains("it is in repository other, not app"), "{msg}");
        // A repository whose name merely ends like the target's is another repository.
        let (c, msg) = code(source("team/app:v1", "app", false).unwrap_err());
        assert_eq!(c, 2);
        assert!(
            msg.contains("it is in repository team/app, not app"),
            "{msg}"
        );
        let (c, msg) = code(source("sha256:abc", "app", false).unwrap_err());
        assert_eq!(c, 2, "{msg}");
    }

    #[test]
    fn a_missing_duplicate_or_unlisted_platform_is_a_usage_error() {
        let amd = entry("linux/amd64", "app:amd64");
        let arm = entry("linux/arm64/v8", "app:arm64");
        let want = |s: &[&str]| -> Vec<Platform> {
            s.iter().map(|p| Platform::parse(p).unwrap()).collect()
        };
        check(
            &[amd.clone(), arm.clone()],
            &want(&["linux/amd64", "linux/arm64"]),
        )
        .unwrap();
        check(std::slice::from_ref(&amd), &[]).unwrap();
        let (c, msg) = code(
            check(
                std::slice::from_ref(&amd),
                &want(&["linux/amd64", "linux/arm64"]),
            )
            .unwrap_err(),
        );
        assert_eq!(c, 2);
        assert!(
            msg.starts_with("no image for linux/arm64 among --manifest (they are linux/amd64)"),
            "{msg}"
        );
        let (c, msg) = code(check(&[amd.clone(), entry("linux/amd64", "app:x")], &[]).unwrap_err());
        assert_eq!(c, 2);
        assert!(msg.contains("are both linux/amd64"), "{msg}");
        let (c, msg) = code(check(&[amd, arm], &want(&["linux/amd64"])).unwrap_err());
        assert_eq!(c, 2);
        assert!(
            msg.contains("--manifest app:arm64 is linux/arm64/v8, which --platforms does not list"),
            "{msg}"
        );
    }

    #[test]
    fn the_index_names_each_manifest_with_its_platform_and_its_digest_is_of_its_bytes() {
        let idx = build(&[entry("linux/amd64", "a"), entry("linux/arm64/v8", "b")]);
        let doc: Value = serde_json::from_slice(&idx.bytes).unwrap();
        assert_eq!(doc["mediaType"], OCI_INDEX);
        assert_eq!(doc["schemaVersion"], 2);
        assert_eq!(
            doc["manifests"][1]["platform"],
            json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
        );
        assert_eq!(
            doc["manifests"][0]["platform"],
            json!({"architecture": "amd64", "os": "linux"})
        );
        assert_eq!(idx.digest, crate::image::source::digest_of(&idx.bytes));
    }

    #[test]
    fn an_index_source_contributes_its_platforms_but_not_its_attestations() {
        let doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:1", "size": 5, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": "sha256:2", "size": 6, "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]});
        let m = Manifest {
            digest: "sha256:x".into(),
            media_type: OCI_INDEX.into(),
            bytes: serde_json::to_vec(&doc).unwrap(),
        };
        let Kind::Index(entries) = kind(&m, "app:multi").unwrap() else {
            panic!("an index")
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].platform.to_string(), "linux/amd64");
    }
}

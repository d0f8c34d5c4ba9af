//! `stevedore push`: an image to private ECR or ECR Public over the OCI distribution API, with
//! the blobs uploaded once and in parallel, and the manifest put under every tag last.

use super::attach::{self, Subject};
use super::engine;
use super::platform::{self, Platform};
use super::registry::{self, BlobOutcome, Registry};
use super::source::{self, Image, Source};
use crate::cli::PushArgs;
use crate::config::{self, Settings};
use crate::ecr;
use crate::error::usage;
use crate::units;
use crate::validate;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Tags from the flag (repeated or comma-separated), checked; `latest` when none.
pub fn tags(raw: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        validate::image_tag(t).map_err(|e| usage!("--tag (STEVEDORE_TAGS): '{t}' {e}"))?;
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.is_empty() {
        out.push("latest".into());
    }
    Ok(out)
}

/// Where the image comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// An image in this account's private ECR (`--from`).
    From(String),
    /// An image of the Docker engine, read with `docker save` or pushed by the daemon itself.
    Docker { name: String, via_daemon: bool },
    /// An OCI layout or an archive on disk.
    Local(Source),
}

/// A push, checked before any call: where to, which tags, from what, and what to write after.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub repo: String,
    pub public: bool,
    pub tags: Vec<String>,
    pub input: Input,
    pub mount_from: Option<String>,
    pub parallel: usize,
    pub create_repo: bool,
    pub skip_existing_tags: bool,
    pub output_file: Option<std::path::PathBuf>,
    pub bash_env: Option<std::path::PathBuf>,
    pub extras: attach::Extras,
    /// `--platform`: what the image must be (empty: not checked).
    pub platforms: Vec<Platform>,
}

impl PushPlan {
    pub fn from_args(a: &PushArgs) -> Result<PushPlan> {
        ecr::check_repo_name(&a.target.repo)?;
        let tags = tags(&a.tags)?;
        if let Some(m) = &a.mount_from {
            ecr::check_repo_name(m).map_err(|e| usage!("--mount-from: {e}"))?;
        }
        let input = if a.via == crate::values::Via::Docker {
            let name = a
                .docker_image
                .clone()
                .ok_or_else(|| usage!("--via docker needs --docker-image NAME"))?;
            Input::Docker {
                name,
                via_daemon: true,
            }
        } else if let Some(from) = &a.from {
            Input::From(from.clone())
        } else if let Some(name) = &a.docker_image {
            Input::Docker {
                name: name.clone(),
                via_daemon: false,
            }
        } else {
            Input::Local(source(a.oci_layout.as_deref(), a.archive.as_deref())?)
        };
        let platforms = platform::parse_list(a.platform.as_deref().unwrap_or_default())
            .map_err(|e| usage!("--platform (STEVEDORE_PLATFORM): {e}"))?;
        if !platforms.is_empty()
            && matches!(
                input,
                Input::Docker {
                    via_daemon: true,
                    ..
                }
            )
        {
            return Err(usage!("--platform is checked on the image stevedore reads, and with --via docker the daemon pushes it: drop --via docker (stevedore reads the engine's image itself) or --platform"));
        }
        Ok(PushPlan {
            platforms,
            repo: a.target.repo.clone(),
            public: a.target.public,
            tags,
            input,
            mount_from: a.mount_from.clone(),
            parallel: usize::from(a.parallel),
            create_repo: a.create_repo,
            skip_existing_tags: a.skip_existing_tags,
            output_file: a.output_file.clone(),
            bash_env: a.bash_env.clone().filter(|p| !p.as_os_str().is_empty()),
            extras: attach::Extras::from_args(a)?,
        })
    }
}

/// The image on disk: an OCI layout directory or an archive file.
fn source(
    oci_layout: Option<&std::path::Path>,
    archive: Option<&std::path::Path>,
) -> Result<Source> {
    match (oci_layout, archive) {
        (Some(d), _) if d.is_dir() => Ok(Source::OciDir(d.to_path_buf())),
        (Some(d), _) => Err(usage!("--oci-layout: {} is not a directory", d.display())),
        (None, Some(f)) if f.is_file() => Ok(Source::Archive(f.to_path_buf())),
        (None, Some(f)) => Err(usage!("--archive: {} is not a file", f.display())),
        (None, None) => Err(usage!(
            "nothing to push: pass --oci-layout DIR, --archive FILE, --docker-image NAME or --from REPO:TAG"
        )),
    }
}

pub async fn run(settings: &Settings, a: PushArgs) -> Result<()> {
    let plan = PushPlan::from_args(&a)?;
    let public = plan.public;
    let alias = if public {
        Some(settings.require_alias()?.to_string())
    } else {
        None
    };
    let region = if public {
        config::ECR_PUBLIC_REGION.to_string()
    } else {
        settings.require_region()?.to_string()
    };
    if let Input::Docker {
        name,
        via_daemon: true,
    } = &plan.input
    {
        return pushed_by_docker(settings, &plan, name).await;
    }
    // The files written at the end are checked before the upload starts.
    if let Some(p) = &plan.output_file {
        crate::export::check_writable(p, "--output-file (STEVEDORE_OUTPUT_FILE)")?;
    }
    if let Some(p) = &plan.bash_env {
        crate::export::check_writable(p, "BASH_ENV")?;
    }
    let started = Instant::now();
    let (img, copy_from) = read_image(settings, &plan.input).await?;
    check_platform(&plan.platforms, &img, copy_from.as_ref()).await?;
    let path = match &alias {
        Some(al) => format!("{al}/{}", plan.repo),
        None => plan.repo.clone(),
    };
    let (reg, host) = super::repository::open_registry(public, &region).await?;
    let reference = format!("{host}/{path}");

    // One round of HEADs, concurrently: what each tag names now, and whether the manifest is
    // already in the repository. A registry accepts a manifest only once every blob (and child
    // manifest) it names is there, so a manifest that is there means nothing needs uploading.
    let (named, manifest_there) = probe(&reg, &path, &img.top.digest, &plan.tags).await?;
    let mut todo = Vec::new();
    for (t, d) in plan.tags.iter().zip(&named) {
        match d {
            Some(d) if *d == img.top.digest => println!("tag {t} already names {d}"),
            Some(d) if plan.skip_existing_tags => println!("tag {t} exists ({d}); left alone"),
            _ => todo.push(t.clone()),
        }
    }
    // Signed (and the attestations made) before anything is uploaded.
    let pushed = attach::Pushed::new(&path, &reference, &img.top);
    let extras = attach::prepare(&plan.extras, settings, &pushed).await?;
    if todo.is_empty() || manifest_there {
        if todo.is_empty() {
            println!("nothing to push: every tag exists in {reference}");
        } else {
            tag_existing(&reg, &path, &reference, &img, &todo, started).await?;
        }
        extras
            .publish(&reg, &pushed, Subject::there(manifest_there))
            .await?;
        return outputs_of(&plan, &reference, &img.top.digest);
    }

    // Which blobs the registry lacks (HEAD each, concurrently); only those are read and checked
    // against their digests, all of them before the first byte is uploaded.
    let present = blobs_present(&reg, &path, &img.blobs).await?;
    let missing: Vec<source::Blob> = img
        .blobs
        .iter()
        .zip(&present)
        .filter(|(_, p)| !**p)
        .map(|(b, _)| b.clone())
        .collect();
    if let Some((src, repo)) = &copy_from {
        // Copying between registries: fetch only what the target lacks.
        for b in &missing {
            src.download_blob(repo, &b.digest, &b.path)
                .await
                .with_context(|| format!("copying blob {}", b.digest))?;
        }
    }
    let check = missing.clone();
    tokio::task::spawn_blocking(move || source::verify(&check))
        .await
        .context("verifying the image")??;
    if plan.create_repo {
        let repo = ecr::RepoPlan::minimal(&plan.repo, public);
        ecr::ensure(settings, &repo).await?;
    }

    let total: u64 = img.blobs.iter().map(|b| b.size).sum();
    println!(
        "pushing {} ({}, {}) to {reference}",
        img.top.digest,
        units::count(img.blobs.len(), "blob"),
        units::bytes(total)
    );
    let (sent, skipped) = upload(&reg, &path, &img.blobs, present, &plan).await?;
    for child in &img.children {
        reg.put_manifest(&path, &child.digest, child).await?;
    }
    for t in &todo {
        reg.put_manifest(&path, t, &img.top).await?;
        println!("tagged {reference}:{t}");
    }
    extras.publish(&reg, &pushed, Subject::New).await?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = sent;
    println!(
        "pushed {reference}@{} in {secs:.1} s: {} sent ({}), {skipped} of {} already there",
        img.top.digest,
        units::bytes(bytes),
        units::rate(bytes, secs),
        units::count(img.blobs.len(), "blob")
    );
    outputs_of(&plan, &reference, &img.top.digest)
}

/// The image to push, read (and checked) before any call: from ECR (`--from`, with the registry
/// to copy blobs from), or from a local layout, archive or the Docker engine.
async fn read_image(
    settings: &Settings,
    input: &Input,
) -> Result<(Image, Option<(Arc<Registry>, String)>)> {
    let (keep, src) = match input {
        Input::From(from) => {
            let (img, reg, repo) = remote_image(settings.require_region()?, from).await?;
            return Ok((img, Some((reg, repo))));
        }
        Input::Docker { name, .. } => {
            let (dir, path) = engine::docker_save(name)?;
            (Some(dir), Source::Archive(path))
        }
        Input::Local(src) => (None, src.clone()),
    };
    // Read the image before any call: a broken input uploads nothing.
    let img = tokio::task::spawn_blocking(move || source::read(&src))
        .await
        .context("reading the image")??;
    drop(keep);
    Ok((img, None))
}

/// `--platform` against the image, before anything is created, uploaded or tagged.
async fn check_platform(
    wanted: &[Platform],
    img: &Image,
    copy_from: Option<&(Arc<Registry>, String)>,
) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let (have, index) = platforms_of(img, copy_from).await?;
    platform::check(wanted, &have, index).map_err(|e| usage!("{e}"))
}

/// What the image is: an index's platforms, or an image's from its config (read from disk, or
/// from the registry copied from).
async fn platforms_of(
    img: &Image,
    copy_from: Option<&(Arc<Registry>, String)>,
) -> Result<(Vec<Platform>, bool)> {
    if let Some(ps) = platform::of_index(&img.top) {
        return Ok((ps, true));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&img.top.bytes).context("the image manifest is not JSON")?;
    let Some(config) = doc.pointer("/config/digest").and_then(|d| d.as_str()) else {
        return Ok((vec![], false));
    };
    let bytes = match copy_from {
        Some((src, repo)) => src.small_blob(repo, config, platform::MAX_CONFIG).await?,
        None => {
            let blob = img.blobs.iter().find(|b| b.digest == config);
            match blob {
                Some(b) if b.size <= platform::MAX_CONFIG => std::fs::read(&b.path)
                    .with_context(|| format!("reading the image config {config}"))?,
                _ => return Ok((vec![], false)),
            }
        }
    };
    let cfg: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok((Platform::of_config(&cfg).into_iter().collect(), false))
}

/// Which blobs the registry has already (HEAD each, concurrently).
async fn blobs_present(
    reg: &Arc<Registry>,
    path: &str,
    blobs: &[source::Blob],
) -> Result<Vec<bool>> {
    let mut heads = tokio::task::JoinSet::new();
    for (i, b) in blobs.iter().enumerate() {
        let (reg, path, digest) = (reg.clone(), path.to_string(), b.digest.clone());
        heads.spawn(async move { (i, reg.blob_exists(&path, &digest).await) });
    }
    let mut present = vec![false; blobs.len()];
    while let Some(r) = heads.join_next().await {
        let (i, exists) = r.context("a HEAD task panicked")?;
        present[i] = exists?;
    }
    Ok(present)
}

/// Upload the blobs not `present` (or mount them from `--mount-from`), `--parallel` at a time,
/// each said once; the bytes sent and the number of blobs already there.
async fn upload(
    reg: &Arc<Registry>,
    path: &str,
    blobs: &[source::Blob],
    present: Vec<bool>,
    plan: &PushPlan,
) -> Result<(u64, u64)> {
    let sent = Arc::new(AtomicU64::new(0));
    let skipped = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(plan.parallel));
    let mut set = tokio::task::JoinSet::new();
    for (blob, there) in blobs.iter().cloned().zip(present) {
        let (reg, sem, sent, skipped, path, from) = (
            reg.clone(),
            sem.clone(),
            sent.clone(),
            skipped.clone(),
            path.to_string(),
            plan.mount_from.clone(),
        );
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore");
            let t = Instant::now();
            let say = |line: String| super::progress::say(&line);
            let outcome = if there {
                BlobOutcome::Skipped
            } else {
                reg.push_blob(&path, &blob, from.as_deref(), &say).await?
            };
            let id = registry::short(&blob.digest);
            match outcome {
                BlobOutcome::Skipped => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    say(format!(
                        "blob {id} {}: already there, skipped",
                        units::bytes(blob.size)
                    ));
                }
                BlobOutcome::Mounted => say(format!(
                    "blob {id} {}: mounted from {}",
                    units::bytes(blob.size),
                    from.unwrap_or_default()
                )),
                BlobOutcome::Uploaded { attempts } => {
                    sent.fetch_add(blob.size, Ordering::Relaxed);
                    let tries = if attempts > 1 {
                        format!(" after {attempts} attempts")
                    } else {
                        String::new()
                    };
                    say(format!(
                        "blob {id} {}: uploaded in {:.1} s{tries}",
                        units::bytes(blob.size),
                        t.elapsed().as_secs_f64()
                    ));
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("an upload task panicked")??;
    }
    Ok((
        sent.load(Ordering::Relaxed),
        skipped.load(Ordering::Relaxed),
    ))
}

/// The warm path: the manifest is in the repository already, so only the tags are written.
async fn tag_existing(
    reg: &Registry,
    path: &str,
    reference: &str,
    img: &Image,
    todo: &[String],
    started: Instant,
) -> Result<()> {
    for t in todo {
        reg.put_manifest(path, t, &img.top).await?;
        println!("tagged {reference}:{t}");
    }
    println!(
        "pushed {reference}@{} in {:.1} s: the manifest and its {} were already there, 0 B sent",
        img.top.digest,
        started.elapsed().as_secs_f64(),
        units::count(img.blobs.len(), "blob")
    );
    Ok(())
}

/// What each tag names in `repo` now, and whether the manifest `digest` is there: all HEADs at
/// once. A HEAD the role may not make (ECR Public has no BatchGetImage) counts as unknown, and
/// the push goes the long way.
async fn probe(
    reg: &Arc<Registry>,
    repo: &str,
    digest: &str,
    tags: &[String],
) -> Result<(Vec<Option<String>>, bool)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, reference) in std::iter::once(digest)
        .chain(tags.iter().map(String::as_str))
        .enumerate()
    {
        let (reg, repo, reference) = (reg.clone(), repo.to_string(), reference.to_string());
        set.spawn(async move {
            (
                i,
                reg.manifest_digest(&repo, &reference).await.ok().flatten(),
            )
        });
    }
    let mut found = vec![None; tags.len() + 1];
    while let Some(r) = set.join_next().await {
        let (i, d) = r.context("a HEAD task panicked")?;
        found[i] = d;
    }
    let there = found[0].is_some() || found[1..].iter().any(|d| d.as_deref() == Some(digest));
    Ok((found.split_off(1), there))
}

/// An image in this account's private ECR, as a source: manifests fetched now, blobs on demand.
async fn remote_image(region: &str, from: &str) -> Result<(Image, Arc<Registry>, String)> {
    let (repo, reference) = match from.split_once('@') {
        Some((r, d)) => (r.to_string(), d.to_string()),
        None => match from.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (from.to_string(), "latest".to_string()),
        },
    };
    ecr::check_repo_name(&repo).map_err(|e| usage!("--from: {e}"))?;
    let auth = ecr::private_auth(region).await?;
    let refresh: registry::Refresh = {
        let region = region.to_string();
        Arc::new(move || {
            let region = region.clone();
            Box::pin(async move { Ok(ecr::private_auth(&region).await?.basic()) })
        })
    };
    let src = Arc::new(Registry::new(&auth.host, auth.basic(), Some(refresh))?);
    let top = src
        .get_manifest(&repo, &reference)
        .await
        .map_err(|e| usage!("--from {from}: {e:#}"))?;
    let mut manifests = Vec::new();
    let mut children = Vec::new();
    match source::index_children(&top) {
        Some(ds) => {
            for d in ds {
                let m = src.get_manifest(&repo, &d).await?;
                manifests.push(m.clone());
                children.push(m);
            }
        }
        None => manifests.push(top.clone()),
    }
    let work = tempfile::Builder::new()
        .prefix("stevedore-copy-")
        .tempdir()?;
    let mut blobs: Vec<source::Blob> = Vec::new();
    for m in &manifests {
        for (digest, size) in source::manifest_descriptors(&m.bytes)? {
            if !blobs.iter().any(|b| b.digest == digest) {
                let path = work.path().join(digest.replace(':', "-"));
                blobs.push(source::Blob { digest, size, path });
            }
        }
    }
    println!(
        "copying {}/{repo}@{} ({})",
        auth.host,
        top.digest,
        units::count(blobs.len(), "blob")
    );
    Ok((Image::remote(blobs, children, top, work), src, repo))
}

/// `--via docker`: the daemon pushes; then the signature and attestations, and the outputs.
async fn pushed_by_docker(settings: &Settings, plan: &PushPlan, name: &str) -> Result<()> {
    let (public, repo) = (plan.public, plan.repo.as_str());
    let (reference, digest) =
        engine::via_docker(settings, (public, repo), &plan.tags, name).await?;
    attach::after_docker_push(settings, &plan.extras, public, repo, &reference, &digest).await?;
    outputs_of(plan, &reference, &digest)
}

fn outputs_of(plan: &PushPlan, reference: &str, digest: &str) -> Result<()> {
    crate::export::image_outputs(
        matches!(plan.input, Input::From(_)),
        plan.bash_env.as_deref(),
        plan.output_file.as_deref(),
        &plan.tags,
        reference,
        digest,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_deduplicated_and_default_to_latest() {
        assert_eq!(tags(&[]).unwrap(), ["latest"]);
        assert_eq!(
            tags(&["v1".into(), " v1 ".into(), "sha-abc".into()]).unwrap(),
            ["v1", "sha-abc"]
        );
        assert!(tags(&["bad:tag".into()])
            .unwrap_err()
            .to_string()
            .starts_with("--tag"));
    }
}

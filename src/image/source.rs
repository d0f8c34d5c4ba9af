//! Image sources as blobs and manifests: OCI image layouts (directories or tarballs, single
//! images or multi-platform indexes) and `docker save` archives (Docker 25+'s OCI layout, or the
//! legacy layout whose uncompressed `layer.tar` files are gzip-compressed here, in parallel).
//! Every blob is checked against its digest before anything is uploaded.

use crate::error::usage;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A blob stored in a file.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub path: PathBuf,
}

/// A manifest or index, held in memory.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Manifest {
    /// A manifest of `media_type` made of `bytes`, named by their digest.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Manifest {
        Manifest {
            digest: digest_of(&bytes),
            media_type: media_type.into(),
            bytes,
        }
    }
}

/// An image ready to push: blobs, then child manifests (of an index), then the top manifest.
pub struct Image {
    pub blobs: Vec<Blob>,
    pub children: Vec<Manifest>,
    pub top: Manifest,
    /// Files unpacked from an archive live here until the push is done.
    _work: Option<tempfile::TempDir>,
}

impl Image {
    /// An image whose blobs are still to be fetched into their paths (under `work`).
    pub fn remote(
        blobs: Vec<Blob>,
        children: Vec<Manifest>,
        top: Manifest,
        work: tempfile::TempDir,
    ) -> Image {
        Image {
            blobs,
            children,
            top,
            _work: Some(work),
        }
    }
}

/// The config and layer descriptors of an image manifest, as (digest, size).
pub fn manifest_descriptors(bytes: &[u8]) -> Result<Vec<(String, u64)>> {
    let m: Value = serde_json::from_slice(bytes).context("a manifest is not JSON")?;
    let config = m.get("config").into_iter();
    let layers = m
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    config
        .chain(layers)
        .map(|d| {
            let digest = d
                .get("digest")
                .and_then(Value::as_str)
                .context("a descriptor has no digest")?;
            let size = d
                .get("size")
                .and_then(Value::as_u64)
                .context("a descriptor has no size")?;
            Ok((digest.to_string(), size))
        })
        .collect()
}

/// The child manifest digests of an index, or `None` for an image manifest.
pub fn index_children(m: &Manifest) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(&m.bytes).ok()?;
    is_index(&m.media_type, &v).then(|| {
        v.get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("digest").and_then(Value::as_str).map(String::from))
            .collect()
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// The content digest of `bytes`: `sha256:<hex>`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// `sha256:<hex>` and size of a file, read once.
pub fn file_digest(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(ctx.finish())), size))
}

/// Where an image comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An OCI image layout directory.
    OciDir(PathBuf),
    /// A tarball: `docker save` output (either layout) or an OCI layout archive.
    Archive(PathBuf),
}

/// Load an image and verify every blob against its digest.
pub fn load(source: &Source) -> Result<Image> {
    let image = read(source)?;
    verify(&image.blobs)?;
    Ok(image)
}

/// Load an image, checking its manifests but not yet its blobs (see [`verify`]): a push verifies
/// only the blobs the registry does not have.
pub fn read(source: &Source) -> Result<Image> {
    match source {
        Source::OciDir(dir) => from_oci_dir(dir, None),
        Source::Archive(path) => from_archive(path),
    }
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            usage!(
                "the image refers to an unsupported digest '{digest}' (only sha256 is supported)"
            )
        })?;
    Ok(dir.join("blobs/sha256").join(hex))
}

fn read_json(path: &Path, what: &str) -> Result<(Vec<u8>, Value)> {
    let bytes =
        std::fs::read(path).map_err(|e| usage!("{what}: cannot read {}: {e}", path.display()))?;
    let v = serde_json::from_slice(&bytes)
        .map_err(|e| usage!("{what}: {} is not valid JSON: {e}", path.display()))?;
    Ok((bytes, v))
}

fn is_index(media_type: &str, v: &Value) -> bool {
    media_type == OCI_INDEX
        || media_type == DOCKER_LIST
        || (v.get("manifests").is_some() && v.get("layers").is_none())
}

fn media_type_of(v: &Value, fallback: &str) -> String {
    v.get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(fallback)
        .to_string()
}

/// Collect a manifest's config and layer blobs from the layout.
fn manifest_blobs(dir: &Path, m: &Value, blobs: &mut BTreeMap<String, Blob>) -> Result<()> {
    let config = m
        .get("config")
        .ok_or_else(|| usage!("an image manifest has no config"))?;
    let layers = m
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in std::iter::once(config).chain(layers.iter()) {
        let digest = d
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| usage!("a descriptor has no digest"))?;
        let size = d
            .get("size")
            .and_then(Value::as_u64)
            .ok_or_else(|| usage!("the descriptor of {digest} has no size"))?;
        let path = blob_path(dir, digest)?;
        if !path.is_file() {
            return Err(usage!(
                "blob {digest} is missing from the image layout ({})",
                path.display()
            ));
        }
        crate::image::archive::contained(dir, &path, &format!("blob {digest}"))?;
        blobs.insert(
            digest.to_string(),
            Blob {
                digest: digest.to_string(),
                size,
                path,
            },
        );
    }
    Ok(())
}

fn from_oci_dir(dir: &Path, work: Option<tempfile::TempDir>) -> Result<Image> {
    let (_, index) = read_json(&dir.join("index.json"), "OCI layout")?;
    let descs = index
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if descs.is_empty() {
        return Err(usage!("{}: index.json lists no image", dir.display()));
    }
    let load = |d: &Value| -> Result<(Manifest, Value)> {
        let digest = d
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| usage!("index.json: a descriptor has no digest"))?;
        let path = blob_path(dir, digest)?;
        crate::image::archive::contained(dir, &path, &format!("manifest {digest}"))?;
        let (bytes, v) = read_json(&path, "OCI layout")?;
        let actual = format!("sha256:{}", sha256_hex(&bytes));
        if actual != digest {
            return Err(usage!(
                "manifest {digest} is corrupt: its content hashes to {actual}"
            ));
        }
        let mt = media_type_of(
            &v,
            d.get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or(OCI_MANIFEST),
        );
        Ok((
            Manifest {
                digest: digest.to_string(),
                media_type: mt,
                bytes,
            },
            v,
        ))
    };
    let mut blobs = BTreeMap::new();
    let mut children = Vec::new();
    let top = if descs.len() == 1 {
        let (top, v) = load(&descs[0])?;
        if is_index(&top.media_type, &v) {
            for child in v
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (m, mv) = load(child)?;
                manifest_blobs(dir, &mv, &mut blobs)?;
                children.push(m);
            }
        } else {
            manifest_blobs(dir, &v, &mut blobs)?;
        }
        top
    } else if descs.iter().all(|d| d.get("platform").is_some()) {
        // A layout whose index.json lists one image per platform: push that list as the index.
        for d in &descs {
            let (m, mv) = load(d)?;
            manifest_blobs(dir, &mv, &mut blobs)?;
            children.push(m);
        }
        let bytes = serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}),
        )?;
        Manifest::new(OCI_INDEX, bytes)
    } else {
        return Err(usage!(
            "{}: index.json lists {} images without platforms; keep one image per layout",
            dir.display(),
            descs.len()
        ));
    };
    Ok(Image {
        blobs: blobs.into_values().collect(),
        children,
        top,
        _work: work,
    })
}

fn from_archive(path: &Path) -> Result<Image> {
    let work = tempfile::Builder::new()
        .prefix("stevedore-image-")
        .tempdir()?;
    let file = std::fs::File::open(path)
        .map_err(|e| usage!("cannot read image archive {}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b];
    let size = file
        .metadata()
        .map_err(|e| usage!("cannot read image archive {}: {e}", path.display()))?
        .len();
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    crate::image::archive::unpack(
        reader,
        work.path(),
        crate::image::archive::Limits::for_archive(size),
        path,
    )?;
    let root = work.path().to_path_buf();
    if root.join("index.json").is_file() && root.join("oci-layout").is_file() {
        return from_oci_dir(&root, Some(work));
    }
    if root.join("manifest.json").is_file() {
        return from_legacy(&root, work);
    }
    Err(usage!("{} holds neither an OCI layout (index.json) nor a docker save manifest.json: is it truncated, or not an image archive?", path.display()))
}

/// A legacy `docker save` archive: manifest.json, a config file, uncompressed layer tars.
fn from_legacy(root: &Path, work: tempfile::TempDir) -> Result<Image> {
    let (_, m) = read_json(&root.join("manifest.json"), "docker archive")?;
    let entry = m
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| usage!("docker archive: manifest.json lists no image"))?;
    if m.as_array().map(Vec::len).unwrap_or(0) > 1 {
        return Err(usage!(
            "docker archive: manifest.json lists several images; save one image per archive"
        ));
    }
    let config_path = crate::image::archive::file_inside(
        root,
        entry
            .get("Config")
            .and_then(Value::as_str)
            .ok_or_else(|| usage!("docker archive: no Config"))?,
        "docker archive: manifest.json Config",
    )?;
    let (config_bytes, config) = read_json(&config_path, "docker archive")?;
    let layer_files: Vec<PathBuf> = entry
        .get("Layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            let l = l
                .as_str()
                .ok_or_else(|| usage!("docker archive: manifest.json Layers holds a non-string"))?;
            crate::image::archive::file_inside(root, l, "docker archive: manifest.json Layers")
        })
        .collect::<Result<_>>()?;
    let diff_ids: Vec<String> = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(String::from))
        .collect();
    if diff_ids.len() != layer_files.len() {
        return Err(usage!(
            "docker archive: the config names {} layers but the archive has {}",
            diff_ids.len(),
            layer_files.len()
        ));
    }
    // Compress the layers in parallel; each is read once, hashed raw (to check the diff id) and
    // compressed (to get the blob digest).
    let out_dir = work.path().join("compressed");
    std::fs::create_dir_all(&out_dir)?;
    let results: Vec<Result<Blob>> = std::thread::scope(|s| {
        let handles: Vec<_> = layer_files
            .iter()
            .zip(&diff_ids)
            .enumerate()
            .map(|(i, (src, diff_id))| {
                let out = out_dir.join(format!("layer-{i}.tar.gz"));
                s.spawn(move || compress_layer(src, diff_id, &out))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a compression thread panicked")))
            })
            .collect()
    });
    let layers: Vec<Blob> = results.into_iter().collect::<Result<_>>()?;
    let config_digest = format!("sha256:{}", sha256_hex(&config_bytes));
    let config_file = work.path().join("config.json");
    std::fs::write(&config_file, &config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config_bytes.len(), "digest": config_digest},
        "layers": layers.iter().map(|l| json!({"mediaType": DOCKER_LAYER_GZIP, "size": l.size, "digest": l.digest})).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec(&manifest)?;
    let mut blobs = vec![Blob {
        digest: config_digest,
        size: config_bytes.len() as u64,
        path: config_file,
    }];
    blobs.extend(layers);
    Ok(Image {
        blobs,
        children: vec![],
        top: Manifest::new(DOCKER_MANIFEST, bytes),
        _work: Some(work),
    })
}

/// Gzip a layer tar into `out`, checking its uncompressed digest against the config's diff id.
fn compress_layer(src: &Path, diff_id: &str, out: &Path) -> Result<Blob> {
    use std::io::Write;
    let mut input = std::fs::File::open(src)
        .map_err(|e| usage!("docker archive: layer {} is missing: {e}", src.display()))?;
    let mut magic = [0u8; 2];
    let already_gzip = input.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    if already_gzip {
        // Compressed already: its uncompressed content must still match the config's diff id.
        let mut raw = ring::digest::Context::new(&ring::digest::SHA256);
        let mut dec = flate2::read::GzDecoder::new(std::fs::File::open(src)?);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = dec.read(&mut buf).map_err(|e| {
                usage!(
                    "docker archive: layer {} is not valid gzip: {e}",
                    src.display()
                )
            })?;
            if n == 0 {
                break;
            }
            raw.update(&buf[..n]);
        }
        let actual = format!("sha256:{}", hex::encode(raw.finish()));
        if actual != diff_id {
            return Err(usage!("docker archive: layer {} is corrupt (its content hashes to {actual}, the config says {diff_id})", src.display()));
        }
        let (digest, size) = file_digest(src)?;
        return Ok(Blob {
            digest,
            size,
            path: src.to_path_buf(),
        });
    }
    let mut input = std::fs::File::open(src)?;
    let mut raw = ring::digest::Context::new(&ring::digest::SHA256);
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(out)?, flate2::Compression::fast());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.update(&buf[..n]);
        enc.write_all(&buf[..n])?;
    }
    enc.finish()?.flush()?;
    let actual = format!("sha256:{}", hex::encode(raw.finish()));
    if actual != diff_id {
        return Err(usage!("docker archive: layer {} is corrupt (its content hashes to {actual}, the config says {diff_id})", src.display()));
    }
    let (digest, size) = file_digest(out)?;
    Ok(Blob {
        digest,
        size,
        path: out.to_path_buf(),
    })
}

/// Check blobs' content against their digests and sizes, in parallel; fail before uploading.
pub fn verify(blobs: &[Blob]) -> Result<()> {
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = blobs
            .iter()
            .map(|b| {
                s.spawn(move || {
                    let (digest, size) = file_digest(&b.path)?;
                    if digest != b.digest || size != b.size {
                        return Err(usage!("blob {} is corrupt or truncated (content hashes to {digest}, {size} bytes; expected {} bytes)", b.digest, b.size));
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a verification thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &Path, corrupt: bool) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |b: &[u8]| {
            let h = sha256_hex(b);
            std::fs::write(blobs.join(&h), b).unwrap();
            (format!("sha256:{h}"), b.len())
        };
        let (ld, ls) = put(b"layer-bytes");
        let (cd, cs) = put(br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#);
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]});
        let (md, ms) = put(m.to_string().as_bytes());
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        std::fs::write(dir.join("index.json"), json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": ms}]}).to_string()).unwrap();
        if corrupt {
            std::fs::write(blobs.join(ld.trim_start_matches("sha256:")), b"layer-bytez").unwrap();
        }
    }

    #[test]
    fn reads_and_verifies_an_oci_layout() {
        let d = tempfile::tempdir().unwrap();
        layout(d.path(), false);
        let img = load(&Source::OciDir(d.path().to_path_buf())).unwrap();
        assert_eq!(img.blobs.len(), 2);
        assert!(img.children.is_empty());
        assert_eq!(img.top.media_type, OCI_MANIFEST);
        let c = tempfile::tempdir().unwrap();
        layout(c.path(), true);
        let e = load(&Source::OciDir(c.path().to_path_buf()))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("is corrupt or truncated"), "{e}");
    }

    #[test]
    fn a_truncated_archive_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("img");
        layout(&src, false);
        let tarball = d.path().join("img.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
        b.append_dir_all(".", &src).unwrap();
        b.finish().unwrap();
        drop(b);
        assert!(load(&Source::Archive(tarball.clone())).is_ok());
        let bytes = std::fs::read(&tarball).unwrap();
        std::fs::write(&tarball, &bytes[..bytes.len() / 3]).unwrap();
        let e = load(&Source::Archive(tarball)).err().unwrap().to_string();
        assert!(
            e.contains("truncated") || e.contains("corrupt") || e.contains("missing"),
            "{e}"
        );
    }
}

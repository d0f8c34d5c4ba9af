//! Unpacking image archives without leaving them: every entry stays inside the destination,
//! links may only point inside the archive, device files and sparse entries are refused, and
//! the unpacked size and entry count are bounded, so a hostile `docker save` tarball can neither
//! make `push` read (and upload) files of this machine nor fill its disk.

use crate::error::usage;
use anyhow::Result;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// ECR's largest layer (52,000 MiB): nothing bigger can be pushed anyway.
pub const MAX_UNPACKED: u64 = 52_000 * 1024 * 1024;
/// Unpacked bytes always allowed, whatever the archive's size.
pub const MIN_ALLOWANCE: u64 = 1 << 30;
/// How many times its own size an archive may expand to (beyond [`MIN_ALLOWANCE`]).
pub const MAX_RATIO: u64 = 50;
/// Entries one archive may hold.
pub const MAX_ENTRIES: u64 = 100_000;

/// What one archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Limits {
    /// The limits for an archive of `size` bytes on disk: at most 50 times its size (at least
    /// 1 GiB) and never more than ECR's largest layer; 100,000 entries.
    pub fn for_archive(size: u64) -> Limits {
        Limits {
            max_bytes: size
                .saturating_mul(MAX_RATIO)
                .clamp(MIN_ALLOWANCE, MAX_UNPACKED),
            max_entries: MAX_ENTRIES,
        }
    }
}

/// A path inside an archive, as written in it or in its manifests: relative, without `..`.
/// Returns the normalised relative path, or why it would leave the archive.
pub fn relative(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("goes up with '..'".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute".into()),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("is empty".into());
    }
    Ok(out)
}

/// Where a symbolic link at `entry` pointing to `target` leads, relative to the archive's root;
/// `Err` when it would leave the archive.
pub fn link_target(entry: &Path, target: &Path) -> Result<PathBuf, String> {
    if target.is_absolute() {
        return Err("points to an absolute path".into());
    }
    let mut out: Vec<std::ffi::OsString> = entry
        .parent()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_os_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for c in target.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err("points outside the archive".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("points to an absolute path".into())
            }
        }
    }
    Ok(out.iter().collect())
}

/// Unpack a tar stream into `dst` (an empty directory) within `limits`.
pub fn unpack(reader: impl Read, dst: &Path, limits: Limits, name: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let (mut bytes, mut count) = (0u64, 0u64);
    let bad = |what: String| {
        usage!(
            "{}: {what}; image archives hold files and directories inside them only",
            name.display()
        )
    };
    let entries = archive.entries().map_err(|e| {
        usage!(
            "{} is not a readable image archive (truncated or corrupt?): {e}",
            name.display()
        )
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            usage!(
                "{} is not a readable image archive (truncated or corrupt?): {e}",
                name.display()
            )
        })?;
        count += 1;
        if count > limits.max_entries {
            return Err(usage!(
                "{} holds more than {} entries: not an image archive this tool unpacks",
                name.display(),
                limits.max_entries
            ));
        }
        let path = entry
            .path()
            .map_err(|e| bad(format!("an entry has an unreadable name ({e})")))?
            .into_owned();
        let kind = entry.header().entry_type();
        // The archive's own root (`./`), as `tar -C dir -cf - .` writes it: nothing to unpack.
        if kind == tar::EntryType::Directory
            && path.components().all(|c| matches!(c, Component::CurDir))
        {
            continue;
        }
        let rel = relative(&path).map_err(|why| bad(format!("entry {} {why}", path.display())))?;
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::Directory => {}
            T::Symlink | T::Link => {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.into_owned())
                    .ok_or_else(|| bad(format!("link {} has no target", path.display())))?;
                let resolved = if kind == T::Symlink {
                    link_target(&rel, &target)
                } else {
                    // A hard link's target is named from the archive's root.
                    relative(&target).map_err(|w| format!("points to a path that {w}"))
                };
                resolved.map_err(|why| bad(format!("link {} {why}", path.display())))?;
            }
            T::GNULongName | T::GNULongLink | T::XHeader | T::XGlobalHeader => continue,
            other => {
                return Err(bad(format!(
                    "entry {} is a {other:?}, not a file or directory",
                    path.display()
                )))
            }
        }
        bytes = bytes.saturating_add(entry.header().size().unwrap_or(0));
        if bytes > limits.max_bytes {
            return Err(usage!(
                "{} unpacks to more than {} (the limit is 50 times the archive's size, at least 1 GiB, at most ECR's largest layer): not an image archive",
                name.display(),
                crate::units::bytes(limits.max_bytes)
            ));
        }
        let inside = entry.unpack_in(dst).map_err(|e| {
            usage!(
                "{} is not a readable image archive (truncated or corrupt?): {e}",
                name.display()
            )
        })?;
        if !inside {
            return Err(bad(format!("entry {} leaves the archive", path.display())));
        }
    }
    Ok(())
}

/// The file `rel` names under `root`, refused when the name or any link on the way leads
/// outside `root` or when it is not a regular file. `what` names the reference for errors.
pub fn file_inside(root: &Path, rel: &str, what: &str) -> Result<PathBuf> {
    let clean = relative(Path::new(rel))
        .map_err(|why| usage!("{what}: '{rel}' {why}: an image may only refer to its own files"))?;
    let path = root.join(clean);
    contained(root, &path, what)?;
    Ok(path)
}

/// Check that `path` (under `root`) resolves, links followed, to a regular file inside `root`.
pub fn contained(root: &Path, path: &Path, what: &str) -> Result<()> {
    let missing = |e: std::io::Error| usage!("{what}: {} is missing ({e})", path.display());
    let real_root = root.canonicalize().map_err(missing)?;
    let real = path.canonicalize().map_err(missing)?;
    if !real.starts_with(&real_root) {
        return Err(usage!(
            "{what}: {} leads outside the image (to {}): an image may only refer to its own files",
            path.display(),
            real.display()
        ));
    }
    if !real.is_file() {
        return Err(usage!("{what}: {} is not a file", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(relative(Path::new("./a/b")).unwrap(), PathBuf::from("a/b"));
        assert!(relative(Path::new("/etc/passwd")).is_err());
        assert!(relative(Path::new("a/../../b")).is_err());
        assert!(relative(Path::new(".")).is_err());
    }

    #[test]
    fn links_may_point_only_inside() {
        assert_eq!(
            link_target(Path::new("a/layer.tar"), Path::new("../b/layer.tar")).unwrap(),
            PathBuf::from("b/layer.tar")
        );
        assert!(link_target(Path::new("a/x"), Path::new("../../etc/passwd")).is_err());
        assert!(link_target(Path::new("x"), Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn limits_scale_with_the_archive_and_are_capped() {
        assert_eq!(Limits::for_archive(3_000_000).max_bytes, MIN_ALLOWANCE);
        assert_eq!(Limits::for_archive(1 << 30).max_bytes, 50 << 30);
        assert_eq!(Limits::for_archive(u64::MAX).max_bytes, MAX_UNPACKED);
    }
}

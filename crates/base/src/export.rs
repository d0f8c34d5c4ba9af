//! Handing values to later steps: `export` lines appended to `$BASH_ENV`, and named profiles
//! in the AWS shared credential and config files.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Quote a value for a POSIX shell: single quotes, with embedded ones as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `export NAME='value'` lines for the given pairs.
pub fn export_lines(vars: &[(&str, &str)]) -> String {
    vars.iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect()
}

/// Append `export` lines to a file (CircleCI's `$BASH_ENV`), owner-only: a new file is created
/// so, and an existing one (CircleCI creates it world-readable) is made so before the lines are
/// written, since they may hold credentials.
pub fn append_bash_env(path: &Path, vars: &[(&str, &str)]) -> Result<()> {
    let mut f = open_private(path)?;
    f.write_all(export_lines(vars).as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Check, before any work, that `path` can be appended to (creating it owner-only if missing),
/// so a run does not fail at its end after changing things in AWS.
pub fn check_writable(path: &Path, what: &str) -> Result<()> {
    let existed = path.exists();
    append_options().open(path).map_err(|e| {
        crate::error::usage!(
            "{what} {}: cannot write there ({e}): fix the path or its permissions",
            path.display()
        )
    })?;
    if !existed {
        // Leave no empty file behind if the run fails before writing.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Options that append to a file, creating it owner-only (mode 0600 on Unix) if missing.
fn append_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Open for appending, owner-only (mode 0600 on Unix, whatever the file's mode was).
fn open_private(path: &Path) -> Result<std::fs::File> {
    let f = append_options()
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} owner-only", path.display()))?;
    }
    Ok(f)
}

/// Replace (or add) one `[section]` of an INI text, keeping every other section and comment.
pub fn upsert_ini_section(text: &str, section: &str, pairs: &[(&str, &str)]) -> String {
    let header = format!("[{section}]");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            skipping = trimmed == header;
            if skipping {
                continue;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&header);
    out.push('\n');
    for (k, v) in pairs {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub fn credentials_file() -> Result<PathBuf> {
    aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

/// The shared config file: `AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_file() -> Result<PathBuf> {
    aws_file("AWS_CONFIG_FILE", "config")
}

fn aws_file(var: &str, name: &str) -> Result<PathBuf> {
    if let Some(p) = crate::config::env_var(var) {
        return Ok(PathBuf::from(p));
    }
    let home = crate::config::env_var("HOME")
        .context("HOME is not set, and neither is the AWS file variable")?;
    Ok(Path::new(&home).join(".aws").join(name))
}

/// Write one section of an INI file in place, owner-only, creating its directory.
pub fn write_ini_section(path: &Path, section: &str, pairs: &[(&str, &str)]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let new = upsert_ini_section(&old, section, pairs);
    replace_private(path, new.as_bytes())
}

/// Replace a file's content, owner-only: written beside it and renamed, so a reader never sees
/// half a file. The temporary file has an unpredictable name and is created exclusively
/// (O_EXCL, mode 0600), so a link planted beside the file cannot redirect the secrets.
pub fn replace_private(path: &Path, content: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".stevedore-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(content)
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("replacing {}: {}", path.display(), e.error))?;
    Ok(())
}

/// What a push (or an index) leaves for the next step: the image in `$BASH_ENV` (under the
/// copy's own names when `copy`, see [`crate::handoff`]) and, when asked, a JSON file.
pub fn image_outputs(
    copy: bool,
    bash_env: Option<&std::path::Path>,
    output_file: Option<&std::path::Path>,
    tags: &[String],
    reference: &str,
    digest: &str,
) -> Result<()> {
    let uri = format!("{reference}@{digest}");
    if let Some(path) = bash_env {
        use crate::handoff::*;
        let (digest_var, uri_var) = if copy {
            (COPIED_IMAGE_DIGEST, COPIED_IMAGE_URI)
        } else {
            (IMAGE_DIGEST, IMAGE_URI)
        };
        append_bash_env(path, &[(digest_var, digest), (uri_var, &uri)])?;
    }
    if let Some(path) = output_file {
        let doc = serde_json::json!({"digest": digest, "imageUri": uri, "repository": reference, "tags": tags});
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("abc"), "'abc'");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(
            export_lines(&[("A", "1"), ("B", "x y")]),
            "export A='1'\nexport B='x y'\n"
        );
    }

    #[test]
    fn ini_sections_are_replaced_not_duplicated() {
        let text = "# mine\n[default]\nregion = eu-west-1\n\n[ci]\naws_access_key_id = OLD\n\n[other]\nx = 1\n";
        let out = upsert_ini_section(text, "ci", &[("aws_access_key_id", "NEW")]);
        assert!(out.contains("# mine\n[default]\nregion = eu-west-1\n"));
        assert!(out.contains("[other]\nx = 1\n"));
        assert!(out.contains("[ci]\naws_access_key_id = NEW\n"));
        assert!(!out.contains("OLD"));
        assert_eq!(out.matches("[ci]").count(), 1);
        // A second profile leaves the first intact.
        let two = upsert_ini_section(&out, "ci2", &[("aws_access_key_id", "TWO")]);
        assert!(two.contains("aws_access_key_id = NEW") && two.contains("aws_access_key_id = TWO"));
        assert_eq!(upsert_ini_section("", "a", &[("k", "v")]), "[a]\nk = v\n");
    }

    #[test]
    fn bash_env_appends_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bash_env");
        append_bash_env(&p, &[("A", "1")]).unwrap();
        append_bash_env(&p, &[("B", "2")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "export A='1'\nexport B='2'\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

//! Docker's `config.json`: adding one registry's `auths` entry and keeping everything else.

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Docker's configuration directory: `DOCKER_CONFIG` (or the flag), else `~/.docker`.
pub fn config_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(p.to_path_buf());
    }
    let home =
        crate::config::env_var("HOME").context("HOME is not set: pass --docker-config DIR")?;
    Ok(Path::new(&home).join(".docker"))
}

/// Set `auths[host].auth` in a config document, keeping all other keys. Returns a warning when a
/// credential store or helper would make docker ignore the entry.
pub fn with_auth(mut doc: Value, host: &str, auth_b64: &str) -> Result<(Value, Option<String>)> {
    let obj = doc
        .as_object_mut()
        .context("config.json is not a JSON object")?;
    let mut warning = None;
    if let Some(helper) = obj
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .and_then(Value::as_str)
    {
        warning = Some(format!("config.json names credential helper '{helper}' for {host}; docker will ask it, not this entry (use --via-docker)"));
    } else if let Some(store) = obj.get("credsStore").and_then(Value::as_str) {
        warning = Some(format!("config.json sets credsStore '{store}'; docker will ask it, not this entry (use --via-docker)"));
    }
    let auths = obj
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .context("config.json's \"auths\" is not an object")?;
    auths.insert(host.to_string(), serde_json::json!({ "auth": auth_b64 }));
    Ok((doc, warning))
}

/// Write `auths[host]` into `<dir>/config.json`, owner-only. Returns the file and any warning.
pub fn save_auth(dir: &Path, host: &str, auth_b64: &str) -> Result<(PathBuf, Option<String>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("config.json");
    let doc = match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => serde_json::from_str(&s).map_err(|e| {
            crate::error::usage!(
                "{} is not valid JSON ({e}); fix or remove it",
                path.display()
            )
        })?,
        Ok(_) => Value::Object(Map::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let (doc, warning) = with_auth(doc, host, auth_b64)?;
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    crate::export::replace_private(&path, text.as_bytes())?;
    Ok((path, warning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_other_entries_and_keys() {
        let doc = json!({"auths": {"other.io": {"auth": "eA=="}}, "psFormat": "table"});
        let (out, warn) = with_auth(doc, "1.dkr.ecr.us-east-1.amazonaws.com", "QVdTOnB3").unwrap();
        assert!(warn.is_none());
        assert_eq!(out["auths"]["other.io"]["auth"], "eA==");
        assert_eq!(
            out["auths"]["1.dkr.ecr.us-east-1.amazonaws.com"]["auth"],
            "QVdTOnB3"
        );
        assert_eq!(out["psFormat"], "table");
    }

    #[test]
    fn warns_about_credential_stores() {
        let (_, w) = with_auth(json!({"credsStore": "desktop"}), "h", "a").unwrap();
        assert!(w.unwrap().contains("credsStore 'desktop'"));
        let (_, w) = with_auth(json!({"credHelpers": {"h": "ecr-login"}}), "h", "a").unwrap();
        assert!(w.unwrap().contains("ecr-login"));
        assert!(with_auth(json!([]), "h", "a").is_err());
    }

    #[test]
    fn saves_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"a":{"auth":"x"}}}"#,
        )
        .unwrap();
        let (p, _) = save_auth(dir.path(), "b", "y").unwrap();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(doc["auths"]["a"]["auth"], "x");
        assert_eq!(doc["auths"]["b"]["auth"], "y");
    }
}

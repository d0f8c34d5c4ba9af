//! Platforms (`os/architecture[/variant]`) and the check that an image is the platform asked
//! for: an engine without emulation or buildx can build the machine's own architecture under
//! another's tag (Docker's classic builder reuses a cached step whatever `--platform` says).

use super::source::{Manifest, DOCKER_LIST, OCI_INDEX};
use serde_json::{json, Value};
use std::fmt;

/// An image config larger than this is not an image config.
pub const MAX_CONFIG: u64 = 4 << 20;

/// A platform as an index names it: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`, `linux/arm64/v8`.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let ok =
            |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(format!(
                "'{s}' is not a platform (write OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64)"
            )),
        }
    }

    /// Whether an image of platform `self` serves `wanted`: a wanted platform without a
    /// variant accepts any variant (linux/arm64 is satisfied by linux/arm64/v8).
    pub fn serves(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && (wanted.variant.is_none() || wanted.variant == self.variant)
    }

    /// The platform an image config declares.
    pub fn of_config(config: &Value) -> Option<Platform> {
        let s = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        Some(Platform {
            os: s("os")?.to_string(),
            architecture: s("architecture")?.to_string(),
            variant: s("variant").map(String::from),
        })
    }

    pub(crate) fn json(&self) -> Value {
        let mut p = json!({"architecture": self.architecture, "os": self.os});
        if let Some(v) = &self.variant {
            p["variant"] = json!(v);
        }
        p
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The platforms an image is, from its manifest: an index's entries (attestation manifests and
/// `unknown/unknown` left out), or `None` for an image manifest, whose config says.
pub fn of_index(top: &Manifest) -> Option<Vec<Platform>> {
    let doc: Value = serde_json::from_slice(&top.bytes).ok()?;
    let media = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(&top.media_type);
    if media != OCI_INDEX && media != DOCKER_LIST {
        return None;
    }
    let platforms = doc["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            d.pointer("/annotations/vnd.docker.reference.type")
                .is_none_or(|t| t != "attestation-manifest")
        })
        .filter_map(|d| d.get("platform").and_then(Platform::of_config))
        .filter(|p| p.os != "unknown")
        .collect();
    Some(platforms)
}

/// `--platform` against what the image is: every platform asked for is served, and a single
/// image is not another one. The error names both sides.
pub fn check(wanted: &[Platform], have: &[Platform], index: bool) -> Result<(), String> {
    let list = |ps: &[Platform]| {
        ps.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if have.is_empty() {
        return Err(format!(
            "--platform {}: the image does not say its platform (its config has no os and architecture)",
            list(wanted)
        ));
    }
    if !index {
        let is = &have[0];
        if let Some(w) = wanted.iter().find(|w| !is.serves(w)) {
            let why = if is.architecture != w.architecture {
                " (an engine without emulation or buildx builds its own architecture: build on a machine of that architecture, or with buildx and binfmt)"
            } else {
                ""
            };
            return Err(format!(
                "--platform {}: the image is {is}, not {w}{why}; nothing was pushed",
                list(wanted)
            ));
        }
        return Ok(());
    }
    if let Some(w) = wanted.iter().find(|w| !have.iter().any(|h| h.serves(w))) {
        return Err(format!(
            "--platform {}: the index has no {w} image (it has {}); nothing was pushed",
            list(wanted),
            list(have)
        ));
    }
    Ok(())
}

/// `--platform`'s comma-separated list.
pub fn parse_list(text: &str) -> Result<Vec<Platform>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(Platform::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn an_image_of_another_architecture_is_refused_naming_both() {
        let e = check(&[p("linux/arm64")], &[p("linux/amd64")], false).unwrap_err();
        assert!(
            e.starts_with(
                "--platform linux/arm64: the image is linux/amd64, not linux/arm64 (an engine"
            ),
            "{e}"
        );
        assert!(check(&[p("linux/arm64")], &[p("linux/arm64/v8")], false).is_ok());
        assert!(check(&[p("linux/arm64/v8")], &[p("linux/arm64")], false).is_err());
        assert!(check(&[p("linux/arm64")], &[], false).is_err());
        // One image cannot be two platforms.
        let both = [p("linux/amd64"), p("linux/arm64")];
        assert!(check(&both, &[p("linux/amd64")], false).is_err());
    }

    #[test]
    fn an_index_must_hold_every_platform_asked_for() {
        let both = [p("linux/amd64"), p("linux/arm64")];
        assert!(check(&both, &both, true).is_ok());
        let e = check(&both, &[p("linux/amd64")], true).unwrap_err();
        assert_eq!(e, "--platform linux/amd64, linux/arm64: the index has no linux/arm64 image (it has linux/amd64); nothing was pushed");
        assert!(check(&[p("linux/amd64")], &both, true).is_ok());
    }

    #[test]
    fn an_index_s_platforms_leave_attestations_out() {
        let bytes = serde_json::to_vec(&json!({"mediaType": OCI_INDEX, "manifests": [
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:b", "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
        ]}))
        .unwrap();
        let top = Manifest {
            media_type: OCI_INDEX.into(),
            digest: "sha256:x".into(),
            bytes,
        };
        assert_eq!(of_index(&top), Some(vec![p("linux/amd64")]));
        assert_eq!(parse_list("linux/amd64, linux/arm64").unwrap().len(), 2);
        assert!(parse_list("arm64").is_err());
    }
}

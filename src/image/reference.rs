//! Image references as ECS and docker write them.

/// An image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        let s = s.trim();
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(format!("'{s}' is not an image reference"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| format!("'{s}': the digest must be sha256:<64 hex digits>"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("'{s}': the digest must be sha256:<64 hex digits>"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, p))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), p)
            }
            _ => (None, rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) => (r.to_string(), Some(t.to_string())),
            None => (path.to_string(), None),
        };
        if repository.is_empty() || tag.as_deref() == Some("") {
            return Err(format!("'{s}' is not an image reference"));
        }
        if let Some(t) = &tag {
            crate::validate::image_tag(t).map_err(|e| format!("'{s}': the tag {e}"))?;
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the part that names the repository.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let d = format!("localhost:5000/app@sha256:{}", "b".repeat(64));
        let r = ImageRef::parse(&d).unwrap();
        assert_eq!(
            (r.name().as_str(), r.tag.as_deref()),
            ("localhost:5000/app", None)
        );
        assert!(r.digest.is_some());
        assert_eq!(ImageRef::parse("nginx").unwrap().name(), "nginx");
        assert_eq!(ImageRef::parse("library/nginx:1").unwrap().registry, None);
        assert!(ImageRef::parse("a b").is_err());
        assert!(ImageRef::parse("app:").is_err());
    }
}

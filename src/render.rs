//! Handlebars templates from templates/, compiled into the binary and rendered in strict mode:
//! a variable the template uses but the caller did not give is an error, not an empty string.

use anyhow::{Context, Result};
use handlebars::Handlebars;
use serde::Serialize;

/// The built-in templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("lifecycle", include_str!("../templates/lifecycle.json.hbs")),
    ("trust", include_str!("../templates/trust-policy.json.hbs")),
    ("bootstrap", include_str!("../templates/bootstrap.json.hbs")),
    (
        "permissions",
        include_str!("../templates/permissions-policy.json.hbs"),
    ),
];

/// A registry of the built-in templates.
pub struct Renderer {
    hb: Handlebars<'static>,
}

impl Renderer {
    pub fn new() -> Result<Self> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        // Templates produce JSON: escape values for a JSON string, not for HTML.
        hb.register_escape_fn(json_escape);
        for (name, text) in TEMPLATES {
            hb.register_template_string(name, *text)
                .with_context(|| format!("built-in template {name} does not compile"))?;
        }
        Ok(Renderer { hb })
    }

    /// Render a built-in template with `data`.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String> {
        self.hb
            .render(name, data)
            .with_context(|| format!("rendering template {name}"))
    }
}

/// The largest template read (a task definition is at most 64 KiB once rendered).
pub const MAX_TEMPLATE: u64 = 256 * 1024;
/// Block helpers (`{{#if}}`, `{{#each}}`, …) nested deeper than this are refused: the renderer
/// recurses per level, and no task definition needs more than a handful.
pub const MAX_NESTING: usize = 32;
/// Expressions (`{{…}}`) one template may hold.
pub const MAX_EXPRESSIONS: usize = 5_000;

/// Check a template's shape before handing it to the renderer, whose recursion and cost grow
/// with nesting and expressions: at most [`MAX_NESTING`] levels of block helpers and
/// [`MAX_EXPRESSIONS`] expressions.
pub fn check_shape(text: &str) -> std::result::Result<(), String> {
    let (mut depth, mut deepest, mut count) = (0usize, 0usize, 0usize);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        count += 1;
        let tag = rest[i + 2..].trim_start_matches(['{', '~', ' ']);
        if tag.starts_with('#') {
            depth += 1;
            deepest = deepest.max(depth);
        } else if tag.starts_with('/') {
            depth = depth.saturating_sub(1);
        }
        rest = &rest[i + 2..];
    }
    if deepest > MAX_NESTING {
        return Err(format!(
            "block helpers nest {deepest} deep, more than the {MAX_NESTING} allowed; flatten the template"
        ));
    }
    if count > MAX_EXPRESSIONS {
        return Err(format!(
            "{count} expressions, more than the {MAX_EXPRESSIONS} allowed; a task definition needs far fewer"
        ));
    }
    Ok(())
}

/// Environment variables a template must not read: anything that looks like a secret. A
/// rendered template is printed by `--dry-run` and registered in ECS, where it is visible to
/// everyone who can describe the task definition.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "SESSION",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// The environment as templates see it (`{{env.NAME}}`), without the secret-looking variables
/// ([`is_secret_name`]).
pub fn template_env() -> serde_json::Map<String, serde_json::Value> {
    std::env::vars()
        .filter(|(k, _)| !is_secret_name(k))
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// Render a user's template text in strict mode with JSON escaping; the error is one line.
pub fn render_str(text: &str, data: &serde_json::Value) -> std::result::Result<String, String> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(json_escape);
    hb.render_template(text, data).map_err(|e| {
        let at = match (e.line_no, e.column_no) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: "),
            _ => String::new(),
        };
        // handlebars says `Failed to access variable in strict mode Some("image")`.
        if let handlebars::RenderErrorReason::MissingVariable(name) = e.reason() {
            let name = name.as_deref().unwrap_or("a variable");
            return format!("{at}{name} is not set (strict mode)");
        }
        // Parse errors carry a multi-line excerpt; keep the gist on one line.
        let full = e.reason().to_string();
        let gist = full
            .lines()
            .find_map(|l| l.trim().strip_prefix("= reason:").map(str::trim))
            .or_else(|| full.lines().next())
            .unwrap_or_default()
            .to_string();
        format!("{at}{gist}")
    })
}

/// Escape a value for use inside a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mode_refuses_missing_variables() {
        let r = Renderer::new().unwrap();
        // The lifecycle template tests its variables with #if, so absent ones are fine there...
        assert!(r
            .render("lifecycle", &serde_json::json!({"keep_last": 5}))
            .is_ok());
        // ...but a bare reference to a missing variable fails.
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_template_string("t", "{{missing}}").unwrap();
        assert!(hb.render("t", &serde_json::json!({})).is_err());
    }

    #[test]
    fn escapes_for_json() {
        assert_eq!(json_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(json_escape("<&>"), "<&>");
    }

    #[test]
    fn deep_or_huge_templates_are_refused_before_rendering() {
        assert!(check_shape("{{#if a}}{{x}}{{/if}}").is_ok());
        let deep = "{{#if a}}".repeat(20_000) + &"{{/if}}".repeat(20_000);
        assert!(check_shape(&deep).unwrap_err().contains("nest 20000 deep"));
        let many = "{{a}}".repeat(50_000);
        assert!(check_shape(&many)
            .unwrap_err()
            .contains("50000 expressions"));
    }

    #[test]
    fn secrets_are_withheld_from_templates() {
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "CIRCLE_OIDC_TOKEN_V2",
            "DB_PASSWORD",
            "GITHUB_TOKEN",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "CIRCLE_BUILD_NUM",
            "AWS_DEFAULT_REGION",
            "CIRCLE_SHA1",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}

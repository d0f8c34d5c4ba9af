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

/// Render a user's template text in strict mode with JSON escaping; the error is one line.
pub fn render_str(text: &str, data: &serde_json::Value) -> std::result::Result<String, String> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(json_escape);
    hb.render_template(text, data).map_err(|e| {
        // Parse errors carry a multi-line excerpt; keep the gist on one line.
        let full = e.reason().to_string();
        let gist = full
            .lines()
            .find_map(|l| l.trim().strip_prefix("= reason:").map(str::trim))
            .or_else(|| full.lines().next())
            .unwrap_or_default()
            .to_string();
        let at = match (e.line_no, e.column_no) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: "),
            _ => String::new(),
        };
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
}

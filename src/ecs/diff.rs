//! The differences between two task definitions as a dry run, a deploy's story and its report
//! show them: one line per changed leaf, containers and name/value lists keyed by name, and the
//! values of variables whose names look secret hidden (only their size is said). Pure.

use serde_json::Value;

/// The differences between two task definitions, one line per changed leaf, with containers
/// (and name/value lists) keyed by name so a reordering is not reported as a change.
pub fn diff(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", &keyed(old), &keyed(new), &mut out);
    out
}

fn keyed(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), keyed(v))).collect()),
        Value::Array(a)
            if !a.is_empty()
                && a.iter()
                    .all(|e| e.get("name").and_then(Value::as_str).is_some()) =>
        {
            Value::Object(
                a.iter()
                    .map(|e| {
                        (
                            format!("[{}]", e["name"].as_str().unwrap_or_default()),
                            keyed(e),
                        )
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(keyed).collect()),
        other => other.clone(),
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if k.starts_with('[') {
                    format!("{path}{k}")
                } else if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => walk(&p, va, vb, out),
                    (Some(va), None) => out.push(format!("- {p}: {}", shown(&p, va))),
                    (None, Some(vb)) => out.push(format!("+ {p}: {}", shown(&p, vb))),
                    (None, None) => {}
                }
            }
        }
        _ if a != b && secret_path(path) => out.push(format!(
            "~ {path}: (hidden, {} -> {}, changed)",
            crate::units::bytes(secret_len(a)),
            crate::units::bytes(secret_len(b))
        )),
        _ if a != b => out.push(format!("~ {path}: {a} -> {b}")),
        _ => {}
    }
}

/// Whether a diff path names the value of a variable whose name looks secret
/// ([`crate::render::is_secret_name`]): `…environment[DB_PASSWORD].value`.
fn secret_path(path: &str) -> bool {
    path.strip_suffix(".value")
        .and_then(|p| p.rsplit_once('['))
        .and_then(|(_, n)| n.strip_suffix(']'))
        .is_some_and(crate::render::is_secret_name)
}

/// The size of a hidden value, the only thing said of it.
fn secret_len(v: &Value) -> u64 {
    v.as_str().map_or_else(|| v.to_string().len(), str::len) as u64
}

/// A value added or removed at `path`, as a diff line shows it: secret-named variables' values
/// hidden, whole entries and lists included.
fn shown(path: &str, v: &Value) -> Value {
    if secret_path(path) {
        return Value::String(format!("(hidden, {})", crate::units::bytes(secret_len(v))));
    }
    hide_secrets(v)
}

/// `v` with the `value` of every `{"name": <secret-looking>, "value": …}` entry replaced by
/// `(hidden, N bytes)`: for what is printed or stored of a task definition or its overrides.
/// Pure.
pub fn hide_secrets(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let secret = m
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(crate::render::is_secret_name);
            Value::Object(
                m.iter()
                    .map(|(k, x)| match x {
                        _ if secret && k == "value" => (
                            k.clone(),
                            Value::String(format!(
                                "(hidden, {})",
                                crate::units::bytes(secret_len(x))
                            )),
                        ),
                        _ => (k.clone(), hide_secrets(x)),
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(hide_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_hides_the_values_of_secret_named_variables() {
        let env = |v: &str| {
            json!({"containerDefinitions": [{"name": "app", "image": "a",
            "environment": [{"name": "DB_PASSWORD", "value": v}, {"name": "MODE", "value": v}]}]})
        };
        let lines = diff(&env("hunter2"), &env("correct-horse"));
        assert_eq!(
            lines,
            [
                "~ containerDefinitions[app].environment[DB_PASSWORD].value: (hidden, 7 B -> 13 B, changed)",
                "~ containerDefinitions[app].environment[MODE].value: \"hunter2\" -> \"correct-horse\""
            ]
        );
        let none = json!({"containerDefinitions": [{"name": "app", "image": "a"}]});
        let added = diff(&none, &env("hunter2")).join("\n");
        assert!(!added.contains("hunter2\"}, {\"name\": \"MODE"), "{added}");
        assert!(added.contains("(hidden, 7 B)"), "{added}");
        assert_eq!(
            added.matches("hunter2").count(),
            1,
            "only MODE's value shows: {added}"
        );
        let removed = diff(&env("hunter2"), &none).join("\n");
        assert_eq!(removed.matches("hunter2").count(), 1, "{removed}");
    }
}

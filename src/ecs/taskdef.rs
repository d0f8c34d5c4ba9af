//! Task definitions as JSON: dropping the read-only fields, changing only what was asked, and
//! describing the difference. Pure functions, no I/O.

use crate::image::reference::ImageRef;
use serde_json::{Map, Value};

/// Fields DescribeTaskDefinition returns that RegisterTaskDefinition refuses.
pub const READ_ONLY: [&str; 9] = [
    "taskDefinitionArn",
    "deleteRequestedAt",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// The registrable part of a described task definition: everything but the read-only fields,
/// including fields this code does not know. Accepts DescribeTaskDefinition's whole answer too,
/// whose `tags` (asked for with `include: ["TAGS"]`) become the registration's `tags`: a new
/// revision keeps its predecessor's tags, which tag policies and cost allocation rely on.
pub fn registrable(described: &Value) -> Value {
    let td = described
        .get("taskDefinition")
        .filter(|v| v.is_object())
        .unwrap_or(described);
    let mut m: Map<String, Value> = td.as_object().cloned().unwrap_or_default();
    for k in READ_ONLY {
        m.remove(k);
    }
    if let Some(tags) = described
        .get("tags")
        .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
    {
        m.entry("tags").or_insert_with(|| tags.clone());
    }
    Value::Object(m)
}

/// A task definition given whole (a template or a file) that says nothing of tags takes the
/// tags of the revision it replaces; one that lists `tags` (even `[]`) keeps its own.
pub fn inherit_tags(new: &mut Value, previous: &Value) {
    let Some(obj) = new.as_object_mut() else {
        return;
    };
    if obj.contains_key("tags") {
        return;
    }
    if let Some(tags) = previous
        .get("tags")
        .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
    {
        obj.insert("tags".into(), tags.clone());
    }
}

/// The characters ECS allows in a tag key or value (`[\p{L}\p{Z}\p{N}_.:/=+\-@]*` in its model).
fn tag_char_ok(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// `--tag-task-definition KEY=VALUE` items (blank ones skipped), checked as ECS checks tags:
/// a key of 1 to 128 characters, a value of at most 256, letters, digits, spaces and `_.:/=+-@`,
/// no `aws:` prefix (reserved for AWS), at most 50 on a task definition. The error names the item.
pub fn parse_tags(items: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| format!("'{item}' is not KEY=VALUE"))?;
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(format!(
                "'{item}': a tag key has 1 to 128 characters and a value at most 256"
            ));
        }
        if !k.chars().chain(v.chars()).all(tag_char_ok) {
            return Err(format!(
                "'{item}': tags may hold letters, digits, spaces and _ . : / = + - @ only"
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "'{item}': keys starting with aws: are reserved for AWS"
            ));
        }
        out.retain(|(key, _)| key != k);
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Add each tag to a registrable task definition, or change the value of a tag it has; its
/// other tags stay. More than ECS's 50 tags is an error.
pub fn set_tags(td: &mut Value, tags: &[(String, String)]) -> Result<(), String> {
    if tags.is_empty() {
        return Ok(());
    }
    let Some(obj) = td.as_object_mut() else {
        return Err("the task definition is not a JSON object".into());
    };
    let list = obj.entry("tags").or_insert_with(|| Value::Array(vec![]));
    if !list.is_array() {
        *list = Value::Array(vec![]);
    }
    let arr = list.as_array_mut().expect("array");
    for (k, v) in tags {
        match arr
            .iter_mut()
            .find(|t| t.get("key").and_then(Value::as_str) == Some(k))
        {
            Some(t) => t["value"] = Value::String(v.clone()),
            None => arr.push(serde_json::json!({"key": k, "value": v})),
        }
    }
    if arr.len() > 50 {
        return Err(format!(
            "--tag-task-definition: the task definition would have {} tags; ECS allows 50",
            arr.len()
        ));
    }
    Ok(())
}

/// What a deploy changes in a task definition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// `container=image` pairs.
    pub images: Vec<(String, String)>,
    /// An image for every container whose image is in the same repository.
    pub image: Option<String>,
    /// `(container, NAME, value)`.
    pub env: Vec<(String, String, String)>,
    /// `(container, NAME, valueFrom)`.
    pub secrets: Vec<(String, String, String)>,
    /// `(container, KEY, value)` Docker labels.
    pub docker_labels: Vec<(String, String, String)>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// Tags to add or change (`--tag-task-definition`); set after a given definition has
    /// inherited its predecessor's, by [`set_tags`].
    pub tags: Vec<(String, String)>,
}

impl Changes {
    /// Every image the changes name, for pinning them to digests in place.
    pub fn images_mut(&mut self) -> Vec<&mut String> {
        let mut images: Vec<&mut String> = self.images.iter_mut().map(|(_, i)| i).collect();
        images.extend(self.image.as_mut());
        images
    }
}

fn container_names(containers: &[Value]) -> String {
    containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}

fn upsert_named(list: &mut Value, name: &str, key: &str, value: &str) {
    if !list.is_array() {
        *list = Value::Array(vec![]);
    }
    let arr = list.as_array_mut().expect("array");
    match arr
        .iter_mut()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(e) => e[key] = Value::String(value.to_string()),
        None => arr.push(serde_json::json!({"name": name, key: value})),
    }
}

/// Apply the changes to a registrable task definition. Errors name the input to fix.
pub fn apply(td: &Value, ch: &Changes) -> Result<Value, String> {
    let mut td = td.clone();
    let containers = td
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .ok_or("the task definition has no containerDefinitions")?;
    let find = |containers: &mut Vec<Value>, name: &str, flag: &str| -> Result<usize, String> {
        containers
            .iter()
            .position(|c| c.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| {
                format!(
                    "{flag}: no container named '{name}' in the task definition (it has: {})",
                    container_names(containers)
                )
            })
    };
    for (name, image) in &ch.images {
        ImageRef::parse(image).map_err(|e| format!("--container {name}=…: {e}"))?;
        let i = find(containers, name, "--container")?;
        containers[i]["image"] = Value::String(image.clone());
    }
    if let Some(image) = &ch.image {
        let want = ImageRef::parse(image).map_err(|e| format!("--image: {e}"))?;
        let mut hit = false;
        for c in containers.iter_mut() {
            let same = c
                .get("image")
                .and_then(Value::as_str)
                .and_then(|i| ImageRef::parse(i).ok())
                .is_some_and(|r| r.name() == want.name());
            if same {
                c["image"] = Value::String(image.clone());
                hit = true;
            }
        }
        if !hit {
            let images: Vec<&str> = containers
                .iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .collect();
            return Err(format!("--image: no container uses repository {} (images: {}); name the container with --container NAME=IMAGE", want.name(), images.join(", ")));
        }
    }
    for (name, key, value) in &ch.env {
        let i = find(containers, name, "--env")?;
        upsert_named(&mut containers[i]["environment"], key, "value", value);
    }
    for (name, key, from) in &ch.secrets {
        let i = find(containers, name, "--secret")?;
        upsert_named(&mut containers[i]["secrets"], key, "valueFrom", from);
    }
    for (name, key, value) in &ch.docker_labels {
        let i = find(containers, name, "--docker-label")?;
        let labels = &mut containers[i]["dockerLabels"];
        if !labels.is_object() {
            *labels = Value::Object(Default::default());
        }
        labels[key.as_str()] = Value::String(value.clone());
    }
    if let Some(cpu) = &ch.cpu {
        td["cpu"] = Value::String(cpu.clone());
    }
    if let Some(mem) = &ch.memory {
        td["memory"] = Value::String(mem.clone());
    }
    Ok(td)
}

/// A created service's load balancers against the task definition it runs: each names a
/// container of it that maps the port (ECS refuses the service otherwise, after the revision
/// would have been registered).
pub fn check_load_balancers(td: &Value, load_balancers: &Value) -> Result<(), String> {
    let containers = td["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for lb in load_balancers.as_array().into_iter().flatten() {
        let name = lb["containerName"].as_str().unwrap_or_default();
        let port = lb["containerPort"].as_u64().unwrap_or_default();
        let c = containers
            .iter()
            .find(|c| c["name"] == name)
            .ok_or_else(|| {
                format!(
                    "--lb-container {name}:{port}: no container named '{name}' in the task definition (it has: {})",
                    container_names(&containers)
                )
            })?;
        let ports: Vec<u64> = c["portMappings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["containerPort"].as_u64())
            .collect();
        if !ports.contains(&port) {
            return Err(format!(
                "--lb-container {name}:{port}: container {name} maps no port {port} (its portMappings: {}); add it to the task definition or fix the port",
                if ports.is_empty() { "none".to_string() } else { ports.iter().map(u64::to_string).collect::<Vec<_>>().join(", ") }
            ));
        }
    }
    Ok(())
}

pub use crate::ecs::diff::{diff, hide_secrets};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn described() -> Value {
        json!({"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3", "revision": 3, "status": "ACTIVE",
        "requiresAttributes": [{"name": "x"}], "compatibilities": ["EC2", "FARGATE"], "registeredAt": 1.0,
        "registeredBy": "me", "family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
        "someFutureField": {"kept": true},
        "containerDefinitions": [
            {"name": "web", "image": "1.dkr.ecr.us-east-1.amazonaws.com/app:v1", "environment": [{"name": "A", "value": "1"}], "logConfiguration": {"logDriver": "awslogs"}},
            {"name": "proxy", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": false}
        ]}})
    }

    #[test]
    fn registrable_drops_only_read_only_fields() {
        let r = registrable(&described());
        for k in READ_ONLY {
            assert!(r.get(k).is_none(), "{k}");
        }
        assert_eq!(r["someFutureField"]["kept"], true);
        assert_eq!(
            r["containerDefinitions"][0]["logConfiguration"]["logDriver"],
            "awslogs"
        );
        assert_eq!(r.as_object().unwrap().len(), 6);
    }

    #[test]
    fn changes_touch_only_what_was_asked() {
        let base = registrable(&described());
        let ch = Changes {
            images: vec![(
                "web".into(),
                "1.dkr.ecr.us-east-1.amazonaws.com/app@sha256:".to_string() + &"a".repeat(64),
            )],
            env: vec![
                ("web".into(), "A".into(), "2".into()),
                ("proxy".into(), "B".into(), "x".into()),
            ],
            secrets: vec![(
                "web".into(),
                "DB".into(),
                "arn:aws:ssm:us-east-1:1:parameter/db".into(),
            )],
            cpu: Some("512".into()),
            memory: Some("1024".into()),
            ..Default::default()
        };
        let new = apply(&base, &ch).unwrap();
        let d = diff(&base, &new);
        assert!(
            d.contains(
                &r#"~ containerDefinitions[web].environment[A].value: "1" -> "2""#.to_string()
            ),
            "{d:#?}"
        );
        assert!(
            d.iter()
                .any(|l| l.starts_with("~ containerDefinitions[web].image:")),
            "{d:#?}"
        );
        assert!(
            d.iter()
                .any(|l| l.starts_with("+ containerDefinitions[proxy].environment:")),
            "{d:#?}"
        );
        assert!(
            d.iter()
                .any(|l| l.starts_with("+ containerDefinitions[web].secrets:")),
            "{d:#?}"
        );
        assert_eq!(d.len(), 6, "{d:#?}");
        // Everything else is identical.
        let mut back = new.clone();
        back["containerDefinitions"][0]["image"] = base["containerDefinitions"][0]["image"].clone();
        back["containerDefinitions"][0]["environment"] =
            base["containerDefinitions"][0]["environment"].clone();
        back["containerDefinitions"][0]
            .as_object_mut()
            .unwrap()
            .remove("secrets");
        back["containerDefinitions"][1]
            .as_object_mut()
            .unwrap()
            .remove("environment");
        back["cpu"] = json!("256");
        back["memory"] = json!("512");
        assert_eq!(back, base);
        assert!(diff(&base, &base).is_empty());
    }

    #[test]
    fn image_for_a_repository_replaces_matching_containers_only() {
        let base = registrable(&described());
        let ch = Changes {
            image: Some("1.dkr.ecr.us-east-1.amazonaws.com/app:v2".into()),
            ..Default::default()
        };
        let new = apply(&base, &ch).unwrap();
        assert_eq!(
            new["containerDefinitions"][0]["image"],
            "1.dkr.ecr.us-east-1.amazonaws.com/app:v2"
        );
        assert_eq!(
            new["containerDefinitions"][1]["image"],
            "public.ecr.aws/nginx/nginx:1.27"
        );
        let e = apply(
            &base,
            &Changes {
                image: Some("other/repo:1".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            e.starts_with("--image: no container uses repository other/repo"),
            "{e}"
        );
    }

    #[test]
    fn unknown_containers_and_bad_images_are_named() {
        let base = registrable(&described());
        let e = apply(
            &base,
            &Changes {
                images: vec![("api".into(), "x:1".into())],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            "--container: no container named 'api' in the task definition (it has: web, proxy)"
        );
        let e = apply(
            &base,
            &Changes {
                images: vec![("web".into(), "x@sha256:12".into())],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("64 hex"), "{e}");
    }

    #[test]
    fn a_new_revision_keeps_the_described_tags() {
        let described = json!({
            "taskDefinition": {"family": "web", "revision": 3, "containerDefinitions": []},
            "tags": [{"key": "team", "value": "web"}, {"key": "cost-center", "value": "42"}]
        });
        let r = registrable(&described);
        assert_eq!(r["tags"], described["tags"]);
        assert!(r.get("revision").is_none());
        // Without tags (or with none) nothing is added.
        let bare = registrable(&json!({"taskDefinition": {"family": "web"}, "tags": []}));
        assert!(bare.get("tags").is_none());
    }

    #[test]
    fn tags_are_added_or_changed_and_the_others_kept() {
        let tags = parse_tags(&["team=api".into(), " release = 42 ".into(), "".into()]).unwrap();
        assert_eq!(
            tags,
            vec![
                ("team".into(), "api".into()),
                ("release".into(), "42".into())
            ]
        );
        let mut td = json!({"family": "web", "tags": [{"key": "team", "value": "web"}, {"key": "cost-center", "value": "7"}]});
        set_tags(&mut td, &tags).unwrap();
        assert_eq!(
            td["tags"],
            json!([{"key": "team", "value": "api"}, {"key": "cost-center", "value": "7"}, {"key": "release", "value": "42"}])
        );
        let mut bare = json!({"family": "web"});
        set_tags(&mut bare, &[]).unwrap();
        assert!(bare.get("tags").is_none(), "no tags asked, none added");
        for (bad, says) in [
            ("novalue", "is not KEY=VALUE"),
            ("=x", "1 to 128 characters"),
            ("aws:owner=me", "reserved for AWS"),
            ("AWS:owner=me", "reserved for AWS"),
            ("team=a;b", "letters, digits"),
        ] {
            let e = parse_tags(&[bad.into()]).unwrap_err();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
        let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(set_tags(&mut json!({}), &many)
            .unwrap_err()
            .contains("ECS allows 50"));
        assert!(set_tags(&mut json!([1]), &tags).is_err());
    }

    #[test]
    fn a_given_definition_inherits_tags_unless_it_lists_its_own() {
        let previous = json!({"family": "web", "tags": [{"key": "team", "value": "web"}]});
        let mut from_template = json!({"family": "web"});
        inherit_tags(&mut from_template, &previous);
        assert_eq!(from_template["tags"], previous["tags"]);
        let mut own = json!({"family": "web", "tags": [{"key": "team", "value": "api"}]});
        inherit_tags(&mut own, &previous);
        assert_eq!(own["tags"][0]["value"], "api");
        let mut cleared = json!({"family": "web", "tags": []});
        inherit_tags(&mut cleared, &previous);
        assert_eq!(cleared["tags"], json!([]));
    }
}

//! The fields RegisterTaskDefinition takes, from ECS's model (botocore's
//! `ecs/2014-11-13/service-2.json`, checked by a test), so that a mistyped field in a
//! task-definition file or template (`memroy`) is refused by name with the nearest real one,
//! before anything is registered, in a dry run as in the run. Pure.

use serde_json::Value;

/// `RegisterTaskDefinitionRequest`'s members.
pub const TASK_DEFINITION: &[&str] = &[
    "containerDefinitions",
    "cpu",
    "enableFaultInjection",
    "ephemeralStorage",
    "executionRoleArn",
    "family",
    "inferenceAccelerators",
    "ipcMode",
    "memory",
    "networkMode",
    "pidMode",
    "placementConstraints",
    "proxyConfiguration",
    "requiresCompatibilities",
    "runtimePlatform",
    "tags",
    "taskRoleArn",
    "trustedExecutionConfiguration",
    "volumes",
];

/// `ContainerDefinition`'s members.
pub const CONTAINER_DEFINITION: &[&str] = &[
    "command",
    "cpu",
    "credentialSpecs",
    "dependsOn",
    "disableNetworking",
    "dnsSearchDomains",
    "dnsServers",
    "dockerLabels",
    "dockerSecurityOptions",
    "entryPoint",
    "environment",
    "environmentFiles",
    "essential",
    "extraHosts",
    "firelensConfiguration",
    "healthCheck",
    "hostname",
    "image",
    "interactive",
    "links",
    "linuxParameters",
    "logConfiguration",
    "memory",
    "memoryReservation",
    "mountPoints",
    "name",
    "portMappings",
    "privileged",
    "pseudoTerminal",
    "readonlyRootFilesystem",
    "repositoryCredentials",
    "resourceRequirements",
    "restartPolicy",
    "secrets",
    "startTimeout",
    "stopTimeout",
    "systemControls",
    "ulimits",
    "user",
    "versionConsistency",
    "volumesFrom",
    "workingDirectory",
];

/// The first field of `td` (a registrable task definition) that ECS does not take, said as
/// `containerDefinitions[app].memroy is not a field of a container definition (did you mean
/// memory?)`; none when every top-level and container field is one of the model's.
pub fn unknown(td: &Value) -> Option<String> {
    let top = td.as_object()?;
    if let Some(k) = top.keys().find(|k| !TASK_DEFINITION.contains(&k.as_str())) {
        return Some(format!(
            "{k} is not a field of a task definition{}",
            hint(k, TASK_DEFINITION)
        ));
    }
    let containers = top.get("containerDefinitions")?.as_array()?;
    for (i, c) in containers.iter().enumerate() {
        let Some(c) = c.as_object() else { continue };
        if let Some(k) = c
            .keys()
            .find(|k| !CONTAINER_DEFINITION.contains(&k.as_str()))
        {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| i.to_string(), str::to_string);
            return Some(format!(
                "containerDefinitions[{name}].{k} is not a field of a container definition{}",
                hint(k, CONTAINER_DEFINITION)
            ));
        }
    }
    None
}

/// ` (did you mean X?)` for the nearest field within two edits (case aside), else nothing.
fn hint(field: &str, known: &[&str]) -> String {
    let lower = field.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map_or_else(String::new, |(_, k)| format!(" (did you mean {k}?)"))
}

/// Levenshtein distance, with an adjacent swap counted as one edit (`memroy` → `memory`).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The member names of `shape` in botocore's ECS model, from the test venv (`make deps`).
    fn model_members(shape: &str) -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
        let path = std::fs::read_dir(&root)
            .expect("the test venv: run `make deps`")
            .filter_map(|e| e.ok())
            .map(|e| {
                e.path()
                    .join("site-packages/botocore/data/ecs/2014-11-13/service-2.json.gz")
            })
            .find(|p| p.exists())
            .expect("botocore's ECS model in the venv");
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
        let model: Value = serde_json::from_reader(gz).unwrap();
        let mut names: Vec<String> = model["shapes"][shape]["members"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_lists_are_the_models_shapes() {
        for (shape, ours) in [
            ("RegisterTaskDefinitionRequest", TASK_DEFINITION),
            ("ContainerDefinition", CONTAINER_DEFINITION),
        ] {
            assert_eq!(model_members(shape), ours.to_vec(), "{shape}");
        }
    }

    #[test]
    fn a_mistyped_field_is_named_with_the_nearest_real_one() {
        let td = json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "x", "memroy": 512}]});
        assert_eq!(
            unknown(&td).unwrap(),
            "containerDefinitions[app].memroy is not a field of a container definition (did you mean memory?)"
        );
        let td = json!({"family": "web", "containerDefinitions": [], "taskRoleARN": "r"});
        assert_eq!(
            unknown(&td).unwrap(),
            "taskRoleARN is not a field of a task definition (did you mean taskRoleArn?)"
        );
        let td =
            json!({"family": "web", "containerDefinitions": [{"image": "x", "colour": "blue"}]});
        assert_eq!(
            unknown(&td).unwrap(),
            "containerDefinitions[0].colour is not a field of a container definition"
        );
        let ok = json!({"family": "web", "cpu": "256", "containerDefinitions": [{"name": "app", "image": "x", "memory": 512}]});
        assert_eq!(unknown(&ok), None);
    }

    #[test]
    fn distances_count_a_swap_as_one_edit() {
        assert_eq!(distance("memroy", "memory"), 1);
        assert_eq!(distance("image", "image"), 0);
        assert_eq!(distance("imag", "image"), 1);
        assert_eq!(distance("", "cpu"), 3);
    }
}

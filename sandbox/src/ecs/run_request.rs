//! Docker mode: what a task's container is started with, from its task definition and the
//! task's overrides (command, environment, health check, published ports).

use super::health::HealthCheck;
use super::model::*;
use serde_json::Value;

/// The `docker run` of container `c` (the task's first essential one).
pub(super) fn run_request(
    td: &TaskDef,
    c: &Container,
    overrides: &Value,
    health: Option<HealthCheck>,
    task_arn: String,
) -> RunRequest {
    let ov = overrides["containerOverrides"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"].as_str() == Some(c.name.as_str()));
    let definition = td.json["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["name"].as_str() == Some(c.name.as_str()));
    let strings = |a: &Vec<Value>| -> Vec<String> {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    // The override's command, else the container definition's, else the image's.
    let command = ov
        .and_then(|o| o["command"].as_array())
        .or_else(|| definition.and_then(|d| d["command"].as_array()))
        .map(strings)
        .unwrap_or_default();
    let ports = definition
        .and_then(|d| d["portMappings"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| u16::try_from(m["containerPort"].as_u64()?).ok())
        .collect();
    let mut env: Vec<(String, String)> = definition
        .into_iter()
        .flat_map(|d| d["environment"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    env.extend(
        ov.and_then(|o| o["environment"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                ))
            }),
    );
    RunRequest {
        task_arn,
        image: c.image.clone(),
        command,
        env,
        health,
        ports,
    }
}

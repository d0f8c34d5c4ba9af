//! What a task's containers printed, from CloudWatch Logs (the awslogs driver): where each
//! container writes, following a running task's streams, and the last lines of a stopped one.
//!
//! Reads are GetLogEvents on `<awslogs-stream-prefix>/<container>/<task id>` with the forward
//! token (AWS hands the same token back at the end of a stream), a page of up to 10,000 lines
//! per call, each line printed as it is read: memory stays one page. What a container printed
//! is data: an event is split at its newlines and each line escaped ([`crate::relay`]) as it is
//! read, so every line printed or reported carries the container's prefix and no terminal command.

use crate::aws::credentials::Refreshing;
use crate::aws::json::{self, CallError, Client};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One container's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub container: String,
    pub group: String,
    pub region: String,
    pub name: String,
}

/// Which containers' output to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Print none (`none` works too, for YAML, where `off` reads as false).
    #[value(alias = "none")]
    Off,
    /// The essential container's, or --container's.
    Essential,
    /// Every container's.
    All,
}

/// The streams of `containers` (all of the task definition's when empty) for task `task_id`,
/// and the names of those that write none (no awslogs driver, or no stream prefix, without
/// which the stream is not named after the task). Pure.
pub fn streams(
    td: &Value,
    task_id: &str,
    region: &str,
    containers: &[&str],
) -> (Vec<Stream>, Vec<String>) {
    let defs = td
        .pointer("/taskDefinition/containerDefinitions")
        .or_else(|| td.get("containerDefinitions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (mut found, mut without) = (Vec::new(), Vec::new());
    for d in &defs {
        let name = d["name"].as_str().unwrap_or_default().to_string();
        if !containers.is_empty() && !containers.contains(&name.as_str()) {
            continue;
        }
        let c = &d["logConfiguration"];
        let o = &c["options"];
        match (
            c["logDriver"].as_str(),
            o["awslogs-group"].as_str(),
            o["awslogs-stream-prefix"].as_str(),
        ) {
            (Some("awslogs"), Some(group), Some(prefix)) => found.push(Stream {
                name: format!("{prefix}/{name}/{task_id}"),
                container: name,
                group: group.to_string(),
                region: o["awslogs-region"]
                    .as_str()
                    .filter(|r| !r.is_empty())
                    .unwrap_or(region)
                    .to_string(),
            }),
            _ => without.push(name),
        }
    }
    (found, without)
}

/// The line said once when a container's output cannot be shown.
pub fn no_logs_line(containers: &[String]) -> String {
    format!(
        "no logs to show for {}: give the container a logConfiguration with logDriver awslogs and the options awslogs-group, awslogs-region and awslogs-stream-prefix",
        containers.join(", ")
    )
}

/// CloudWatch Logs clients, one per region, signing with the command's credentials.
pub struct Logs {
    credentials: Arc<Refreshing>,
    /// A read made inside work with a deadline ([`crate::aws::deadline`]) does not outlive it.
    clients: Mutex<HashMap<String, Arc<Client>>>,
    /// GetLogEvents calls made, for the bench.
    pub calls: std::sync::atomic::AtomicU64,
}

/// Why reading a stream stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The role may not read it (said once; the command goes on without logs).
    Denied(String),
    Other(String),
}

impl Logs {
    pub fn new(credentials: Arc<Refreshing>) -> Logs {
        Logs {
            credentials,
            clients: Mutex::new(HashMap::new()),
            calls: Default::default(),
        }
    }

    fn client(&self, region: &str) -> Result<Arc<Client>, ReadError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(region) {
            return Ok(c.clone());
        }
        let c = Arc::new(
            Client::new(&json::LOGS, region, self.credentials.clone())
                .map_err(|e| ReadError::Other(format!("{e:#}")))?,
        );
        clients.insert(region.to_string(), c.clone());
        Ok(c)
    }

    /// One GetLogEvents page: the messages and the next forward token. A stream (or group) that
    /// does not exist yet reads as empty, the token unchanged.
    async fn page(
        &self,
        s: &Stream,
        token: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<String>, Option<String>), ReadError> {
        let mut req = json!({"logGroupName": s.group, "logStreamName": s.name});
        match token {
            Some(t) => req["nextToken"] = json!(t),
            None if limit.is_none() => req["startFromHead"] = json!(true),
            None => {}
        }
        if let Some(n) = limit {
            req["limit"] = json!(n);
        }
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.client(&s.region)?.call("GetLogEvents", &req).await {
            Ok(v) => Ok((
                v["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["message"].as_str())
                    .flat_map(|m| crate::relay::split_lines(m.trim_end_matches('\n')))
                    .collect(),
                v["nextForwardToken"].as_str().map(String::from),
            )),
            Err(CallError::Api(e)) if e.code == "ResourceNotFoundException" => {
                Ok((vec![], token.map(String::from)))
            }
            Err(CallError::Api(e)) if e.code == "AccessDeniedException" => {
                Err(ReadError::Denied(format!("{}: {}", e.code, e.message)))
            }
            Err(e) => Err(ReadError::Other(e.to_string())),
        }
    }

    /// The last `n` lines of a stream.
    pub async fn tail(&self, s: &Stream, n: u32) -> Result<Vec<String>, ReadError> {
        Ok(self.page(s, None, Some(n.clamp(1, 10_000))).await?.0)
    }
}

/// Following streams as a task runs: each call prints what arrived since the last.
pub struct Follower<'a> {
    logs: &'a Logs,
    streams: Vec<(Stream, Option<String>)>,
    /// Set once reading failed for good; said once.
    gave_up: bool,
    pub lines: u64,
}

impl<'a> Follower<'a> {
    pub fn new(logs: &'a Logs, streams: Vec<Stream>) -> Self {
        Follower {
            logs,
            streams: streams.into_iter().map(|s| (s, None)).collect(),
            gave_up: false,
            lines: 0,
        }
    }

    /// Print what the streams hold beyond what was printed (`container| line`); with `drain`, read until each stream's token
    /// comes back unchanged, its end. Whether anything was printed.
    pub async fn poll(&mut self, drain: bool) -> bool {
        if self.gave_up {
            return false;
        }
        let mut printed = false;
        for (s, token) in self.streams.iter_mut() {
            // A page at a time; a full page means more is there now.
            for _ in 0..1000 {
                let (lines, next) = match self.logs.page(s, token.as_deref(), None).await {
                    Ok(p) => p,
                    Err(e) => {
                        let why = match e {
                            ReadError::Denied(m) => format!(
                                "{m} (`stevedore iam policy --log-group {}` grants it)",
                                s.group
                            ),
                            ReadError::Other(m) => m,
                        };
                        eprintln!(
                            "cannot read the logs of {} ({}): {why}; going on without them",
                            s.container, s.name
                        );
                        self.gave_up = true;
                        return printed;
                    }
                };
                let at_end = next.is_none() || next == *token;
                for l in &lines {
                    println!("{}| {l}", s.container);
                }
                self.lines += lines.len() as u64;
                printed |= !lines.is_empty();
                if next.is_some() {
                    *token = next;
                }
                if at_end || (!drain && lines.len() < 10_000) {
                    break;
                }
            }
        }
        printed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_as_the_awslogs_driver_names_them() {
        let td = json!({"taskDefinition": {"containerDefinitions": [
            {"name": "app", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}}},
            {"name": "sidecar", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "side"}}},
            {"name": "plain"},
            {"name": "noprefix", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}}
        ]}});
        let (found, without) = streams(&td, "abc123", "us-east-1", &[]);
        assert_eq!(
            found,
            vec![
                Stream {
                    container: "app".into(),
                    group: "/ecs/web".into(),
                    region: "eu-west-1".into(),
                    name: "ecs/app/abc123".into()
                },
                Stream {
                    container: "sidecar".into(),
                    group: "/ecs/web".into(),
                    region: "us-east-1".into(),
                    name: "side/sidecar/abc123".into()
                },
            ]
        );
        assert_eq!(without, ["plain", "noprefix"]);
        let (found, without) = streams(&td, "abc123", "us-east-1", &["plain"]);
        assert!(found.is_empty());
        assert_eq!(without, ["plain"]);
        assert!(no_logs_line(&without).starts_with("no logs to show for plain: "));
    }
}

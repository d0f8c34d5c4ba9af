//! The streams ECS tasks feed through the awslogs driver: `<awslogs-stream-prefix>/<container>/<task id>`
//! of the group in the task definition's options, with what the container printed by now.

use super::Event;
use crate::ecs::{EcsState, Fate, Task};
use serde_json::Value;
use std::sync::Arc;

/// The label with lines an image prints (one per line of the label's value).
pub const LABEL_LOG_LINES: &str = "stevedore.sandbox.log-lines";
/// The label with a number of lines `line 1` … `line N` an image prints after those.
pub const LABEL_LOG_COUNT: &str = "stevedore.sandbox.log-count";

/// What a simulated container prints: the label's lines, then `count` numbered ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLines {
    pub text: Arc<Vec<String>>,
    pub count: u64,
}

impl LogLines {
    pub fn from_labels(labels: &serde_json::Map<String, Value>) -> LogLines {
        let text = labels
            .get(LABEL_LOG_LINES)
            .and_then(Value::as_str)
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default();
        let count = labels
            .get(LABEL_LOG_COUNT)
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| v.as_u64())
            })
            .unwrap_or(0);
        LogLines {
            text: Arc::new(text),
            count,
        }
    }

    pub fn len(&self) -> u64 {
        self.text.len() as u64 + self.count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn line(&self, i: u64) -> String {
        match self.text.get(i as usize) {
            Some(l) => l.clone(),
            None => format!("line {}", i - self.text.len() as u64 + 1),
        }
    }
}

/// The awslogs options of a container definition: (group, region, stream prefix).
fn awslogs(container: &Value) -> Option<(String, String, String)> {
    let c = &container["logConfiguration"];
    if c["logDriver"] != "awslogs" {
        return None;
    }
    let o = &c["options"];
    Some((
        o["awslogs-group"].as_str()?.to_string(),
        o["awslogs-region"].as_str().unwrap_or_default().to_string(),
        o["awslogs-stream-prefix"].as_str()?.to_string(),
    ))
}

/// The streams ECS tasks feed in `group` of `region`: name, creation time, events up to `now`.
pub(super) fn task_streams(
    ecs: &EcsState,
    region: &str,
    group: &str,
    now_ms: i64,
) -> Vec<(String, i64, Vec<Event>)> {
    let mut out = Vec::new();
    for t in &ecs.tasks {
        let Some(started) = t.started_at else {
            continue;
        };
        let Some(td) = crate::ecs::find_task_definition(ecs, &t.td_arn) else {
            continue;
        };
        for def in td.json["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some((g, r, prefix)) = awslogs(def) else {
                continue;
            };
            if g != group || (!r.is_empty() && r != region) {
                continue;
            }
            let name = def["name"].as_str().unwrap_or_default();
            let events = container_events(ecs, t, def, started, now_ms);
            out.push((
                format!("{prefix}/{name}/{}", t.id),
                (started * 1000.0) as i64,
                events,
            ));
        }
    }
    out
}

/// What one container of a task printed by `now_ms`, with its times: simulated lines spread
/// evenly over its run (until its exit, or over a second), a real container's at its exit.
fn container_events(
    ecs: &EcsState,
    t: &Task,
    def: &Value,
    started: f64,
    now_ms: i64,
) -> Vec<Event> {
    let image = def["image"].as_str().unwrap_or_default();
    let start_ms = (started * 1000.0) as i64;
    if let Some(lines) = &t.docker_log {
        return lines
            .iter()
            .map(|(at, l)| {
                let ms = (at * 1000.0) as i64;
                Event {
                    timestamp: ms,
                    message: l.clone(),
                    ingestion: ms,
                }
            })
            .collect();
    }
    let Some(Fate::Runs { exit, log, .. }) = ecs.fates.get(image) else {
        return vec![];
    };
    let span_ms = exit.map_or(1000.0, |(_, after)| after * 1000.0).max(1.0);
    let stopped = t.last_status == "STOPPED";
    let n = log.len();
    let mut events = Vec::new();
    for i in 0..n {
        let ts = start_ms + ((i as f64 + 1.0) / n as f64 * span_ms * 0.9) as i64;
        if ts > now_ms && !stopped {
            break;
        }
        events.push(Event {
            timestamp: ts,
            message: log.line(i),
            ingestion: ts,
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_lines_come_first_then_numbered_ones() {
        let mut labels = serde_json::Map::new();
        labels.insert(LABEL_LOG_LINES.into(), json!("Traceback\n  boom"));
        labels.insert(LABEL_LOG_COUNT.into(), json!("2"));
        let l = LogLines::from_labels(&labels);
        assert_eq!(
            (0..l.len()).map(|i| l.line(i)).collect::<Vec<_>>(),
            ["Traceback", "  boom", "line 1", "line 2"]
        );
    }
}

//! The rollout report (`deploy --report DIR`): what was recorded while a deploy was followed
//! ([`Record`]: task counts per deployment at each poll, service events, stopped tasks, log
//! tails, the task-definition diff) and its three renderings: `report.json` (the shape
//! `docs/report.schema.json` describes), `report.html` (one self-contained page, an SVG timeline
//! above the diff and the log tails; no script, no network) and `summary.md`. Rendering is pure.

use serde::Serialize;
use std::fmt::Write as _;
use std::time::Instant;

/// Task counts of one deployment at one poll.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// Seconds since the service's deploy began.
    pub t: f64,
    pub deployment: String,
    pub task_definition: String,
    pub desired: i64,
    pub running: i64,
    pub pending: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub t: f64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stopped {
    pub t: f64,
    pub task: String,
    pub stop_code: Option<String>,
    pub reason: String,
    /// `container exited N` or `container: reason`, as the line printed says.
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogTail {
    pub t: f64,
    pub container: String,
    pub stream: String,
    pub lines: Vec<String>,
}

/// What following one service's deploy saw.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(skip)]
    start: Option<Instant>,
    pub samples: Vec<Sample>,
    pub events: Vec<Event>,
    pub stopped: Vec<Stopped>,
    pub log_tails: Vec<LogTail>,
    pub diff: Vec<String>,
    /// Lifecycle stages of a blue/green, linear or canary deployment, as they began.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Event>,
    /// Where the new revision's tasks answer (`http://IP:PORT`), when a check asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// How the rollback ECS made ended, when it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

/// How ECS's rollback ended, for the last line and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Rollback {
    /// The previous revision runs again, rollout COMPLETED.
    Restored {
        to: String,
        running: i64,
        desired: i64,
        seconds: u64,
    },
    /// The rollback deployment failed too: the service is left without a healthy revision.
    Failed { to: String, reason: String },
    /// `--timeout` passed with the rollback still in progress.
    Unfinished {
        to: String,
        running: i64,
        desired: i64,
    },
    /// `--rollback-wait none`: the rollback goes on in ECS.
    NotFollowed { to: String },
}

impl Rollback {
    /// The rollback's outcome, said once at the end of the verdict.
    pub fn line(&self) -> String {
        match self {
            Rollback::Restored {
                to,
                running,
                desired,
                seconds,
            } => format!("rolled back: {to} running {running}/{desired} again after {seconds} s"),
            Rollback::Failed { to, reason } => {
                format!(
                    "the rollback to {to} FAILED too ({reason}): no healthy revision is running"
                )
            }
            Rollback::Unfinished {
                to,
                running,
                desired,
            } => format!(
                "the rollback to {to} had not finished at --timeout ({running}/{desired} running)"
            ),
            Rollback::NotFollowed { to } => {
                format!("ECS is rolling back to {to} (not followed: --rollback-wait none)")
            }
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record {
            start: Some(Instant::now()),
            samples: vec![],
            events: vec![],
            stopped: vec![],
            log_tails: vec![],
            diff: vec![],
            stages: vec![],
            urls: vec![],
            rollback: None,
        }
    }
}

impl Record {
    /// Seconds since recording began.
    pub fn now(&self) -> f64 {
        self.start
            .map_or(0.0, |s| (s.elapsed().as_secs_f64() * 10.0).round() / 10.0)
    }

    /// The deployments' counts now; a poll that changed nothing adds nothing but the last.
    pub fn sample(&mut self, deployments: &[crate::ecs::api::Deployment]) {
        let t = self.now();
        for d in deployments {
            let s = Sample {
                t,
                deployment: d.id.clone(),
                task_definition: short(&d.task_definition).to_string(),
                desired: d.desired_count,
                running: d.running_count,
                pending: d.pending_count,
                failed: d.failed_tasks,
            };
            let last = self
                .samples
                .iter()
                .rev()
                .find(|x| x.deployment == s.deployment);
            let same = last.is_some_and(|l| {
                (l.desired, l.running, l.pending, l.failed)
                    == (s.desired, s.running, s.pending, s.failed)
            });
            if !same {
                self.samples.push(s);
            }
        }
    }

    /// A lifecycle stage began.
    pub fn stage(&mut self, name: &str) {
        let t = self.now();
        self.stages.push(Event {
            t,
            message: name.to_string(),
        });
    }

    pub fn event(&mut self, message: &str) {
        let t = self.now();
        self.events.push(Event {
            t,
            message: message.to_string(),
        });
    }

    pub fn stopped(&mut self, task: &crate::ecs::api::Task) {
        let t = self.now();
        let line = crate::ecs::wait::stopped_task_line(task);
        let containers = line
            .rsplit_once(" (")
            .map(|(_, c)| {
                c.trim_end_matches(')')
                    .split("; ")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        self.stopped.push(Stopped {
            t,
            task: task.id().to_string(),
            stop_code: task.stop_code.clone(),
            reason: task.stopped_reason.clone().unwrap_or_default(),
            containers,
        });
    }

    pub fn log_tail(&mut self, container: &str, stream: &str, lines: &[String]) {
        let t = self.now();
        self.log_tails.push(LogTail {
            t,
            container: container.into(),
            stream: stream.into(),
            lines: lines.to_vec(),
        });
    }
}

/// `family:revision` of a task-definition ARN.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// One service in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    /// deployed, failed, rolled back, timed out or unchanged.
    pub result: String,
    pub message: String,
    pub task_definition: Option<String>,
    pub deployment_id: Option<String>,
    pub seconds: f64,
    #[serde(flatten)]
    pub record: Record,
}

/// The whole report of one `stevedore deploy`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cluster: String,
    pub region: String,
    /// RFC 3339, when the deploy began.
    pub started_at: String,
    pub services: Vec<ServiceReport>,
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML page: one section per service.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>stevedore deploy: {}</title><style>body{{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;max-width:960px;margin:24px auto;padding:0 16px}}h1{{font-size:20px}}h2{{font-size:17px;margin-top:28px}}.ok{{color:#1a7f37}}.bad{{color:#cf222e}}pre{{background:#f6f8fa;padding:8px 10px;overflow:auto;font-size:12px;border-radius:6px}}table{{border-collapse:collapse;font-size:12px}}td{{padding:2px 8px;vertical-align:top;border-top:1px solid #eaeef2}}td.t{{text-align:right;color:#57606a;white-space:nowrap}}</style></head><body>"#,
        esc(&r.cluster)
    );
    let _ = write!(
        out,
        "<h1>stevedore deploy to {} ({}), {}</h1>",
        esc(&r.cluster),
        esc(&r.region),
        esc(&r.started_at)
    );
    for s in &r.services {
        let class = if s.result == "deployed" || s.result == "unchanged" {
            "ok"
        } else {
            "bad"
        };
        let _ = write!(
            out,
            r#"<h2>{}: <span class="{class}">{}</span> in {}</h2><p>{}</p>"#,
            esc(&s.service),
            esc(&s.result),
            crate::units::seconds(s.seconds),
            esc(&s.message)
        );
        out.push_str(&super::timeline::timeline_svg(s));
        if !s.record.diff.is_empty() {
            let _ = write!(
                out,
                "<h3>Task definition changes</h3><pre>{}</pre>",
                esc(&s.record.diff.join("\n"))
            );
        }
        for tail in &s.record.log_tails {
            let _ = write!(
                out,
                "<h3>Last lines of {} ({})</h3><pre>{}</pre>",
                esc(&tail.container),
                esc(&tail.stream),
                esc(&tail.lines.join("\n"))
            );
        }
        if !s.record.stopped.is_empty() || !s.record.events.is_empty() {
            out.push_str("<h3>Events and stopped tasks</h3><table>");
            let mut rows: Vec<(f64, String)> = s
                .record
                .events
                .iter()
                .map(|e| (e.t, esc(&e.message)))
                .collect();
            rows.extend(s.record.stopped.iter().map(|st| {
                (
                    st.t,
                    format!(
                        r#"<span class="bad">task {} stopped</span>: {} ({})"#,
                        esc(&st.task),
                        esc(&st.reason),
                        esc(&st.containers.join("; "))
                    ),
                )
            }));
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (t, text) in rows {
                let _ = write!(
                    out,
                    r#"<tr><td class="t">{t:.1} s</td><td>{text}</td></tr>"#
                );
            }
            out.push_str("</table>");
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// A paragraph per service, for the job's step summary.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    for s in &r.services {
        let stops = s.record.stopped.len();
        // Every string here may come from ECS or a task: escaped for Markdown and HTML, so it
        // cannot add a link, an image or markup to the job's summary.
        let md = crate::relay::markdown;
        let _ = write!(
            out,
            "**{}**: {} in {}",
            md(&s.service),
            md(&s.result),
            crate::units::seconds(s.seconds)
        );
        if let Some(td) = &s.task_definition {
            let _ = write!(out, " ({})", md(short(td)));
        }
        if !s.message.is_empty() {
            let _ = write!(out, ": {}", md(&s.message));
        }
        if stops > 0 {
            let first = &s.record.stopped[0];
            let _ = write!(
                out,
                ". {stops} task{} stopped, first: {} ({})",
                if stops == 1 { "" } else { "s" },
                md(&first.reason),
                md(&first.containers.join("; "))
            );
        }
        out.push_str(".\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(result: &str, tasks: usize) -> ServiceReport {
        let mut record = Record::default();
        for i in 0..tasks {
            let t = i as f64;
            record.samples.push(Sample {
                t,
                deployment: "ecs-svc/2".into(),
                task_definition: "web:2".into(),
                desired: tasks as i64,
                running: i as i64,
                pending: 1,
                failed: 0,
            });
            record.samples.push(Sample {
                t,
                deployment: "ecs-svc/1".into(),
                task_definition: "web:1".into(),
                desired: tasks as i64,
                running: (tasks - i) as i64,
                pending: 0,
                failed: 0,
            });
            record.events.push(Event {
                t,
                message: format!("(service web) has started 1 tasks: (task {i}) <&>"),
            });
            record.stopped.push(Stopped {
                t,
                task: format!("t{i}"),
                stop_code: Some("EssentialContainerExited".into()),
                reason: "Essential container in task exited".into(),
                containers: vec!["app exited 3".into()],
            });
        }
        record.diff = vec!["~ containerDefinitions[app].image: \"a\" -> \"b\"".into()];
        record.log_tails.push(LogTail {
            t: 1.0,
            container: "app".into(),
            stream: "web/app/t0".into(),
            lines: vec!["ValueError: <boom>".into()],
        });
        ServiceReport {
            service: "web".into(),
            result: result.into(),
            message: "ECS deployment circuit breaker: tasks failed to start.".into(),
            task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/web:2".into()),
            deployment_id: Some("ecs-svc/2".into()),
            seconds: tasks as f64 + 1.0,
            record,
        }
    }

    #[test]
    fn the_page_escapes_what_it_shows_and_stays_small_for_fifty_tasks() {
        let r = Report {
            schema_version: 1,
            cluster: "c1".into(),
            region: "us-east-1".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
            services: vec![service("rolled back", 50)],
        };
        let page = html(&r);
        assert!(page.contains("ValueError: &lt;boom&gt;"));
        assert!(!page.contains("<boom>") && !page.contains("<script"));
        assert!(page.contains("ROLLED BACK"));
        assert!(page.len() < 300_000, "{} bytes", page.len());
        assert_eq!(page.matches("<svg").count(), 1);
        let md = markdown(&r);
        assert!(
            md.starts_with("**web**: rolled back in 51 s (web:2): ECS deployment circuit breaker"),
            "{md}"
        );
        assert!(
            md.contains(
                "50 tasks stopped, first: Essential container in task exited (app exited 3)"
            ),
            "{md}"
        );
    }

    #[test]
    fn a_non_ascii_deployment_id_and_a_hostile_reason_are_shown_as_data() {
        let mut s = service("failed", 2);
        for smp in &mut s.record.samples {
            smp.deployment = "ecs-svc/é€😀x".into();
        }
        s.message = "[click](https://evil) <img src=x>\u{1b}[2K".into();
        let r = Report {
            schema_version: 1,
            cluster: "c1".into(),
            region: "us-east-1".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
            services: vec![s],
        };
        assert!(
            html(&r).contains("(…é€😀x)"),
            "the label keeps the last four characters"
        );
        let md = markdown(&r);
        assert!(
            md.contains("\\[click\\]\\(https://evil\\) &lt;img src=x&gt;\\\\x1b"),
            "{md}"
        );
    }

    #[test]
    fn samples_are_kept_only_when_counts_change() {
        let mut r = Record::default();
        let d = crate::ecs::api::Deployment {
            id: "d1".into(),
            task_definition: "arn:x/web:2".into(),
            desired_count: 2,
            running_count: 1,
            ..Default::default()
        };
        r.sample(std::slice::from_ref(&d));
        r.sample(std::slice::from_ref(&d));
        let mut d2 = d.clone();
        d2.running_count = 2;
        r.sample(&[d2]);
        assert_eq!(r.samples.len(), 2);
        assert_eq!(r.samples[0].task_definition, "web:2");
    }
}

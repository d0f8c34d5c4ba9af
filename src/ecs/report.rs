//! The rollout report (`deploy --report DIR`): what was recorded while a deploy was followed
//! ([`Record`]: task counts per deployment at each poll, service events, stopped tasks, log
//! tails, the task-definition diff) and its three renderings: `report.json` (the shape
//! `docs/report.schema.json` describes), `report.html` (one self-contained page, an SVG timeline
//! above the diff and the log tails; no script, no network) and `summary.md`. Rendering is pure.

pub use super::record::*;
use super::timeline::esc;
use std::fmt::Write as _;

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

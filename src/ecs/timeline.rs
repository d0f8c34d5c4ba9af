//! The report's SVG timeline: task counts per deployment over time, the lifecycle stages of a
//! blue/green, linear or canary deployment as bands, events and stops as marks, the verdict.

use super::record::{Sample, ServiceReport};
use std::fmt::Write as _;

/// Colours per deployment, in order of appearance (the new revision first).
const COLOURS: &[&str] = &["#1f6feb", "#8957e5", "#bf8700", "#1a7f37", "#cf222e"];

/// Where a time and a count go on the timeline.
struct Scale {
    w: f64,
    h: f64,
    left: f64,
    top: f64,
    bottom: f64,
    end: f64,
    max: f64,
}

impl Scale {
    fn x(&self, t: f64) -> f64 {
        self.left + (t / self.end) * (self.w - self.left - 12.0)
    }
    fn y(&self, n: f64) -> f64 {
        self.top + (1.0 - n / self.max) * (self.h - self.top - self.bottom)
    }
}

/// The SVG timeline of one service: running (solid) and pending (dashed) tasks per deployment
/// over time, stops and events as ticks with their text as tooltips, and the verdict.
pub fn timeline_svg(s: &ServiceReport) -> String {
    let samples = &s.record.samples;
    let last = samples.last().map_or(0.0, |x| x.t);
    let max = samples
        .iter()
        .map(|x| x.desired.max(x.running + x.pending))
        .max()
        .unwrap_or(1)
        .max(1);
    let sc = Scale {
        w: 880.0,
        h: 260.0,
        left: 44.0,
        top: 16.0,
        bottom: 56.0,
        end: (s.seconds.max(last) * 1.05).max(0.5),
        max: max as f64,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="task counts over time for {}">"##,
        sc.w,
        sc.h,
        esc(&s.service)
    );
    bands(&mut svg, &sc, s);
    axes(&mut svg, &sc);
    series(&mut svg, &sc, samples);
    marks(&mut svg, &sc, s);
    svg.push_str("</svg>");
    svg
}

/// The lifecycle stages of a blue/green, linear or canary deployment as shaded bands behind
/// the counts, each from when it began to when the next did, named where the name fits (and
/// always in its tooltip).
fn bands(svg: &mut String, sc: &Scale, s: &ServiceReport) {
    let stages = &s.record.stages;
    let end = sc
        .end
        .min(s.seconds.max(stages.last().map_or(0.0, |x| x.t)));
    for (i, st) in stages.iter().enumerate() {
        let until = stages.get(i + 1).map_or(end, |n| n.t);
        let (x0, x1) = (sc.x(st.t), sc.x(until.max(st.t)));
        let fill = if i % 2 == 0 { "#ddf4ff" } else { "#f6f8fa" };
        let name = esc(&st.message);
        let _ = write!(
            svg,
            r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{name}: {} s to {} s</title></rect>"##,
            sc.top,
            (x1 - x0).max(1.0),
            sc.h - sc.bottom - sc.top,
            st.t,
            until
        );
        // About 6 px a character at 9 px: the name is written only where it fits.
        if (x1 - x0) > 6.0 * st.message.len() as f64 * 0.62 + 4.0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#0969da">{name}</text>"##,
                x0 + 2.0,
                sc.top + 9.0
            );
        }
    }
}

/// Counts on the left (at most about six lines), seconds below.
fn axes(svg: &mut String, sc: &Scale) {
    let step = ((sc.max as i64) / 5).max(1);
    for i in (0..=sc.max as i64).filter(|i| i % step == 0) {
        let yy = sc.y(i as f64);
        let _ = write!(
            svg,
            r##"<line x1="{}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d0d7de" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#57606a">{i}</text>"##,
            sc.left,
            sc.w - 12.0,
            sc.left - 4.0,
            yy + 3.0
        );
    }
    for k in 0..=5 {
        let t = sc.end * k as f64 / 5.0;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#57606a">{}</text>"##,
            sc.x(t),
            sc.h - sc.bottom + 14.0,
            crate::units::seconds(t)
        );
    }
}

/// Each deployment's running and pending counts as steps (a count holds until a poll saw it
/// change), in its own colour, with a legend.
fn series(svg: &mut String, sc: &Scale, samples: &[Sample]) {
    let mut order: Vec<&str> = vec![];
    for smp in samples {
        if !order.contains(&smp.deployment.as_str()) {
            order.push(&smp.deployment);
        }
    }
    for (i, dep) in order.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<&Sample> = samples.iter().filter(|p| p.deployment == *dep).collect();
        // The revision and the deployment's last digits: a rollback deploys an old revision again.
        let label = pts.first().map_or(String::new(), |p| {
            // The last four characters (not bytes: an id is text from ECS, whatever it holds).
            let tail: Vec<char> = p.deployment.chars().rev().take(4).collect();
            let id: String = tail.into_iter().rev().collect();
            let id = id.as_str();
            format!("{} (…{id})", p.task_definition)
        });
        for (dash, pending) in [("", false), ("4 3", true)] {
            let mut path = String::new();
            let mut prev: Option<f64> = None;
            for p in &pts {
                let yy = sc.y(if pending { p.pending } else { p.running } as f64);
                match prev {
                    None => {
                        let _ = write!(path, "M{:.1},{yy:.1}", sc.x(p.t));
                    }
                    Some(py) => {
                        let _ = write!(path, " L{0:.1},{py:.1} L{0:.1},{yy:.1}", sc.x(p.t));
                    }
                }
                prev = Some(yy);
            }
            if let Some(py) = prev {
                let _ = write!(path, " L{:.1},{py:.1}", sc.x(sc.end));
            }
            let what = if pending { "pending" } else { "running" };
            let _ = write!(
                svg,
                r##"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"><title>{} {what}</title></path>"##,
                esc(&label)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="{colour}">{}: running, pending (dashed)</text>"##,
            sc.left + 6.0 + 280.0 * i as f64,
            sc.h - 8.0,
            esc(&label)
        );
    }
}

/// Events and stops as ticks on a band below the axis (their text as tooltips), the verdict
/// as a line at the end.
fn marks(svg: &mut String, sc: &Scale, s: &ServiceReport) {
    let band = sc.h - sc.bottom + 22.0;
    for e in &s.record.events {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#57606a" stroke-width="1.5"><title>{3} s: {4}</title></line>"##,
            sc.x(e.t),
            band,
            band + 8.0,
            e.t,
            esc(&e.message)
        );
    }
    for st in &s.record.stopped {
        let _ = write!(
            svg,
            r##"<path d="M{:.1},{:.1} l5,9 h-10 z" fill="#cf222e"><title>{} s: task {} stopped: {} ({})</title></path>"##,
            sc.x(st.t),
            band,
            st.t,
            esc(&st.task),
            esc(&st.reason),
            esc(&st.containers.join("; "))
        );
    }
    let ok = s.result == "deployed" || s.result == "unchanged";
    let colour = if ok { "#1a7f37" } else { "#cf222e" };
    let vx = sc.x(s.seconds);
    let _ = write!(
        svg,
        r##"<line x1="{vx:.1}" y1="{}" x2="{vx:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{}" font-size="12" font-weight="bold" text-anchor="end" fill="{colour}">{}</text>"##,
        sc.top,
        sc.h - sc.bottom,
        vx - 4.0,
        sc.top + 10.0,
        esc(&s.result.to_uppercase())
    );
}

/// Text escaped for HTML and SVG.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

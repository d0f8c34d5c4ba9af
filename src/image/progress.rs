//! Progress of a long upload. In CI logs (output not a terminal): a line at most every
//! [`EVERY`] while a blob is being sent, so a large layer never leaves the log silent (CircleCI
//! ends a step after 10 minutes without output) and a reader can tell a slow push from a hung
//! one. On a terminal: the same line redrawn in place every [`LIVE_EVERY`], cleared before the
//! next line is printed.

use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a blob upload goes without a progress line.
pub const EVERY: Duration = Duration::from_secs(10);
/// How often the live line is redrawn on a terminal.
pub const LIVE_EVERY: Duration = Duration::from_millis(500);

/// Whether a redrawn line is on the terminal now.
static BAR: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

/// Whether progress is drawn live: standard output is a terminal that can redraw a line.
pub fn live() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && crate::config::env_var("TERM").as_deref() != Some("dumb")
}

/// Print a line, first clearing a live line that is on the terminal.
pub fn say(line: &str) {
    let mut shown = BAR.lock().unwrap_or_else(|p| p.into_inner());
    if *shown {
        print!("\r\x1b[K");
        *shown = false;
    }
    println!("{line}");
}

/// Redraw the live line (no newline: the next [`say`] clears it).
pub fn redraw(line: &str) {
    use std::io::Write;
    let mut shown = BAR.lock().unwrap_or_else(|p| p.into_inner());
    print!("\r{line}\x1b[K");
    let _ = std::io::stdout().flush();
    *shown = true;
}

/// `blob 1a2b3c4d5e6f: 310 MB of 1.00 GB (31%), 52.1 MB/s, about 13 s left`.
pub fn line(id: &str, sent: u64, size: u64, elapsed: Duration) -> String {
    let sent = sent.min(size);
    let secs = elapsed.as_secs_f64().max(0.001);
    let pct = (sent * 100).checked_div(size).unwrap_or(100);
    let left = if sent == 0 {
        String::new()
    } else {
        let rest = (size - sent) as f64 / (sent as f64 / secs);
        format!(", about {} s left", rest.ceil() as u64)
    };
    format!(
        "blob {id}: {} of {} ({pct}%), {}{left}",
        crate::units::bytes(sent),
        crate::units::bytes(size),
        crate::units::rate(sent, secs)
    )
}

/// A file as a request body that counts the bytes it has handed on in `counter`.
pub fn counted(
    file: tokio::fs::File,
    counter: Arc<AtomicU64>,
) -> impl Stream<Item = std::io::Result<bytes::Bytes>> {
    tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).inspect(move |chunk| {
        if let Ok(c) = chunk {
            counter.fetch_add(c.len() as u64, Ordering::Relaxed);
        }
    })
}

/// Await `work`, calling `tick` every `every` until it is done.
pub async fn with_ticks<F: Future>(work: F, every: Duration, mut tick: impl FnMut()) -> F::Output {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticks.tick() => tick(),
        }
    }
}

/// What a progress line needs about one upload: when it started and what has gone out.
pub struct Meter {
    pub started: Instant,
    pub sent: Arc<AtomicU64>,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            started: Instant::now(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn line(&self, id: &str, size: u64) -> String {
        line(
            id,
            self.sent.load(Ordering::Relaxed),
            size,
            self.started.elapsed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_what_is_sent_the_rate_and_an_estimate() {
        assert_eq!(
            line("abc", 310_000_000, 1_000_000_000, Duration::from_secs(6)),
            "blob abc: 310 MB of 1.00 GB (31%), 51.7 MB/s, about 14 s left"
        );
        assert_eq!(
            line("abc", 0, 5_000, Duration::from_secs(10)),
            "blob abc: 0 B of 5.00 kB (0%), 0 B/s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_come_every_period_until_the_work_is_done() {
        let mut n = 0;
        with_ticks(
            tokio::time::sleep(Duration::from_secs(35)),
            Duration::from_secs(10),
            || n += 1,
        )
        .await;
        assert_eq!(n, 3, "at 10, 20 and 30 s");
    }
}

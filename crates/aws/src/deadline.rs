//! The moment a piece of work must be done by (`--timeout`), carried with the work itself: a
//! value scoped to one future, read by every AWS call made inside it. It is never stored on a
//! client, so services deployed together through one client keep independent deadlines, and a
//! rollback that starts a fresh `--timeout` for its own service moves no one else's.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the work being run, if it has one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Run `work` with every AWS call inside it bounded by `deadline` (an inner [`scope`] replaces
/// it for its own work: a rollback's fresh `--timeout`). Spawned tasks do not inherit it: wrap
/// what they run.
pub async fn scope<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// [`scope`], and `work` ended at `deadline` whatever it waits for (a lock another service's
/// hung call holds, a sleep): then `on_timeout` is its result.
pub async fn bounded<F: Future>(
    deadline: Instant,
    work: F,
    on_timeout: impl FnOnce() -> F::Output,
) -> F::Output {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, scope(deadline, work)).await {
        Ok(out) => out,
        Err(_) => on_timeout(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn each_future_sees_its_own_deadline_and_an_inner_scope_replaces_it() {
        let a = Instant::now() + Duration::from_secs(10);
        let b = Instant::now() + Duration::from_secs(20);
        assert_eq!(current(), None);
        let (x, y) = tokio::join!(
            scope(a, async {
                tokio::task::yield_now().await;
                current()
            }),
            scope(b, async {
                let outer = current();
                let inner = scope(a, async { current() }).await;
                (outer, inner, current())
            })
        );
        assert_eq!(x, Some(a));
        assert_eq!(y, (Some(b), Some(a), Some(b)));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_work_ends_at_its_deadline_even_while_waiting_on_a_lock() {
        let lock = tokio::sync::Mutex::new(());
        let held = lock.lock().await;
        let start = tokio::time::Instant::now();
        let r = bounded(
            Instant::now() + Duration::from_secs(3),
            async {
                let _g = lock.lock().await;
                "got it"
            },
            || "timed out",
        )
        .await;
        assert_eq!(r, "timed out");
        assert_eq!(start.elapsed().as_secs(), 3);
        drop(held);
    }
}

//! The periodic crawls behind [`InventorySync::spawn`].

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::inventory::InventorySync;

/// Longest pause before re-trying a supplier whose crawl failed, however long its interval.
const MAX_FAILURE_PAUSE: Duration = Duration::from_secs(60);

/// The running crawl loops. [`shutdown`](SyncTask::shutdown) stops them after any crawl in
/// progress; dropping the task aborts them at once.
#[derive(Debug)]
pub struct SyncTask {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SyncTask {
    /// Stops every loop and waits for them to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            // A loop that panicked has nothing left to clean up.
            let _ = task.await;
        }
    }
}

impl Drop for SyncTask {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl InventorySync {
    /// Starts one crawl loop per supplier on the current tokio runtime.
    ///
    /// Each loop crawls at its supplier's interval, spread by the jitter; the first crawl runs
    /// at once unless an imported snapshot shows a success within the interval. A failed
    /// crawl is re-tried sooner (doubling from 1 s, at most a minute or the interval), and a
    /// supplier past its maximum age is announced stale on the change feed.
    pub fn spawn(&self) -> SyncTask {
        let (stop, stopped) = watch::channel(false);
        let tasks = (0..self.shared.suppliers.len())
            .map(|index| {
                let sync = self.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let mut pause = sync.first_pause(index);
                    let mut failures: u32 = 0;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stopped.changed() => return,
                        }
                        let member = &sync.shared.suppliers[index];
                        let interval = member.crawl_interval;
                        let id = member.id.clone();
                        let crawl = sync.crawl(&id);
                        let result = tokio::select! {
                            r = crawl => r,
                            _ = stopped.changed() => return,
                        };
                        pause = match result {
                            Ok(_) => {
                                failures = 0;
                                jittered(interval, sync.shared.jitter)
                            }
                            Err(err) => {
                                failures = failures.saturating_add(1);
                                tracing::warn!(supplier = %id, kind = %err.kind(), "stock crawl failed");
                                failure_pause(failures, interval)
                            }
                        };
                    }
                })
            })
            .collect();
        SyncTask { stop, tasks }
    }

    fn first_pause(&self, index: usize) -> Duration {
        let member = &self.shared.suppliers[index];
        let Some(last) = self.last_success(member) else {
            return Duration::ZERO;
        };
        let since = (self.now() - last).to_std().unwrap_or(Duration::ZERO);
        member.crawl_interval.saturating_sub(since)
    }
}

/// `interval` spread by ±`fraction`, uniformly.
fn jittered(interval: Duration, fraction: f64) -> Duration {
    if fraction <= 0.0 {
        return interval;
    }
    let mut bytes = [0u8; 8];
    // Without OS randomness the spread is lost, not the crawl.
    if getrandom::fill(&mut bytes).is_err() {
        return interval;
    }
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + fraction * (2.0 * unit - 1.0);
    interval.mul_f64(factor.max(0.0))
}

fn failure_pause(failures: u32, interval: Duration) -> Duration {
    let doubling =
        Duration::from_secs(1).saturating_mul(1u32 << failures.min(10).saturating_sub(1));
    doubling.min(MAX_FAILURE_PAUSE).min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range() {
        let base = Duration::from_secs(100);
        for _ in 0..1000 {
            let d = jittered(base, 0.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
        assert_eq!(jittered(base, 0.0), base);
    }

    #[test]
    fn failure_pauses_double_and_cap() {
        let hour = Duration::from_secs(3600);
        assert_eq!(failure_pause(1, hour), Duration::from_secs(1));
        assert_eq!(failure_pause(2, hour), Duration::from_secs(2));
        assert_eq!(failure_pause(7, hour), Duration::from_secs(60));
        assert_eq!(failure_pause(1000, hour), Duration::from_secs(60));
        assert_eq!(
            failure_pause(7, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}

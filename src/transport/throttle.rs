//! The priority throttle: a rate budget ([`RateStore`]), a concurrency cap, and a queue that
//! releases waiting requests by class, so an order never waits behind a catalog crawl.
//!
//! Only the head of the queue (highest class, then first come) may take a concurrency slot
//! and a rate cell; the others sleep until they become the head. A newly arrived request
//! of a higher class becomes the head at once, so a `Critical` request waits at most for the
//! cell it needs from the full budget, which `Bulk` cannot exhaust because of the reserve.
//!
//! The throttle also learns from the supplier ([`Throttle::observe`]): a `Retry-After` or an
//! exhausted `X-RateLimit-Remaining` pauses everything until the supplier's reset, and a
//! nearly used window or call-limit bucket slows the rate before the next 429.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::limits::RateLimitInfo;
use super::rate::{Acquire, Budget, RateQuota, RateStore};
use super::request::RequestClass;
use crate::error::{Error, ErrorKind, Result};

/// Call-limit fill from which the rate is slowed: `32/40` is the threshold.
pub const SLOW_DOWN_FILL: f64 = 0.8;
/// The slowest the throttle adapts to, as a share of the configured rate; a supplier that
/// wants less says so with `Retry-After` or an exhausted window, which pause instead.
pub const MIN_RATE_FACTOR: f64 = 0.05;
/// Relative change below which the adapted rate is left alone, so limiters are not rebuilt
/// on every response.
const FACTOR_HYSTERESIS: f64 = 0.1;

/// Permission to send one attempt. Holds a concurrency slot until dropped.
#[derive(Debug)]
pub struct ThrottlePermit {
    _slot: OwnedSemaphorePermit,
    waited: Duration,
}

impl ThrottlePermit {
    /// How long the request waited in the throttle.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

type Key = (u8, u64);

#[derive(Debug, Default)]
struct Queue {
    next: u64,
    waiting: BTreeMap<Key, Arc<Notify>>,
}

impl Queue {
    fn head(&self) -> Option<Key> {
        self.waiting.keys().next().copied()
    }

    fn wake_head(&self) {
        if let Some((_, n)) = self.waiting.first_key_value() {
            n.notify_one();
        }
    }
}

/// The per-supplier throttle.
#[derive(Debug)]
pub struct Throttle {
    store: Arc<dyn RateStore>,
    slots: Arc<Semaphore>,
    queue: Mutex<Queue>,
    configured: RateQuota,
    factor: Mutex<f64>,
}

fn rank(class: RequestClass) -> u8 {
    match class {
        RequestClass::Critical => 0,
        RequestClass::Normal => 1,
        RequestClass::Bulk => 2,
    }
}

fn budget(class: RequestClass) -> Budget {
    match class {
        RequestClass::Critical => Budget::Full,
        RequestClass::Normal | RequestClass::Bulk => Budget::Unreserved,
    }
}

impl Throttle {
    /// A throttle drawing on `store`, allowing `max_concurrency` requests in flight;
    /// `configured` is the quota the store was built with, the ceiling adaptation returns to.
    pub fn new(store: Arc<dyn RateStore>, configured: RateQuota, max_concurrency: u32) -> Self {
        let slots = usize::try_from(max_concurrency.max(1))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Throttle {
            store,
            slots: Arc::new(Semaphore::new(slots)),
            queue: Mutex::new(Queue::default()),
            configured,
            factor: Mutex::new(1.0),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a concurrency slot and a rate cell, in class order.
    pub async fn acquire(&self, class: RequestClass) -> Result<ThrottlePermit> {
        let start = Instant::now();
        // Fast path: nobody is waiting, so taking a slot and a cell now overtakes no one.
        let idle = self.queue().waiting.is_empty();
        if idle
            && let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned()
            && self.store.try_acquire(budget(class)).await? == Acquire::Granted
        {
            return Ok(ThrottlePermit {
                _slot: slot,
                waited: Duration::ZERO,
            });
        }
        let notify = Arc::new(Notify::new());
        let key = {
            let mut q = self.queue();
            let key = (rank(class), q.next);
            q.next += 1;
            let old_head = q.head();
            q.waiting.insert(key, Arc::clone(&notify));
            // A pre-empted head may be parked on the semaphore: wake it so it steps aside.
            if let Some(h) = old_head
                && key < h
                && let Some(n) = q.waiting.get(&h)
            {
                n.notify_one();
            }
            key
        };
        let _leave = Leave {
            throttle: self,
            key,
        };
        loop {
            if self.queue().head() != Some(key) {
                notify.notified().await;
                continue;
            }
            let slot = match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => tokio::select! {
                    slot = Arc::clone(&self.slots).acquire_owned() => slot.map_err(|_| {
                        Error::new(ErrorKind::Unavailable, "the transport's throttle was closed")
                    })?,
                    () = notify.notified() => continue,
                },
            };
            if self.queue().head() != Some(key) {
                continue;
            }
            match self.store.try_acquire(budget(class)).await? {
                Acquire::Granted => {
                    return Ok(ThrottlePermit {
                        _slot: slot,
                        waited: start.elapsed(),
                    });
                }
                Acquire::Wait(wait) => {
                    // Give the slot back while waiting: a request that overtakes us may need it.
                    drop(slot);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = notify.notified() => {}
                    }
                }
            }
        }
    }

    /// Learns from a response's rate-limit headers: pauses on `Retry-After` or an exhausted
    /// window, slows down when the window or call-limit bucket is nearly used, and returns to
    /// the configured rate when the supplier reports room again.
    pub async fn observe(&self, info: &RateLimitInfo) -> Result<()> {
        if let Some(pause) = info.pause().filter(|p| !p.is_zero()) {
            self.store.pause(pause).await?;
        }
        let Some(target) = self.target_factor(info) else {
            return Ok(());
        };
        let changed = {
            let mut factor = self.factor.lock().unwrap_or_else(PoisonError::into_inner);
            let relative = (target - *factor).abs() / factor.max(MIN_RATE_FACTOR);
            let back_to_full = target >= 1.0 && *factor < 1.0;
            if relative >= FACTOR_HYSTERESIS || back_to_full {
                *factor = target;
                true
            } else {
                false
            }
        };
        if changed {
            tracing::debug!(factor = target, "supplier limits: adapting request rate");
            self.store.set_quota(self.configured.scaled(target)).await?;
        }
        Ok(())
    }

    /// The share of the configured rate the supplier's headers allow, or `None` when they say
    /// nothing about it.
    fn target_factor(&self, info: &RateLimitInfo) -> Option<f64> {
        let mut factor: Option<f64> = None;
        if let (Some(remaining), Some(reset)) = (info.remaining, info.reset)
            && remaining > 0
            && !reset.is_zero()
        {
            let allowed = remaining as f64 / reset.as_secs_f64();
            factor = Some((allowed / self.configured.per_second).min(1.0));
        }
        if let Some(call_limit) = info.call_limit {
            let fill = call_limit.fill();
            let f = if fill >= SLOW_DOWN_FILL {
                (1.0 - fill) / (1.0 - SLOW_DOWN_FILL)
            } else {
                1.0
            };
            factor = Some(factor.map_or(f, |g| g.min(f)));
        }
        factor.map(|f| f.clamp(MIN_RATE_FACTOR, 1.0))
    }

    /// Holds every request back for `duration`, as a supplier's `Retry-After` asks.
    pub async fn pause(&self, duration: Duration) -> Result<()> {
        self.store.pause(duration).await
    }

    /// The current share of the configured rate in use (1 unless the supplier slowed us).
    pub fn rate_factor(&self) -> f64 {
        *self.factor.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leaves the queue however `acquire` ends (granted, failed or cancelled) and hands the
/// head position on.
struct Leave<'a> {
    throttle: &'a Throttle,
    key: Key,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut q = self.throttle.queue();
        q.waiting.remove(&self.key);
        q.wake_head();
    }
}

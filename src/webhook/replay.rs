//! A bounded memory of recent deliveries, so a captured webhook cannot be replayed inside the
//! window in which its signature stays valid.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Remembers delivery keys (a delivery id, or the signature itself) for `window`, holding at
/// most `capacity` of them; the oldest are forgotten first when it is full.
#[derive(Debug)]
pub struct ReplayCache {
    window: Duration,
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<(Instant, String)>,
    keys: HashMap<String, Instant>,
}

impl ReplayCache {
    /// A cache remembering keys for `window`, at most `capacity` at once.
    pub fn new(window: Duration, capacity: usize) -> Self {
        ReplayCache {
            window,
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Records `key` seen at `now`; `false` when it was already seen inside the window.
    pub fn first_sighting(&self, key: &str, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked mid-insert; the data is still a
        // valid set of keys, so keep using it rather than accepting replays.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((at, _)) = seen.order.front() {
            if now.duration_since(*at) <= self.window && seen.order.len() < self.capacity {
                break;
            }
            if let Some((at, old)) = seen.order.pop_front()
                && seen.keys.get(&old) == Some(&at)
            {
                seen.keys.remove(&old);
            }
        }
        if let Some(at) = seen.keys.get(key)
            && now.duration_since(*at) <= self.window
        {
            return false;
        }
        seen.keys.insert(key.to_string(), now);
        seen.order.push_back((now, key.to_string()));
        true
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().map(|s| s.keys.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_inside_the_window_and_forgotten_after() {
        let c = ReplayCache::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        assert!(c.first_sighting("a", t0));
        assert!(!c.first_sighting("a", t0 + Duration::from_secs(5)));
        assert!(c.first_sighting("a", t0 + Duration::from_secs(11)));
    }

    #[test]
    fn capacity_bounds_memory() {
        let c = ReplayCache::new(Duration::from_secs(3600), 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c", "d"] {
            assert!(c.first_sighting(k, t0));
        }
        assert_eq!(c.len(), 3);
        // "a" was pushed out by capacity, so it is new again.
        assert!(c.first_sighting("a", t0));
        assert!(!c.first_sighting("d", t0));
    }
}

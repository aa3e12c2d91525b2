//! Failed log-ins counted per key (a name, an address, a name from an address), kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failed logins per key (a name, an address, a name from an address) and refuses
/// further attempts for a while once a key has too many.
pub struct LoginLimiter {
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// Counts failures per key within `window`; each check says how many a key may have.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait before trying again, if any key has reached its limit
    /// (`(key, max_failures)` pairs).
    pub fn retry_after(&self, keys: &[(String, u32)]) -> Option<u64> {
        let now = Instant::now();
        let map = self.failures.lock().ok()?;
        keys.iter()
            .filter_map(|(k, max)| map.get(k).map(|f| (f, *max)))
            .filter(|((n, since), max)| *n >= *max && now.duration_since(*since) < self.window)
            .map(|((_, since), _)| (self.window - now.duration_since(*since)).as_secs().max(1))
            .max()
    }

    /// Records a failed attempt for each key.
    pub fn failed(&self, keys: &[(String, u32)]) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                let window = self.window;
                map.retain(|_, (_, since)| now.duration_since(*since) < window);
            }
            for (k, _) in keys {
                let e = map.entry(k.clone()).or_insert((0, now));
                if now.duration_since(e.1) >= self.window {
                    *e = (0, now);
                }
                e.0 += 1;
            }
        }
    }

    /// Forgets the failures of one key after a successful login.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_repeated_failures_and_forgets_on_success() {
        let l = LoginLimiter::new(Duration::from_secs(60));
        let keys = vec![("user:a@1".to_string(), 3), ("ip:1".to_string(), 10)];
        for _ in 0..3 {
            assert!(l.retry_after(&keys).is_none());
            l.failed(&keys);
        }
        assert!(l.retry_after(&keys).is_some_and(|s| s > 50 && s <= 60));
        // The address alone is still under its own, higher limit.
        assert!(l.retry_after(&[("ip:1".to_string(), 10)]).is_none());
        l.succeeded("user:a@1");
        assert!(l.retry_after(&keys).is_none());
    }
}

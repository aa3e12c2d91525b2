//! Log-in attempts counted per key (a name, an address, a name from an address), kept in
//! memory. An attempt is counted when it starts, before its password is checked, so a burst of
//! parallel guesses cannot all pass the check before any of them is recorded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What happens to a key with many attempts in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Refuse further attempts once the key has this many.
    Refuse(u32),
    /// Never refuse, but make every attempt beyond this many wait longer (doubling up to the
    /// limiter's longest delay): the right password still gets in, slowly.
    SlowDown(u32),
}

/// How long attempts wait once a [`Limit::SlowDown`] key is past its free attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delays {
    /// The first delay; each further attempt doubles it.
    pub first: Duration,
    /// The longest delay.
    pub longest: Duration,
}

/// Counts log-in attempts per key within a window.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    delays: Delays,
    counts: Mutex<Counts>,
}

/// The counts, and when stale ones were last cleared out.
#[derive(Debug)]
struct Counts {
    map: HashMap<String, (u32, Instant)>,
    swept: Instant,
}

/// Above this many keys, stale ones are cleared out, at most once a second (a sweep walks the
/// whole map under the lock; a flood of fresh names must not make every log-in walk it).
const SWEEP_ABOVE: usize = 100_000;

/// One counted attempt. Call [`Attempt::succeeded`] when the password was right; otherwise (a
/// wrong password, or a request that was abandoned) it stays counted as a failure.
#[derive(Debug)]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Vec<String>,
    /// How long to wait before checking the password.
    pub delay: Duration,
}

impl LoginLimiter {
    /// Counts attempts per key within `window`.
    pub fn new(window: Duration, delays: Delays) -> Self {
        Self {
            window,
            delays,
            counts: Mutex::new(Counts {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Counts an attempt for every key, or refuses it with the seconds to wait when a
    /// [`Limit::Refuse`] key already has its maximum. Checking and counting happen under one
    /// lock.
    pub fn begin(&self, keys: &[(String, Limit)]) -> Result<Attempt<'_>, u64> {
        let now = Instant::now();
        let window = self.window;
        let live = |since: Instant| now.duration_since(since) < window;
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.map.len() > SWEEP_ABOVE
            && now.duration_since(counts.swept) >= Duration::from_secs(1)
        {
            counts.map.retain(|_, (_, since)| live(*since));
            counts.swept = now;
        }
        let map = &mut counts.map;
        let mut retry_after = None;
        let mut delay = Duration::ZERO;
        for (key, limit) in keys {
            let Some(&(n, since)) = map.get(key).filter(|(_, since)| live(*since)) else {
                continue;
            };
            match *limit {
                Limit::Refuse(max) if n >= max => {
                    let wait = (window - now.duration_since(since)).as_secs().max(1);
                    retry_after = retry_after.max(Some(wait));
                }
                Limit::SlowDown(free) if n >= free => {
                    let doublings = (n - free).min(20);
                    let d = self
                        .delays
                        .first
                        .saturating_mul(1 << doublings)
                        .min(self.delays.longest);
                    delay = delay.max(d);
                }
                _ => {}
            }
        }
        if let Some(wait) = retry_after {
            return Err(wait);
        }
        for (key, _) in keys {
            let e = map.entry(key.clone()).or_insert((0, now));
            if !live(e.1) {
                *e = (0, now);
            }
            e.0 = e.0.saturating_add(1);
        }
        Ok(Attempt {
            limiter: self,
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
            delay,
        })
    }
}

impl Attempt<'_> {
    /// The password was never checked (no turn came free): the attempt does not count.
    pub fn cancel(self) {
        let mut counts = self
            .limiter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(e) = counts.map.get_mut(key) {
                e.0 = e.0.saturating_sub(1);
                if e.0 == 0 {
                    counts.map.remove(key);
                }
            }
        }
    }

    /// The password was right: the attempt is not a failure. `forget` (the name from this
    /// address) starts again from zero; the other keys lose this attempt.
    pub fn succeeded(self, forget: &str) {
        let mut counts = self
            .limiter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if key == forget {
                counts.map.remove(key);
            } else if let Some(e) = counts.map.get_mut(key) {
                e.0 = e.0.saturating_sub(1);
                if e.0 == 0 {
                    counts.map.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(
            Duration::from_secs(60),
            Delays {
                first: Duration::from_millis(100),
                longest: Duration::from_millis(800),
            },
        )
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked_and_refused_past_the_limit() {
        let l = limiter();
        let keys = vec![
            ("user-ip:a@1".to_string(), Limit::Refuse(3)),
            ("ip:1".to_string(), Limit::Refuse(10)),
        ];
        // Three attempts in flight at once: the fourth is refused before any has finished.
        let started: Vec<_> = (0..3).map(|_| l.begin(&keys).unwrap()).collect();
        let wait = l.begin(&keys).unwrap_err();
        assert!(wait > 50 && wait <= 60, "{wait}");
        // The address alone is still under its own, higher limit.
        assert!(l.begin(&[("ip:1".to_string(), Limit::Refuse(10))]).is_ok());
        // A success forgets the name from this address.
        let mut started = started;
        started.pop().unwrap().succeeded("user-ip:a@1");
        assert!(l.begin(&keys).is_ok());
    }

    #[test]
    fn a_slowed_down_key_is_never_refused_and_waits_longer_each_time() {
        let l = limiter();
        let keys = vec![("user:a".to_string(), Limit::SlowDown(2))];
        let delays: Vec<_> = (0..7).map(|_| l.begin(&keys).unwrap().delay).collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 0, 100, 200, 400, 800, 800]);
    }

    #[test]
    fn a_success_takes_its_attempt_back_from_the_shared_keys() {
        let l = limiter();
        let keys = vec![
            ("user-ip:a@1".to_string(), Limit::Refuse(5)),
            ("user:a".to_string(), Limit::SlowDown(1)),
        ];
        l.begin(&keys).unwrap().succeeded("user-ip:a@1");
        // The name's count went back to zero: no delay.
        assert_eq!(l.begin(&keys).unwrap().delay, Duration::ZERO);
        assert_eq!(l.begin(&keys).unwrap().delay, Duration::from_millis(100));
    }
}

//! Per-connection budgets, on the time the room is given (never a clock read).

use std::time::Instant;

/// A token bucket: `rate` messages a second sustained, `burst` at once.
#[derive(Debug)]
pub(super) struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    /// A full bucket: a new connection may start with a burst.
    pub(super) fn full(now: Instant, rate: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            last: now,
            rate,
            burst,
        }
    }

    /// Refills for the time since the last call, then spends one token if there is one.
    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        // Time never runs backwards for the bucket, even if a caller's does.
        self.last = self.last.max(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// The latest time the bucket was given.
    pub(super) fn last(&self) -> Instant {
        self.last
    }
}

/// How far over its budget a connection keeps going: one per message refused for rate,
/// draining at `drain` a second. A client that briefly overshoots (a burst of strokes
/// after a stall) drains back to zero; one that keeps sending faster than allowed fills
/// up and is dropped.
#[derive(Debug)]
pub(super) struct Flood {
    level: f64,
    last: Instant,
    drain: f64,
    limit: f64,
}

impl Flood {
    pub(super) fn new(now: Instant, drain: f64, limit: f64) -> Self {
        Self {
            level: 0.0,
            last: now,
            drain,
            limit,
        }
    }

    /// Counts one refused message; true once the connection is over the limit.
    pub(super) fn hit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level - elapsed * self.drain).max(0.0) + 1.0;
        self.last = self.last.max(now);
        self.level > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(t0, 10.0, 5.0);
        assert_eq!((0..8).filter(|_| b.take(t0)).count(), 5);
        let t1 = t0 + Duration::from_millis(300);
        assert_eq!((0..8).filter(|_| b.take(t1)).count(), 3);
        // An earlier time neither refills nor moves the bucket back.
        assert!(!b.take(t0));
        assert_eq!(b.last(), t1);
    }

    #[test]
    fn a_flood_drains_unless_it_keeps_coming() {
        let t0 = Instant::now();
        let mut f = Flood::new(t0, 10.0, 20.0);
        assert!((0..20).all(|_| !f.hit(t0)));
        assert!(f.hit(t0));
        let later = t0 + Duration::from_secs(3);
        assert!(!f.hit(later), "drained back to one");
    }
}

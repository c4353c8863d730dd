//! Sequence-number bookkeeping of a receiving bot: unwrapping and RFC 3550 loss.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Extends 16-bit RTP sequence numbers to 64 bits, taking the nearest to the highest
/// seen so far (RFC 3550 A.1 in spirit), so reordering and wrap both come out right.
#[derive(Debug, Default)]
pub(super) struct SeqUnwrap {
    highest: Option<u64>,
}

impl SeqUnwrap {
    pub(super) fn unwrap(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            // Start well above zero so an early late packet cannot go below it.
            let v = (1u64 << 32) + u64::from(seq);
            self.highest = Some(v);
            return v;
        };
        let delta = seq.wrapping_sub(h as u16) as i16;
        let v = h.wrapping_add_signed(i64::from(delta));
        if v > h {
            self.highest = Some(v);
        }
        v
    }
}

/// One SSRC's loss, RFC 3550 A.3 style: expected less received, kept in a shared counter.
#[derive(Debug, Default)]
pub(super) struct LossCount {
    unwrap: SeqUnwrap,
    first: Option<u64>,
    highest: u64,
    received: u64,
    /// What this SSRC has added to the shared counter so far.
    reported: u64,
}

impl LossCount {
    pub(super) fn count(&mut self, seq: u16, lost: &AtomicU64) {
        let v = self.unwrap.unwrap(seq);
        let first = *self.first.get_or_insert(v);
        if v < first {
            // Older than the first packet seen: not in the span we count.
            return;
        }
        self.highest = self.highest.max(v);
        self.received += 1;
        let now = (self.highest - first + 1).saturating_sub(self.received);
        if now > self.reported {
            lost.fetch_add(now - self.reported, Relaxed);
        } else {
            lost.fetch_sub(self.reported - now, Relaxed);
        }
        self.reported = now;
    }
}

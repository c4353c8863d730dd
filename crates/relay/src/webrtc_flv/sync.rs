//! One timeline for a WebRTC publisher's audio and video, from their RTP clocks.
//!
//! Each track's RTP timestamps start at a random value and run at their own rate
//! (48 kHz Opus, 90 kHz video). A track is first placed on the relay's clock by the
//! arrival of its first packet; from then its own RTP clock carries it (so jitter in
//! arrival never reaches the output). Arrival alone puts video late by however long the
//! publisher took to encode it, so once RTCP sender reports have told the NTP time of
//! both tracks, video is placed on audio's timeline through them: audio stays the
//! master (it is continuous and listeners notice its gaps), video moves to where the
//! publisher says it was captured relative to it. The move is a one-off step of tens of
//! milliseconds; the caller keeps each track's output monotonic.

use std::time::Instant;

/// Audio RTP clock rate (Opus in WebRTC is always 48 kHz).
pub const AUDIO_RATE: u32 = 48_000;
/// Video RTP clock rate.
pub const VIDEO_RATE: u32 = 90_000;

/// RTP timestamps made wrap-free.
#[derive(Debug, Clone, Copy, Default)]
struct Unwrap {
    last: Option<(u32, i64)>,
}

impl Unwrap {
    fn extend(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => i64::from(ts),
            Some((prev, ext)) => ext + i64::from(ts.wrapping_sub(prev) as i32),
        };
        // Keep the furthest point as the reference so old reordered packets don't drag it.
        if self.last.is_none_or(|(_, e)| ext >= e) {
            self.last = Some((ts, ext));
        }
        ext
    }
}

#[derive(Debug, Clone, Copy)]
struct Track {
    rate: u32,
    unwrap: Unwrap,
    /// The first packet: its extended timestamp and arrival (µs since the epoch).
    anchor: Option<(i64, i64)>,
    /// The latest sender report: RTP timestamp (extended) and NTP time in µs.
    report: Option<(i64, i64)>,
}

impl Track {
    fn new(rate: u32) -> Self {
        Self {
            rate,
            unwrap: Unwrap::default(),
            anchor: None,
            report: None,
        }
    }

    fn ticks_to_us(&self, ticks: i64) -> i64 {
        ticks * 1_000_000 / i64::from(self.rate)
    }
}

/// The shared timeline of one publisher.
#[derive(Debug, Clone)]
pub struct LipSync {
    epoch: Instant,
    audio: Track,
    video: Track,
}

/// Which track a timestamp belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio,
    Video,
}

impl LipSync {
    /// A timeline whose zero is `epoch`.
    pub fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            audio: Track::new(AUDIO_RATE),
            video: Track::new(VIDEO_RATE),
        }
    }

    fn track(&mut self, media: Media) -> &mut Track {
        match media {
            Media::Audio => &mut self.audio,
            Media::Video => &mut self.video,
        }
    }

    /// Where a packet with RTP timestamp `ts`, arriving `now`, lies on the timeline (µs).
    pub fn place(&mut self, media: Media, ts: u32, now: Instant) -> i64 {
        let epoch = self.epoch;
        let t = self.track(media);
        let ext = t.unwrap.extend(ts);
        let arrival = now.saturating_duration_since(epoch).as_micros() as i64;
        let (a_ts, a_at) = *t.anchor.get_or_insert((ext, arrival));
        let own = a_at + t.ticks_to_us(ext - a_ts);
        if media == Media::Video
            && let Some(through_audio) = self.video_through_audio(ext)
        {
            return through_audio;
        }
        own
    }

    /// Video's place on audio's timeline, when both tracks have reports and audio has
    /// an anchor.
    fn video_through_audio(&self, video_ext: i64) -> Option<i64> {
        let (v_rtp, v_ntp) = self.video.report?;
        let (a_rtp, a_ntp) = self.audio.report?;
        let (a_anchor_ts, a_anchor_at) = self.audio.anchor?;
        let ntp = v_ntp + self.video.ticks_to_us(video_ext - v_rtp);
        let audio_ticks = a_rtp + (ntp - a_ntp) * i64::from(AUDIO_RATE) / 1_000_000;
        Some(a_anchor_at + self.audio.ticks_to_us(audio_ticks - a_anchor_ts))
    }

    /// A sender report for one track: its 64-bit NTP time and the RTP timestamp of that
    /// instant.
    pub fn report(&mut self, media: Media, ntp: u64, rtp: u32) {
        let t = self.track(media);
        // Seconds since 1900 in the high 32 bits, the fraction in the low ones.
        let us = (ntp >> 32) as i64 * 1_000_000 + (((ntp & 0xffff_ffff) * 1_000_000) >> 32) as i64;
        let ext = t.unwrap.extend(rtp);
        t.report = Some((ext, us));
    }

    /// True once video is placed through the sender reports.
    pub fn reports_known(&self) -> bool {
        self.audio.report.is_some() && self.video.report.is_some() && self.audio.anchor.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ntp(us: i64) -> u64 {
        let secs = (us / 1_000_000) as u64;
        let frac = ((us % 1_000_000) as u64) << 32;
        (secs << 32) | (frac / 1_000_000)
    }

    #[test]
    fn each_track_follows_its_own_clock_from_its_first_arrival() {
        let t0 = Instant::now();
        let mut s = LipSync::new(t0);
        assert_eq!(s.place(Media::Audio, 1000, t0), 0);
        // Arrival jitter does not move it: 20 ms of audio later is 20 ms later.
        assert_eq!(
            s.place(Media::Audio, 1000 + 960, t0 + Duration::from_millis(35)),
            20_000
        );
        let v = s.place(
            Media::Video,
            u32::MAX - 1000,
            t0 + Duration::from_millis(10),
        );
        assert_eq!(v, 10_000);
        // Across the 32-bit wrap.
        assert_eq!(
            s.place(Media::Video, 2000, t0 + Duration::from_millis(40)),
            10_000 + 3001 * 1_000_000 / 90_000
        );
    }

    #[test]
    fn sender_reports_put_video_where_it_was_captured_relative_to_audio() {
        let t0 = Instant::now();
        let mut s = LipSync::new(t0);
        // Both captured at publisher time 5 s; video arrives 60 ms later than audio
        // (encoding), which arrival alone would keep as a 60 ms offset.
        let (a0, v0) = (7_000u32, 123_456u32);
        assert_eq!(s.place(Media::Audio, a0, t0), 0);
        assert_eq!(
            s.place(Media::Video, v0, t0 + Duration::from_millis(60)),
            60_000
        );
        s.report(Media::Audio, ntp(5_000_000), a0);
        s.report(Media::Video, ntp(5_000_000), v0);
        assert!(s.reports_known());
        let at = t0 + Duration::from_millis(100);
        // One second later on both clocks: the same place.
        let a = s.place(Media::Audio, a0 + 48_000, at);
        let v = s.place(Media::Video, v0 + 90_000, at);
        assert!((a - v).abs() <= 1, "audio {a} video {v}");
        assert!((a - 1_000_000).abs() <= 1);
    }
}

//! Counters the relay exports at `/metrics` in the Prometheus text format.
//!
//! Plain atomics: the media engine bumps them on its hot path without locks, and the
//! HTTP handler reads a consistent-enough snapshot.

use lectern_proto::ErrorCode;
use lectern_rtp::NackCounters;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Why the relay dropped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A subscriber's send queue (socket buffer or TCP queue) was full.
    SendQueueFull,
    /// Video held back until a new subscriber's first keyframe.
    AwaitingKeyframe,
    /// A datagram from an address no session knows.
    UnknownSource,
}

/// What became of a network-probe datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeOutcome {
    /// A ping, answered with a pong.
    Answered,
    /// An upload-train datagram, counted.
    Counted,
    /// Not a well-formed probe datagram.
    Malformed,
    /// A probe id the relay did not grant, or one that expired.
    UnknownId,
    /// Its source IP had used up its pongs for now.
    RateLimited,
    /// Its probe id had used up its pings or train bytes.
    OverBudget,
}

/// All counters of one relay.
#[derive(Debug)]
pub struct Metrics {
    pub rooms: AtomicI64,
    pub publishers: AtomicI64,
    pub subscribers: AtomicI64,
    pub signaling_connections: AtomicI64,
    pub board_asset_bytes: AtomicI64,
    pub tracks: AtomicI64,
    pub rtp_in_packets: AtomicU64,
    pub rtp_in_bytes: AtomicU64,
    pub rtp_out_packets: AtomicU64,
    pub rtp_out_bytes: AtomicU64,
    pub nacks: AtomicU64,
    /// What the relay asked publishers to resend, and what came of it (every publisher
    /// adds to the same counters).
    pub uplink_nacks: Arc<NackCounters>,
    pub plis_forwarded: AtomicU64,
    pub plis_coalesced: AtomicU64,
    pub drops_queue_full: AtomicU64,
    pub drops_keyframe_wait: AtomicU64,
    pub drops_unknown_source: AtomicU64,
    pub signaling_in: AtomicU64,
    pub signaling_out: AtomicU64,
    pub probe_answered: AtomicU64,
    pub probe_counted: AtomicU64,
    pub probe_malformed: AtomicU64,
    pub probe_unknown: AtomicU64,
    pub probe_rate_limited: AtomicU64,
    pub probe_over_budget: AtomicU64,
    /// Open RTMP connections (publishers, players, and those still setting up).
    pub rtmp_connections: AtomicI64,
    /// RTMP connections accepted since start.
    pub rtmp_accepted: AtomicU64,
    /// Bytes read from and written to RTMP sockets.
    pub rtmp_bytes_in: AtomicU64,
    pub rtmp_bytes_out: AtomicU64,
    /// FLV streams with a source.
    pub flv_publishers: AtomicI64,
    /// RTMP and HTTP-FLV viewers attached to a stream.
    pub flv_viewers: AtomicI64,
    /// Tag bytes from sources into streams, and queued from streams to viewers.
    pub flv_bytes_in: AtomicU64,
    pub flv_bytes_out: AtomicU64,
    /// Tags a behind viewer did not get.
    pub flv_tags_dropped: AtomicU64,
    /// WebRTC → FLV bridge: RTP copies the bridge task could not take, and tags a
    /// stream task could not take from it.
    pub flv_tap_dropped: AtomicU64,
    pub flv_bridge_dropped: AtomicU64,
    /// Publishes, plays and connections refused, by reason label.
    stream_refusals: [(&'static str, AtomicU64); STREAM_REFUSALS.len()],
    errors: Mutex<Vec<(ErrorCode, u64)>>,
}

/// The `reason` labels of `lectern_relay_stream_refusals_total`.
const STREAM_REFUSALS: [&str; 6] = [
    "capacity",
    "bad_name",
    "unauthorized",
    "busy",
    "not_found",
    "stopping",
];

impl Default for Metrics {
    fn default() -> Self {
        Self {
            rooms: AtomicI64::default(),
            publishers: AtomicI64::default(),
            subscribers: AtomicI64::default(),
            signaling_connections: AtomicI64::default(),
            board_asset_bytes: AtomicI64::default(),
            tracks: AtomicI64::default(),
            rtp_in_packets: AtomicU64::default(),
            rtp_in_bytes: AtomicU64::default(),
            rtp_out_packets: AtomicU64::default(),
            rtp_out_bytes: AtomicU64::default(),
            nacks: AtomicU64::default(),
            uplink_nacks: Arc::default(),
            plis_forwarded: AtomicU64::default(),
            plis_coalesced: AtomicU64::default(),
            drops_queue_full: AtomicU64::default(),
            drops_keyframe_wait: AtomicU64::default(),
            drops_unknown_source: AtomicU64::default(),
            signaling_in: AtomicU64::default(),
            signaling_out: AtomicU64::default(),
            probe_answered: AtomicU64::default(),
            probe_counted: AtomicU64::default(),
            probe_malformed: AtomicU64::default(),
            probe_unknown: AtomicU64::default(),
            probe_rate_limited: AtomicU64::default(),
            probe_over_budget: AtomicU64::default(),
            rtmp_connections: AtomicI64::default(),
            rtmp_accepted: AtomicU64::default(),
            rtmp_bytes_in: AtomicU64::default(),
            rtmp_bytes_out: AtomicU64::default(),
            flv_publishers: AtomicI64::default(),
            flv_viewers: AtomicI64::default(),
            flv_bytes_in: AtomicU64::default(),
            flv_bytes_out: AtomicU64::default(),
            flv_tags_dropped: AtomicU64::default(),
            flv_tap_dropped: AtomicU64::default(),
            flv_bridge_dropped: AtomicU64::default(),
            stream_refusals: STREAM_REFUSALS.map(|r| (r, AtomicU64::default())),
            errors: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts one dropped packet.
    pub fn drop_packet(&self, reason: DropReason) {
        let counter = match reason {
            DropReason::SendQueueFull => &self.drops_queue_full,
            DropReason::AwaitingKeyframe => &self.drops_keyframe_wait,
            DropReason::UnknownSource => &self.drops_unknown_source,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Counts one network-probe datagram.
    pub fn probe(&self, outcome: ProbeOutcome) {
        let counter = match outcome {
            ProbeOutcome::Answered => &self.probe_answered,
            ProbeOutcome::Counted => &self.probe_counted,
            ProbeOutcome::Malformed => &self.probe_malformed,
            ProbeOutcome::UnknownId => &self.probe_unknown,
            ProbeOutcome::RateLimited => &self.probe_rate_limited,
            ProbeOutcome::OverBudget => &self.probe_over_budget,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Counts one refused RTMP connection, publish or play (RTMP or HTTP-FLV), by one
    /// of the `reason` labels (`capacity`, `bad_name`, `unauthorized`, `busy`,
    /// `not_found`, `stopping`).
    pub fn stream_refused(&self, reason: &str) {
        if let Some((_, n)) = self.stream_refusals.iter().find(|(r, _)| *r == reason) {
            n.fetch_add(1, Relaxed);
        }
    }

    /// Refusals counted under `reason` so far.
    pub fn stream_refusals(&self, reason: &str) -> u64 {
        self.stream_refusals
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| n.load(Relaxed))
    }

    /// Counts one error answered to a client.
    pub fn error(&self, code: ErrorCode) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        match errors.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => errors.push((code, 1)),
        }
    }

    /// Renders everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, samples: &[(&str, i64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let counter = |out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        gauge(
            &mut out,
            "lectern_relay_rooms",
            "Rooms with anyone in them.",
            &[("", self.rooms.load(Relaxed))],
        );
        gauge(
            &mut out,
            "lectern_relay_peers",
            "WebRTC sessions and signaling connections.",
            &[
                ("{kind=\"publisher\"}", self.publishers.load(Relaxed)),
                ("{kind=\"subscriber\"}", self.subscribers.load(Relaxed)),
                (
                    "{kind=\"signaling\"}",
                    self.signaling_connections.load(Relaxed),
                ),
            ],
        );
        gauge(
            &mut out,
            "lectern_relay_board_asset_bytes",
            "Bytes of board assets (PDFs, images) held in memory for open rooms.",
            &[("", self.board_asset_bytes.load(Relaxed))],
        );
        gauge(
            &mut out,
            "lectern_relay_tracks",
            "Published tracks with media flowing.",
            &[("", self.tracks.load(Relaxed))],
        );
        counter(
            &mut out,
            "lectern_relay_rtp_packets_total",
            "RTP packets received from publishers and sent to subscribers.",
            &[
                ("{direction=\"in\"}", self.rtp_in_packets.load(Relaxed)),
                ("{direction=\"out\"}", self.rtp_out_packets.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_rtp_bytes_total",
            "RTP payload bytes received and sent.",
            &[
                ("{direction=\"in\"}", self.rtp_in_bytes.load(Relaxed)),
                ("{direction=\"out\"}", self.rtp_out_bytes.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_nacks_total",
            "NACK packets received from subscribers.",
            &[("", self.nacks.load(Relaxed))],
        );
        let up = &self.uplink_nacks;
        counter(
            &mut out,
            "lectern_relay_uplink_packets_total",
            "Publisher packets found missing, asked for again, repaired (retransmitted, \
             rebuilt by FEC or late) and given up.",
            &[
                ("{outcome=\"missing\"}", up.missing.load(Relaxed)),
                ("{outcome=\"requested\"}", up.requested.load(Relaxed)),
                ("{outcome=\"repaired\"}", up.repaired.load(Relaxed)),
                ("{outcome=\"given_up\"}", up.given_up.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_plis_total",
            "Keyframe requests towards publishers.",
            &[
                ("{outcome=\"forwarded\"}", self.plis_forwarded.load(Relaxed)),
                ("{outcome=\"coalesced\"}", self.plis_coalesced.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_dropped_packets_total",
            "Packets the relay dropped, by reason.",
            &[
                (
                    "{reason=\"send_queue_full\"}",
                    self.drops_queue_full.load(Relaxed),
                ),
                (
                    "{reason=\"awaiting_keyframe\"}",
                    self.drops_keyframe_wait.load(Relaxed),
                ),
                (
                    "{reason=\"unknown_source\"}",
                    self.drops_unknown_source.load(Relaxed),
                ),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_signaling_messages_total",
            "Signaling messages received and sent.",
            &[
                ("{direction=\"in\"}", self.signaling_in.load(Relaxed)),
                ("{direction=\"out\"}", self.signaling_out.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_probe_datagrams_total",
            "Network-probe datagrams on the media port, by what became of them.",
            &[
                ("{outcome=\"answered\"}", self.probe_answered.load(Relaxed)),
                ("{outcome=\"counted\"}", self.probe_counted.load(Relaxed)),
                (
                    "{outcome=\"malformed\"}",
                    self.probe_malformed.load(Relaxed),
                ),
                ("{outcome=\"unknown_id\"}", self.probe_unknown.load(Relaxed)),
                (
                    "{outcome=\"rate_limited\"}",
                    self.probe_rate_limited.load(Relaxed),
                ),
                (
                    "{outcome=\"over_budget\"}",
                    self.probe_over_budget.load(Relaxed),
                ),
            ],
        );
        gauge(
            &mut out,
            "lectern_relay_rtmp_connections",
            "Open RTMP connections.",
            &[("", self.rtmp_connections.load(Relaxed))],
        );
        counter(
            &mut out,
            "lectern_relay_rtmp_accepted_total",
            "RTMP connections accepted.",
            &[("", self.rtmp_accepted.load(Relaxed))],
        );
        counter(
            &mut out,
            "lectern_relay_rtmp_bytes_total",
            "Bytes read from and written to RTMP sockets.",
            &[
                ("{direction=\"in\"}", self.rtmp_bytes_in.load(Relaxed)),
                ("{direction=\"out\"}", self.rtmp_bytes_out.load(Relaxed)),
            ],
        );
        gauge(
            &mut out,
            "lectern_relay_flv_streams",
            "FLV streams (RTMP in; RTMP and HTTP-FLV out) with a publisher, and their viewers.",
            &[
                ("{kind=\"publisher\"}", self.flv_publishers.load(Relaxed)),
                ("{kind=\"viewer\"}", self.flv_viewers.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_flv_bytes_total",
            "FLV tag bytes from publishers into streams, and queued to viewers.",
            &[
                ("{direction=\"in\"}", self.flv_bytes_in.load(Relaxed)),
                ("{direction=\"out\"}", self.flv_bytes_out.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "lectern_relay_flv_dropped_tags_total",
            "FLV tags a viewer that fell behind did not get.",
            &[("", self.flv_tags_dropped.load(Relaxed))],
        );
        counter(
            &mut out,
            "lectern_relay_webrtc_flv_dropped_total",
            "WebRTC to FLV bridge: RTP copies (stage tap) and tags (stage stream) dropped because the next stage was full.",
            &[
                ("{stage=\"tap\"}", self.flv_tap_dropped.load(Relaxed)),
                ("{stage=\"stream\"}", self.flv_bridge_dropped.load(Relaxed)),
            ],
        );
        let _ = writeln!(
            out,
            "# HELP lectern_relay_stream_refusals_total RTMP connections, publishes and plays (RTMP, HTTP-FLV) refused, by reason.\n# TYPE lectern_relay_stream_refusals_total counter"
        );
        for (reason, n) in &self.stream_refusals {
            let _ = writeln!(
                out,
                "lectern_relay_stream_refusals_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP lectern_relay_errors_total Errors answered to clients, by code.\n# TYPE lectern_relay_errors_total counter"
        );
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (code, n) in errors {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(out, "lectern_relay_errors_total{{code=\"{code}\"}} {n}");
        }
        out
    }
}

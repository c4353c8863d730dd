//! Network-probe datagrams on the media port: `lectern_proto::probe::parse_client` and
//! the relay's `ProbeResponder`, with one granted probe id and a fake clock.
//!
//! The input is steps `<dt><src><len><len bytes…>`: `dt` advances the clock by
//! `dt² × 50 µs` (up to 3.25 s, so ids expire within a run), `src % 4` picks one of four
//! source addresses (two share an IP), and the bytes are one datagram. The granted id is
//! sixteen `0x11` bytes, so seeds can hold valid pings and train datagrams.

#![no_main]

use lectern_proto::probe::{self, ClientDatagram, PING_LEN, Pong, ProbeId};
use lectern_relay::Metrics;
use lectern_relay::probe::{MAX_PINGS, MAX_TRAIN_BYTES, PONG_BURST, PONG_RATE, ProbeResponder};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ID: ProbeId = ProbeId([0x11; 16]);

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut responder = ProbeResponder::new(Arc::new(Metrics::default()));
    responder.grant(now, ID, 8687).expect("one grant fits");
    let sources: [SocketAddr; 4] = [
        "192.0.2.1:1000".parse().unwrap(),
        "192.0.2.1:2000".parse().unwrap(),
        "198.51.100.7:1000".parse().unwrap(),
        "[2001:db8::1]:1000".parse().unwrap(),
    ];
    let mut answered: HashMap<IpAddr, u64> = HashMap::new();
    let mut rest = data;
    while let [dt, src, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_micros(u64::from(*dt) * u64::from(*dt) * 50);
        let from = sources[usize::from(*src) % 4];

        // The parser agrees with the encoders on whatever it accepts, apart from the two
        // reserved header bytes (2 and 3), which it ignores for later versions.
        let same = |encoded: &[u8]| {
            assert_eq!(encoded[..2], datagram[..2]);
            assert_eq!(encoded[4..32], datagram[4..32]);
        };
        match probe::parse_client(datagram) {
            Ok(ClientDatagram::Ping(p)) => {
                assert!(datagram.len() >= PING_LEN);
                same(&p.encode());
            }
            Ok(ClientDatagram::Train(t)) => {
                assert_eq!(t.len, datagram.len());
                same(&t.encode());
            }
            Err(_) => {}
        }

        let Some(reply) = responder.handle_datagram(now, from, datagram) else {
            continue;
        };
        assert!(reply.len() <= datagram.len(), "amplification");
        let Ok(ClientDatagram::Ping(ping)) = probe::parse_client(datagram) else {
            panic!("answered something that is not a ping");
        };
        assert_eq!(ping.id, ID, "answered an id that was never granted");
        let pong = Pong::parse(&reply).expect("a pong");
        assert_eq!((pong.seq, pong.echo_us), (ping.seq, ping.sent_us));
        assert!(pong.pings_received <= MAX_PINGS);
        assert!(pong.train_bytes <= MAX_TRAIN_BYTES);
        assert!(pong.train_first_us <= pong.train_last_us || pong.train_packets == 0);
        // Never more pongs per IP than the bucket allows.
        let count = answered.entry(from.ip()).or_default();
        *count += 1;
        let allowed = PONG_BURST + now.duration_since(start).as_secs_f64() * PONG_RATE;
        assert!((*count as f64) <= allowed + 1.0, "{count} > {allowed}");
    }
});

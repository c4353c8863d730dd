//! The network probe: the datagrams the self-check sends to a relay's media port and the
//! relay's answers (see `docs/protocol.md`, "Network probe").
//!
//! Every probe datagram starts with a byte in 4–15, a range RFC 7983 (and RFC 9443 for
//! QUIC) leaves unassigned, so a demultiplexer that also sees STUN (0–3), DTLS (20–63),
//! TURN channels (64–79) and RTP/RTCP (128–191) on the same port cannot confuse them.
//! Integers are big-endian. Times are microseconds on the sender's own clock: the
//! client's since its probe started, the relay's since it granted the probe.
//!
//! Invariant: a pong is [`PONG_LEN`] bytes and the relay answers only pings of at least
//! [`PING_LEN`] bytes, so an answer is never larger than the datagram that caused it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Version byte of the probe datagrams.
pub const PROBE_VERSION: u8 = 1;
/// Length of a probe id.
pub const NONCE_LEN: usize = 16;
/// First byte of a ping (client → relay, answered with a pong).
pub const PING: u8 = 0x0C;
/// First byte of a pong (relay → client).
pub const PONG: u8 = 0x0D;
/// First byte of an upload-train datagram (client → relay, counted, never answered).
pub const TRAIN: u8 = 0x0E;
/// Length of a ping: header, id, sequence number, send time, zero padding.
pub const PING_LEN: usize = 48;
/// Length of a pong.
pub const PONG_LEN: usize = 40;
/// Bytes of a train datagram before its padding.
pub const TRAIN_HEADER_LEN: usize = 32;
/// Largest train datagram (keeps clear of a 1500-byte MTU with IPv6 and UDP headers).
pub const TRAIN_MAX_LEN: usize = 1400;

/// Whether `datagram` is a probe datagram by its first byte (4–15).
pub fn is_probe(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(4..=15))
}

/// The id a relay grants for one probe: 16 random bytes, 32 hex digits in JSON and URLs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeId(pub [u8; NONCE_LEN]);

impl ProbeId {
    /// Parses the 32-hex-digit form.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != NONCE_LEN * 2 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; NONCE_LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for ProbeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ProbeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProbeId({self})")
    }
}

/// The relay's answer to `POST /probe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeGrant {
    /// The probe id, 32 hex digits.
    pub id: String,
    /// The relay's UDP media port, where probe datagrams go.
    pub udp_port: u16,
    /// How long the id stays valid, ms.
    pub ttl_ms: u32,
    /// The highest upload-train rate the relay accepts for this probe, kbit/s.
    pub max_kbps: u32,
}

/// A ping: "answer me", with the client's send time echoed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    pub id: ProbeId,
    pub seq: u32,
    pub sent_us: u64,
}

/// An upload-train datagram of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Train {
    pub id: ProbeId,
    pub seq: u32,
    pub sent_us: u64,
    pub len: usize,
}

/// The relay's answer to a ping: the echo, its receive time, and what it has counted
/// for this probe so far (pings, and the upload train's packets, bytes and first and
/// last arrival).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pong {
    pub seq: u32,
    pub echo_us: u64,
    pub relay_rx_us: u32,
    pub pings_received: u32,
    pub train_packets: u32,
    pub train_bytes: u32,
    pub train_first_us: u32,
    pub train_last_us: u32,
}

/// What a client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientDatagram {
    Ping(Ping),
    Train(Train),
}

/// Why a datagram is not a valid client probe datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeParseError {
    /// Shorter than its type requires.
    TooShort,
    /// Longer than any probe datagram.
    TooLong,
    /// An unknown first byte or version.
    UnknownType,
}

fn header(typ: u8) -> [u8; 4] {
    [typ, PROBE_VERSION, 0, 0]
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    (u64::from(u32_at(d, at)) << 32) | u64::from(u32_at(d, at + 4))
}

/// Writes the part pings and trains share: header, id, sequence, send time.
fn client_head(buf: &mut [u8], typ: u8, id: &ProbeId, seq: u32, sent_us: u64) {
    buf[..4].copy_from_slice(&header(typ));
    buf[4..20].copy_from_slice(&id.0);
    buf[20..24].copy_from_slice(&seq.to_be_bytes());
    buf[24..32].copy_from_slice(&sent_us.to_be_bytes());
}

impl Ping {
    /// The datagram.
    pub fn encode(&self) -> [u8; PING_LEN] {
        let mut buf = [0u8; PING_LEN];
        client_head(&mut buf, PING, &self.id, self.seq, self.sent_us);
        buf
    }
}

impl Train {
    /// The datagram, zero-padded to `len` (clamped to the allowed sizes).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.len.clamp(TRAIN_HEADER_LEN, TRAIN_MAX_LEN)];
        client_head(&mut buf, TRAIN, &self.id, self.seq, self.sent_us);
        buf
    }
}

/// Parses a client datagram. Never panics; the reserved bytes and the padding are
/// ignored so later versions can use them.
pub fn parse_client(d: &[u8]) -> Result<ClientDatagram, ProbeParseError> {
    let (&typ, rest) = d.split_first().ok_or(ProbeParseError::TooShort)?;
    if rest.first() != Some(&PROBE_VERSION) {
        return Err(if rest.is_empty() {
            ProbeParseError::TooShort
        } else {
            ProbeParseError::UnknownType
        });
    }
    let min = match typ {
        PING => PING_LEN,
        TRAIN => TRAIN_HEADER_LEN,
        _ => return Err(ProbeParseError::UnknownType),
    };
    if d.len() < min {
        return Err(ProbeParseError::TooShort);
    }
    if d.len() > TRAIN_MAX_LEN {
        return Err(ProbeParseError::TooLong);
    }
    let mut id = [0u8; NONCE_LEN];
    id.copy_from_slice(&d[4..20]);
    let (id, seq, sent_us) = (ProbeId(id), u32_at(d, 20), u64_at(d, 24));
    Ok(if typ == PING {
        ClientDatagram::Ping(Ping { id, seq, sent_us })
    } else {
        ClientDatagram::Train(Train {
            id,
            seq,
            sent_us,
            len: d.len(),
        })
    })
}

impl Pong {
    /// The datagram.
    pub fn encode(&self) -> [u8; PONG_LEN] {
        let mut buf = [0u8; PONG_LEN];
        buf[..4].copy_from_slice(&header(PONG));
        buf[4..8].copy_from_slice(&self.seq.to_be_bytes());
        buf[8..16].copy_from_slice(&self.echo_us.to_be_bytes());
        let words = [
            self.relay_rx_us,
            self.pings_received,
            self.train_packets,
            self.train_bytes,
            self.train_first_us,
            self.train_last_us,
        ];
        for (i, w) in words.iter().enumerate() {
            buf[16 + 4 * i..20 + 4 * i].copy_from_slice(&w.to_be_bytes());
        }
        buf
    }

    /// Parses a pong; `None` for anything else.
    pub fn parse(d: &[u8]) -> Option<Self> {
        if d.len() < PONG_LEN || d[0] != PONG || d[1] != PROBE_VERSION {
            return None;
        }
        Some(Self {
            seq: u32_at(d, 4),
            echo_us: u64_at(d, 8),
            relay_rx_us: u32_at(d, 16),
            pings_received: u32_at(d, 20),
            train_packets: u32_at(d, 24),
            train_bytes: u32_at(d, 28),
            train_first_us: u32_at(d, 32),
            train_last_us: u32_at(d, 36),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ProbeId = ProbeId([7; NONCE_LEN]);

    #[test]
    fn datagrams_round_trip() {
        let ping = Ping {
            id: ID,
            seq: 9,
            sent_us: 1 << 40,
        };
        assert_eq!(parse_client(&ping.encode()), Ok(ClientDatagram::Ping(ping)));
        let train = Train {
            id: ID,
            seq: 3,
            sent_us: 77,
            len: 1200,
        };
        let bytes = train.encode();
        assert_eq!(bytes.len(), 1200);
        assert_eq!(parse_client(&bytes), Ok(ClientDatagram::Train(train)));
        let pong = Pong {
            seq: 1,
            echo_us: u64::MAX,
            relay_rx_us: 2,
            pings_received: 3,
            train_packets: 4,
            train_bytes: 5,
            train_first_us: 6,
            train_last_us: 7,
        };
        assert_eq!(Pong::parse(&pong.encode()), Some(pong));
    }

    #[test]
    fn a_pong_is_never_larger_than_a_ping() {
        const { assert!(PONG_LEN <= PING_LEN) };
        let short = &Ping {
            id: ID,
            seq: 0,
            sent_us: 0,
        }
        .encode()[..PING_LEN - 1];
        assert_eq!(parse_client(short), Err(ProbeParseError::TooShort));
    }

    #[test]
    fn the_first_byte_stays_clear_of_rfc_7983() {
        for typ in [PING, PONG, TRAIN] {
            assert!(is_probe(&[typ]));
        }
        for other in [0u8, 3, 16, 20, 63, 64, 79, 128, 191, 255] {
            assert!(!is_probe(&[other]), "{other}");
        }
        assert!(!is_probe(&[]));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(parse_client(&[]), Err(ProbeParseError::TooShort));
        assert_eq!(parse_client(&[PING]), Err(ProbeParseError::TooShort));
        assert_eq!(
            parse_client(&[PING, 9, 0]),
            Err(ProbeParseError::UnknownType)
        );
        assert_eq!(
            parse_client(&[PONG, PROBE_VERSION, 0, 0]),
            Err(ProbeParseError::UnknownType)
        );
        let mut long = vec![0u8; TRAIN_MAX_LEN + 1];
        long[..2].copy_from_slice(&[TRAIN, PROBE_VERSION]);
        assert_eq!(parse_client(&long), Err(ProbeParseError::TooLong));
        assert_eq!(Pong::parse(&[PONG; 39]), None);
    }

    #[test]
    fn ids_print_and_parse_as_hex() {
        let id = ProbeId([0xab; NONCE_LEN]);
        assert_eq!(ProbeId::parse(&id.to_string()), Some(id));
        assert_eq!(ProbeId::parse("zz"), None);
        assert_eq!(ProbeId::parse(&"é".repeat(16)), None);
    }
}

//! The RTMP chunk stream: messages cut into chunks with compressed headers.
//!
//! Header rules, as peers really use them (the Adobe spec leaves some implicit):
//! - fmt 0 carries the absolute timestamp, fmt 1 and 2 a delta from the chunk stream's
//!   previous message; fmt 3 carries nothing and either continues the message in
//!   progress or starts a new one whose timestamp is the previous one plus the previous
//!   header's timestamp field (after a fmt 0 that field is the absolute timestamp: this
//!   is what ffmpeg and SRS read and write).
//! - A timestamp field of 0xFFFFFF means the real value follows in 4 bytes (extended
//!   timestamp). Every fmt 3 chunk on that chunk stream then repeats the extended field,
//!   until a header with a smaller field comes.
//! - Timestamps are 32-bit milliseconds and wrap (about every 49.7 days): all arithmetic
//!   wraps, and a jump back of more than 2³¹ ms is read as a wrap forward.
//!
//! The decoder never trusts a length to size an allocation: a message buffer grows as
//! its bytes arrive, and [`ChunkLimits`] caps the message length, the chunk size a peer
//! may set, the chunk streams in use and the bytes held in unfinished messages.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::HashMap;

use super::RtmpError;

/// The chunk size every RTMP connection starts with, in both directions.
pub const DEFAULT_CHUNK_SIZE: usize = 128;
const EXTENDED: u32 = 0xff_ffff;

/// One RTMP message, reassembled or to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type (1–6 protocol control, 8 audio, 9 video, 18 data, 20 command, …).
    pub type_id: u8,
    /// Message stream id (0 for the connection, 1+ for streams made by `createStream`).
    pub stream_id: u32,
    /// Milliseconds, wrapping at 2³².
    pub timestamp: u32,
    /// The body.
    pub payload: Bytes,
}

/// What the decoder accepts from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Longest message.
    pub max_message_len: usize,
    /// Largest chunk size a peer may set with Set Chunk Size.
    pub max_chunk_size: usize,
    /// Chunk stream ids with state at once.
    pub max_chunk_streams: usize,
    /// Bytes of unfinished messages across all chunk streams, counted at their declared
    /// lengths.
    pub max_buffered: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self {
            // The 24-bit length field allows 16 MiB; the largest real message is a
            // keyframe, about 2 MiB at 1080p and a high bit rate. 8 MiB leaves room.
            max_message_len: 8 * 1024 * 1024,
            // ffmpeg and OBS send 4096, SRS 60000; a megabyte leaves room and no more.
            max_chunk_size: 1024 * 1024,
            // A publisher uses 3–6, a player 2–3.
            max_chunk_streams: 64,
            // One largest message and room for the small ones interleaved with it.
            max_buffered: 12 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default)]
struct InState {
    timestamp: u32,
    /// The last timestamp field (delta, or absolute after fmt 0), extended value included.
    field: u32,
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    partial: Option<BytesMut>,
}

/// Reassembles messages from chunks.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: ChunkLimits,
    chunk_size: usize,
    buf: BytesMut,
    streams: HashMap<u32, InState>,
    buffered: usize,
}

/// A chunk's basic and message header, parsed but not yet applied.
struct Header {
    fmt: u8,
    csid: u32,
    /// Bytes of header, extended timestamp included.
    len: usize,
    field: Option<u32>,
    length: Option<u32>,
    type_id: Option<u8>,
    stream_id: Option<u32>,
}

fn be24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

impl ChunkDecoder {
    /// A decoder at the default chunk size.
    pub fn new(limits: ChunkLimits) -> Self {
        Self {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            buf: BytesMut::new(),
            streams: HashMap::new(),
            buffered: 0,
        }
    }

    /// Appends bytes from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes pushed and not yet consumed (an incomplete chunk).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The peer's Set Chunk Size. Values with the top bit set, zero, and values above the
    /// limit are refused.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        let size = size as usize;
        if size == 0 || size > self.limits.max_chunk_size {
            return Err(RtmpError::BadChunkSize(size as u32));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// The chunk size the peer sends with.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The peer's Abort: drops the unfinished message of `csid`.
    pub fn abort(&mut self, csid: u32) {
        if let Some(state) = self.streams.get_mut(&csid)
            && state.partial.take().is_some()
        {
            self.buffered -= state.length as usize;
        }
    }

    fn parse_header(&self) -> Result<Option<Header>, RtmpError> {
        let b = &self.buf[..];
        let Some(&first) = b.first() else {
            return Ok(None);
        };
        let fmt = first >> 6;
        let (csid, mut pos) = match first & 0x3f {
            0 => match b.get(1) {
                Some(&x) => (64 + u32::from(x), 2),
                None => return Ok(None),
            },
            1 => match b.get(1..3) {
                Some(x) => (64 + u32::from(x[0]) + 256 * u32::from(x[1]), 3),
                None => return Ok(None),
            },
            n => (u32::from(n), 1),
        };
        let mh = [11, 7, 3, 0][usize::from(fmt)];
        let Some(m) = b.get(pos..pos + mh) else {
            return Ok(None);
        };
        pos += mh;
        let mut h = Header {
            fmt,
            csid,
            len: pos,
            field: None,
            length: None,
            type_id: None,
            stream_id: None,
        };
        if fmt <= 2 {
            h.field = Some(be24(&m[0..3]));
        }
        if fmt <= 1 {
            h.length = Some(be24(&m[3..6]));
            h.type_id = Some(m[6]);
        }
        if fmt == 0 {
            h.stream_id = Some(u32::from_le_bytes([m[7], m[8], m[9], m[10]]));
        }
        let extended = match h.field {
            Some(f) => f == EXTENDED,
            None => self.streams.get(&csid).is_some_and(|s| s.extended),
        };
        if extended {
            let Some(x) = b.get(pos..pos + 4) else {
                return Ok(None);
            };
            let value = u32::from_be_bytes([x[0], x[1], x[2], x[3]]);
            // On a fmt 3 chunk the extended field stands for the repeated field.
            h.field = Some(value);
            pos += 4;
            h.len = pos;
        }
        Ok(Some(h))
    }

    /// The next complete message and its chunk stream id, or `None` until more bytes
    /// arrive. An error means the stream is broken: drop the connection.
    pub fn poll_message(&mut self) -> Result<Option<(u32, Message)>, RtmpError> {
        loop {
            let Some(h) = self.parse_header()? else {
                return Ok(None);
            };
            let known = self.streams.contains_key(&h.csid);
            if !known {
                if h.fmt != 0 {
                    return Err(RtmpError::NoPreviousHeader(h.csid));
                }
                if self.streams.len() >= self.limits.max_chunk_streams {
                    return Err(RtmpError::TooManyChunkStreams(
                        self.limits.max_chunk_streams,
                    ));
                }
            }
            // Work out the message this chunk belongs to without changing state, so an
            // incomplete chunk can be parsed again when more bytes come.
            let prev = self.streams.get(&h.csid);
            let in_progress = prev.and_then(|s| s.partial.as_ref()).map_or(0, |p| p.len());
            let continuing = prev.is_some_and(|s| s.partial.is_some());
            if continuing && h.fmt != 3 {
                return Err(RtmpError::InterleavedHeader(h.csid));
            }
            let length = match h.length {
                Some(l) => l,
                None => prev.map_or(0, |s| s.length),
            };
            if length as usize > self.limits.max_message_len {
                return Err(RtmpError::MessageTooLong {
                    len: length as usize,
                    max: self.limits.max_message_len,
                });
            }
            let data = (length as usize - in_progress).min(self.chunk_size);
            if self.buf.len() < h.len + data {
                return Ok(None);
            }
            if !continuing {
                if self.buffered + length as usize > self.limits.max_buffered {
                    return Err(RtmpError::TooMuchBuffered(self.limits.max_buffered));
                }
                // Reserved for the whole message, so the cap holds however the chunks
                // of several messages interleave.
                self.buffered += length as usize;
            }

            // Apply the header.
            let state = self.streams.entry(h.csid).or_default();
            if !continuing {
                let field = h.field.unwrap_or(state.field);
                state.timestamp = if h.fmt == 0 {
                    field
                } else {
                    state.timestamp.wrapping_add(field)
                };
                state.field = field;
                // fmt 3 keeps the previous header's extended flag, the others set it.
                if h.fmt != 3 {
                    state.extended = field >= EXTENDED;
                }
                state.length = length;
                if let Some(t) = h.type_id {
                    state.type_id = t;
                }
                if let Some(s) = h.stream_id {
                    state.stream_id = s;
                }
            }
            self.buf.advance(h.len);
            let chunk = self.buf.split_to(data);
            let partial = state
                .partial
                .get_or_insert_with(|| BytesMut::with_capacity(data));
            partial.extend_from_slice(&chunk);
            if partial.len() == state.length as usize {
                let payload = state.partial.take().expect("just filled").freeze();
                self.buffered -= payload.len();
                return Ok(Some((
                    h.csid,
                    Message {
                        type_id: state.type_id,
                        stream_id: state.stream_id,
                        timestamp: state.timestamp,
                        payload,
                    },
                )));
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct OutState {
    timestamp: u32,
    field: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Cuts messages into chunks with the smallest header that reads back right.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: usize,
    streams: HashMap<u32, OutState>,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

fn put_basic_header(out: &mut BytesMut, fmt: u8, csid: u32) {
    match csid {
        2..=63 => out.put_u8(fmt << 6 | csid as u8),
        64..=319 => {
            out.put_u8(fmt << 6);
            out.put_u8((csid - 64) as u8);
        }
        _ => {
            out.put_u8(fmt << 6 | 1);
            let v = csid - 64;
            out.put_u8(v as u8);
            out.put_u8((v >> 8) as u8);
        }
    }
}

fn put_u24(out: &mut BytesMut, v: u32) {
    out.put_slice(&v.to_be_bytes()[1..]);
}

impl ChunkEncoder {
    /// An encoder at the default chunk size.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
        }
    }

    /// Changes the outgoing chunk size. Send Set Chunk Size to the peer first.
    pub fn set_chunk_size(&mut self, size: usize) {
        self.chunk_size = size.clamp(1, 0x7fff_ffff);
    }

    /// The outgoing chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Appends `msg` as chunks on chunk stream `csid` (2 to 65599) to `out`.
    ///
    /// # Panics
    /// When `csid` is outside 2..=65599 or the payload is 16 MiB or longer: both are
    /// our own choices, never a peer's.
    pub fn encode(&mut self, csid: u32, msg: &Message, out: &mut BytesMut) {
        assert!((2..=65599).contains(&csid), "chunk stream id {csid}");
        let length = u32::try_from(msg.payload.len())
            .ok()
            .filter(|&l| l < 1 << 24)
            .expect("RTMP messages are shorter than 16 MiB");
        let prev = self.streams.get(&csid).copied();
        let (fmt, field) = match prev {
            Some(p)
                if p.stream_id == msg.stream_id
                    && msg.timestamp.wrapping_sub(p.timestamp) < 0x8000_0000 =>
            {
                let delta = msg.timestamp.wrapping_sub(p.timestamp);
                if p.length != length || p.type_id != msg.type_id {
                    (1, delta)
                } else if p.field != delta {
                    (2, delta)
                } else {
                    (3, delta)
                }
            }
            _ => (0, msg.timestamp),
        };
        let extended = field >= EXTENDED;
        let field24 = field.min(EXTENDED);
        put_basic_header(out, fmt, csid);
        if fmt <= 2 {
            put_u24(out, field24);
        }
        if fmt <= 1 {
            put_u24(out, length);
            out.put_u8(msg.type_id);
        }
        if fmt == 0 {
            out.put_u32_le(msg.stream_id);
        }
        if extended {
            out.put_u32(field);
        }
        let mut rest = &msg.payload[..];
        loop {
            let n = rest.len().min(self.chunk_size);
            out.put_slice(&rest[..n]);
            rest = &rest[n..];
            if rest.is_empty() {
                break;
            }
            put_basic_header(out, 3, csid);
            if extended {
                out.put_u32(field);
            }
        }
        self.streams.insert(
            csid,
            OutState {
                timestamp: msg.timestamp,
                field,
                length,
                type_id: msg.type_id,
                stream_id: msg.stream_id,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(type_id: u8, stream_id: u32, timestamp: u32, len: usize) -> Message {
        Message {
            type_id,
            stream_id,
            timestamp,
            payload: (0..len)
                .map(|i| (i * 7 + timestamp as usize) as u8)
                .collect(),
        }
    }

    fn decode_all(dec: &mut ChunkDecoder) -> Vec<(u32, Message)> {
        let mut out = Vec::new();
        while let Some(m) = dec.poll_message().unwrap() {
            out.push(m);
        }
        out
    }

    /// Messages that exercise every header form, extended timestamps and the wrap.
    fn script() -> Vec<(u32, Message)> {
        vec![
            (3, msg(20, 0, 0, 200)),
            (4, msg(8, 1, 10, 30)),
            (4, msg(8, 1, 33, 30)), // fmt 2
            (4, msg(8, 1, 56, 30)), // fmt 3, new message, same delta
            (4, msg(8, 1, 79, 40)), // fmt 1
            (6, msg(9, 1, 0x00ff_fffe, 500)),
            (6, msg(9, 1, 0x0100_0010, 300)), // fmt 2 … then extended absolute
            (7, msg(9, 1, 0x0200_0000, 300)), // fmt 0 with extended timestamp
            (7, msg(9, 1, 0x0200_0000, 300)), // fmt 3 again, zero delta
            (8, msg(9, 1, 0xffff_fff0, 100)),
            (8, msg(9, 1, 0x0000_0020, 100)), // wraps forward by 0x30
            (8, msg(9, 1, 0x0100_0020, 100)), // extended delta on fmt 2
            (8, msg(9, 1, 0x0200_0020, 100)), // …and on a fmt 3 new message
            (70, msg(9, 1, 5, 10)),           // 2-byte chunk stream id
            (400, msg(9, 1, 5, 1000)),        // 3-byte chunk stream id
            (3, msg(20, 0, 7, 0)),            // empty message
        ]
    }

    #[test]
    fn encoder_output_decodes_back_at_several_chunk_sizes() {
        for chunk_size in [1, 7, 128, 4096] {
            let mut enc = ChunkEncoder::new();
            enc.set_chunk_size(chunk_size);
            let mut out = BytesMut::new();
            for (csid, m) in script() {
                enc.encode(csid, &m, &mut out);
            }
            let mut dec = ChunkDecoder::new(ChunkLimits::default());
            dec.set_chunk_size(chunk_size as u32).unwrap();
            dec.push(&out);
            assert_eq!(decode_all(&mut dec), script(), "chunk size {chunk_size}");
            assert_eq!(dec.pending(), 0);
        }
    }

    #[test]
    fn extended_timestamps_repeat_on_continuation_chunks() {
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        enc.encode(4, &msg(9, 1, 0x0123_4567, 300), &mut out);
        // fmt 0 (1 + 11 + 4) + 128, then twice a fmt 3 byte + 4 extended bytes.
        assert_eq!(out.len(), 16 + 300 + 2 * 5);
        assert_eq!(out[16 + 128], 0xc4);
        assert_eq!(&out[16 + 129..16 + 133], &0x0123_4567u32.to_be_bytes());
    }

    /// Bytes written by hand from the spec, so a mistake shared by our encoder and
    /// decoder cannot hide.
    #[test]
    fn hand_built_extended_timestamps_and_wrap_decode() {
        let mut b = vec![0x04, 0xff, 0xff, 0xff, 0, 0, 200, 9, 1, 0, 0, 0];
        b.extend_from_slice(&0xffff_fff0u32.to_be_bytes()); // extended absolute
        b.extend_from_slice(&[1; 128]);
        b.push(0xc4); // fmt 3 continuation: repeats the extended field
        b.extend_from_slice(&0xffff_fff0u32.to_be_bytes());
        b.extend_from_slice(&[2; 72]);
        b.extend_from_slice(&[0x84, 0, 0, 0x20]); // fmt 2: delta 0x20, wraps to 0x10
        b.extend_from_slice(&[3; 128]);
        b.push(0xc4); // continuation, no extended field now
        b.extend_from_slice(&[4; 72]);
        b.push(0xc4); // fmt 3, new message: the same delta again
        b.extend_from_slice(&[5; 128]);
        b.push(0xc4);
        b.extend_from_slice(&[6; 72]);
        let mut dec = ChunkDecoder::new(ChunkLimits::default());
        dec.push(&b);
        let got: Vec<u32> = decode_all(&mut dec)
            .into_iter()
            .map(|(_, m)| {
                assert_eq!(m.payload.len(), 200);
                m.timestamp
            })
            .collect();
        assert_eq!(got, [0xffff_fff0, 0x10, 0x30]);
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn chunk_size_can_change_between_messages() {
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        let a = msg(9, 1, 0, 1000);
        enc.encode(6, &a, &mut out);
        enc.set_chunk_size(4096);
        let set = Message {
            type_id: 1,
            stream_id: 0,
            timestamp: 0,
            payload: Bytes::from_static(&[0, 0, 0x10, 0]),
        };
        enc.encode(2, &set, &mut out);
        let b = msg(9, 1, 40, 5000);
        enc.encode(6, &b, &mut out);
        let mut dec = ChunkDecoder::new(ChunkLimits::default());
        dec.push(&out);
        assert_eq!(dec.poll_message().unwrap().unwrap().1, a);
        let got = dec.poll_message().unwrap().unwrap().1;
        assert_eq!(got.type_id, 1);
        dec.set_chunk_size(u32::from_be_bytes(got.payload[..].try_into().unwrap()))
            .unwrap();
        assert_eq!(dec.poll_message().unwrap().unwrap().1, b);
    }

    #[test]
    fn abort_drops_the_unfinished_message() {
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        enc.encode(6, &msg(9, 1, 0, 300), &mut out);
        let mut dec = ChunkDecoder::new(ChunkLimits::default());
        dec.push(&out[..12 + 128]);
        assert!(dec.poll_message().unwrap().is_none());
        assert_eq!(dec.buffered, 300);
        dec.abort(6);
        assert_eq!(dec.buffered, 0);
        // A fresh fmt 0 message on the same chunk stream reads fine.
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        let m = msg(9, 1, 5, 20);
        enc.encode(6, &m, &mut out);
        dec.push(&out);
        assert_eq!(dec.poll_message().unwrap().unwrap().1, m);
    }

    #[test]
    fn limits_are_errors() {
        let limits = ChunkLimits {
            max_message_len: 1000,
            max_chunk_size: 4096,
            max_chunk_streams: 2,
            max_buffered: 1500,
        };
        // Too long.
        let mut dec = ChunkDecoder::new(limits);
        dec.push(&[0x04, 0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0]);
        assert!(matches!(
            dec.poll_message(),
            Err(RtmpError::MessageTooLong { len: 4096, .. })
        ));
        // Chunk size.
        assert!(dec.set_chunk_size(0).is_err());
        assert!(dec.set_chunk_size(0x8000_0000).is_err());
        assert!(dec.set_chunk_size(4097).is_err());
        // Two unfinished 900-byte messages would hold more than 1500 bytes.
        let mut dec = ChunkDecoder::new(limits);
        for csid in [3u8, 4] {
            dec.push(&[csid, 0, 0, 0, 0, 0x03, 0x84, 9, 1, 0, 0, 0]);
            dec.push(&[0; 128]);
        }
        assert!(matches!(
            dec.poll_message(),
            Err(RtmpError::TooMuchBuffered(1500))
        ));
        // Too many chunk streams.
        let mut dec = ChunkDecoder::new(limits);
        for csid in [3u8, 4, 5] {
            dec.push(&[csid, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 0]);
        }
        assert_eq!(decode_all_until_err(&mut dec), 2);
        // A continuation header without a first one.
        let mut dec = ChunkDecoder::new(limits);
        dec.push(&[0xc3]);
        assert!(matches!(
            dec.poll_message(),
            Err(RtmpError::NoPreviousHeader(3))
        ));
    }

    fn decode_all_until_err(dec: &mut ChunkDecoder) -> usize {
        let mut n = 0;
        loop {
            match dec.poll_message() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("wanted an error"),
                Err(RtmpError::TooManyChunkStreams(2)) => return n,
                Err(e) => panic!("{e}"),
            }
        }
    }

    proptest! {
        /// However TCP splits the bytes, the same messages come out.
        #[test]
        fn any_split_decodes_the_same(cuts in prop::collection::vec(0usize..4000, 0..30)) {
            let mut enc = ChunkEncoder::new();
            let mut out = BytesMut::new();
            for (csid, m) in script() {
                enc.encode(csid, &m, &mut out);
            }
            let mut cuts = cuts.into_iter().map(|c| c % (out.len() + 1)).collect::<Vec<_>>();
            cuts.push(0);
            cuts.push(out.len());
            cuts.sort();
            let mut dec = ChunkDecoder::new(ChunkLimits::default());
            let mut got = Vec::new();
            for w in cuts.windows(2) {
                dec.push(&out[w[0]..w[1]]);
                got.extend(decode_all(&mut dec));
            }
            prop_assert_eq!(got, script());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            let mut dec = ChunkDecoder::new(ChunkLimits::default());
            dec.push(&bytes);
            while let Ok(Some(_)) = dec.poll_message() {}
        }
    }
}

//! The RTMP chunk stream after the handshake: `rtmp::ChunkDecoder`, fed in pieces, with
//! Set Chunk Size and Abort applied as the session does.

#![no_main]

use bytes::BytesMut;
use lectern_relay::rtmp::{ChunkDecoder, ChunkEncoder, ChunkLimits, Message};
use libfuzzer_sys::fuzz_target;

const LIMITS: ChunkLimits = ChunkLimits {
    max_message_len: 64 * 1024,
    max_chunk_size: 16 * 1024,
    max_chunk_streams: 16,
    max_buffered: 128 * 1024,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the rest is split into reads.
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1) * 7;
    let mut dec = ChunkDecoder::new(LIMITS);
    let mut got: Vec<(u32, Message)> = Vec::new();
    'feed: for piece in data.chunks(step) {
        dec.push(piece);
        loop {
            match dec.poll_message() {
                Ok(Some((csid, m))) => {
                    assert!(m.payload.len() <= LIMITS.max_message_len);
                    assert!((2..=65599).contains(&csid));
                    let arg = m
                        .payload
                        .get(..4)
                        .map(|b| u32::from_be_bytes(b.try_into().unwrap()));
                    match (m.type_id, arg) {
                        (1, Some(size)) => {
                            if dec.set_chunk_size(size).is_err() {
                                break 'feed;
                            }
                            assert_eq!(dec.chunk_size(), size as usize);
                        }
                        (2, Some(csid)) => dec.abort(csid),
                        _ => {}
                    }
                    got.push((csid, m));
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    // Whatever was decoded survives our encoder and decoder unchanged.
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(97);
    let mut out = BytesMut::new();
    for (csid, m) in &got {
        enc.encode(*csid, m, &mut out);
    }
    let mut back = ChunkDecoder::new(ChunkLimits {
        max_chunk_streams: 70_000,
        ..LIMITS
    });
    back.set_chunk_size(97).unwrap();
    back.push(&out);
    for (csid, m) in &got {
        let (c, again) = back.poll_message().unwrap().unwrap();
        assert_eq!((c, &again), (*csid, m));
    }
    assert_eq!(back.pending(), 0);
});

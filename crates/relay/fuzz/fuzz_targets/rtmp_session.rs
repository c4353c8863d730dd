//! A whole RTMP server session after a valid handshake: `rtmp::ServerSession` with the
//! shell's decisions driven by the input, on a fake clock.
//!
//! Input: the chunk stream a client would send after C2. The first byte's bits decide
//! how the shell answers publishes and plays (accept or which rejection), the read size,
//! and whether a player is sent a few tags.

#![no_main]

use bytes::Bytes;
use lectern_relay::flv::{Tag, TagKind};
use lectern_relay::rtmp::{
    ChunkDecoder, ChunkLimits, Event, Output, Rejection, ServerSession, SessionConfig,
};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

struct Shell {
    control: u8,
    written: Vec<u8>,
    closed: bool,
}

impl Shell {
    /// Drains the session as the tokio shell would; `Err` when the session failed.
    fn drain(&mut self, s: &mut ServerSession, now: Instant, decide: bool) -> Result<(), ()> {
        while let Some(out) = s.poll_output() {
            match out {
                Output::Transmit(b) => {
                    assert!(!self.closed, "nothing after Close");
                    self.written.extend_from_slice(&b);
                }
                Output::Close => self.closed = true,
                Output::Event(Event::Publish(r)) | Output::Event(Event::Play(r)) => {
                    assert!(!r.room.is_empty() && r.room.len() <= 64);
                    assert!(!r.stream.is_empty() && r.stream.len() <= 64);
                    if !decide {
                        continue;
                    }
                    match self.control & 3 {
                        0 | 1 => {
                            let accepted = if s.accept_publish(now).is_ok() {
                                Ok(())
                            } else {
                                s.accept_play(now)
                            };
                            accepted.map_err(|_| ())?;
                        }
                        2 => s.reject(Rejection::Unauthorized),
                        _ => s.reject(Rejection::BadName),
                    }
                    if s.is_playing() && self.control & 4 != 0 {
                        for (i, kind) in [TagKind::Script, TagKind::Video, TagKind::Audio]
                            .into_iter()
                            .enumerate()
                        {
                            s.send_media(&Tag {
                                kind,
                                timestamp: i as u32 * 0x7fff_ffff,
                                data: Bytes::from(vec![0x17; 300 * i]),
                            });
                        }
                    }
                }
                Output::Event(_) => {}
            }
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let start = Instant::now();
    let mut now = start;
    let mut s = ServerSession::new(SessionConfig::default(), now, [7; 1528]);
    let mut hs = vec![3u8];
    hs.extend([1u8; 1536]);
    hs.extend([2u8; 1536]);
    s.handle_input(now, &hs).expect("a valid handshake");
    let mut shell = Shell {
        control,
        written: Vec::new(),
        closed: false,
    };
    shell.drain(&mut s, now, true).unwrap();

    let step = usize::from(control >> 4).max(1) * 97;
    for piece in data.chunks(step) {
        now += Duration::from_millis(10);
        if s.handle_input(now, piece).is_err() || shell.drain(&mut s, now, true).is_err() {
            break;
        }
        if let Some(t) = s.poll_timeout() {
            assert!(t >= start);
        }
    }
    let _ = s.handle_timeout(now + Duration::from_secs(60));
    // Whatever was queued before an error still goes out (the shell writes it).
    let _ = shell.drain(&mut s, now, false);

    // What the server wrote is S0+S1+S2 and then a complete, valid chunk stream.
    assert!(shell.written.len() >= 1 + 2 * 1536);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    dec.push(&shell.written[1 + 2 * 1536..]);
    loop {
        match dec.poll_message() {
            Ok(Some((_, m))) => {
                if m.type_id == 1 {
                    let size = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
                    dec.set_chunk_size(size).unwrap();
                }
            }
            Ok(None) => break,
            Err(e) => panic!("the server wrote a broken chunk stream: {e}"),
        }
    }
    assert_eq!(dec.pending(), 0, "the server wrote a partial chunk");
});

//! The server side of the simple RTMP handshake: C0+C1 in, S0+S1+S2 out, C2 in.
//!
//! We answer with a zero version field in S1, which tells Flash-style clients (ffmpeg,
//! OBS, WeChat's `live-pusher`) that this server does not do the digest ("complex")
//! handshake, so they skip verifying one. C2 is read and not checked: several clients
//! echo S1 sloppily, and the handshake authenticates nothing anyway.

use bytes::{BufMut, Bytes, BytesMut};

use super::RtmpError;

/// The only RTMP version: 3 (plain). 6 would be RTMPE, which we do not speak.
pub const RTMP_VERSION: u8 = 3;
/// Size of C1, C2, S1 and S2.
pub const HANDSHAKE_SIZE: usize = 1536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for C0 and C1.
    C0C1,
    /// S0+S1+S2 sent; waiting for C2.
    C2,
    Done,
}

/// The handshake state machine. Feed it bytes; it says how many it used.
#[derive(Debug)]
pub struct Handshake {
    stage: Stage,
    buf: BytesMut,
    random: [u8; HANDSHAKE_SIZE - 8],
}

impl Handshake {
    /// A handshake whose S1 carries `random` as its random bytes.
    pub fn new(random: [u8; HANDSHAKE_SIZE - 8]) -> Self {
        Self {
            stage: Stage::C0C1,
            buf: BytesMut::with_capacity(1 + HANDSHAKE_SIZE),
            random,
        }
    }

    /// True once C2 has been read: what follows is chunk stream.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Consumes handshake bytes from the front of `input`; returns how many were used
    /// and the reply to send, if one is due.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<(usize, Option<Bytes>), RtmpError> {
        let mut used = 0;
        let mut reply = None;
        loop {
            let rest = &input[used..];
            match self.stage {
                Stage::Done => break,
                Stage::C0C1 => {
                    // The version byte is checked as soon as it arrives: a garbage peer
                    // (an HTTP request on port 1935) is told off at once.
                    if let Some(&v) = self.buf.first().or(rest.first())
                        && v != RTMP_VERSION
                    {
                        return Err(RtmpError::BadVersion(v));
                    }
                    let want = 1 + HANDSHAKE_SIZE - self.buf.len();
                    let n = want.min(rest.len());
                    self.buf.extend_from_slice(&rest[..n]);
                    used += n;
                    if self.buf.len() < 1 + HANDSHAKE_SIZE {
                        break;
                    }
                    let c1 = &self.buf[1..];
                    let mut out = BytesMut::with_capacity(1 + 2 * HANDSHAKE_SIZE);
                    out.put_u8(RTMP_VERSION);
                    // S1: time 0, version 0 (no digest), random.
                    out.put_u32(0);
                    out.put_u32(0);
                    out.put_slice(&self.random);
                    // S2: C1 echoed (time, time2 = our read time: 0, random).
                    out.put_slice(&c1[..4]);
                    out.put_u32(0);
                    out.put_slice(&c1[8..]);
                    reply = Some(out.freeze());
                    self.buf.clear();
                    self.stage = Stage::C2;
                }
                Stage::C2 => {
                    let want = HANDSHAKE_SIZE - self.buf.len();
                    let n = want.min(rest.len());
                    self.buf.extend_from_slice(&rest[..n]);
                    used += n;
                    if self.buf.len() < HANDSHAKE_SIZE {
                        break;
                    }
                    self.buf = BytesMut::new();
                    self.stage = Stage::Done;
                }
            }
        }
        Ok((used, reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_c1_and_finishes_on_c2_across_splits() {
        let mut c = vec![RTMP_VERSION];
        c.extend((0..HANDSHAKE_SIZE).map(|i| i as u8));
        c.extend(vec![7u8; HANDSHAKE_SIZE]);
        c.extend_from_slice(b"chunks");
        for split in [1, 2, 100, 1537, 1538, 3000, c.len()] {
            let mut hs = Handshake::new([9; HANDSHAKE_SIZE - 8]);
            let (a, reply_a) = hs.handle_input(&c[..split]).unwrap();
            let (b, reply_b) = hs.handle_input(&c[a..]).unwrap();
            assert!(hs.is_done());
            assert_eq!(a + b, c.len() - 6, "split at {split}");
            let reply = reply_a.or(reply_b).unwrap();
            assert_eq!(reply.len(), 1 + 2 * HANDSHAKE_SIZE);
            assert_eq!(reply[0], 3);
            // S2 echoes C1's random part.
            assert_eq!(&reply[1 + HANDSHAKE_SIZE + 8..], &c[9..1 + HANDSHAKE_SIZE]);
        }
    }

    #[test]
    fn refuses_a_wrong_version_at_once() {
        let mut hs = Handshake::new([0; HANDSHAKE_SIZE - 8]);
        assert!(matches!(
            hs.handle_input(b"GET / HTTP/1.1\r\n"),
            Err(RtmpError::BadVersion(b'G'))
        ));
        let mut hs = Handshake::new([0; HANDSHAKE_SIZE - 8]);
        assert!(matches!(
            hs.handle_input(&[6]),
            Err(RtmpError::BadVersion(6))
        ));
    }
}

//! Helpers the RTMP test files share. Each file uses some of them.
#![allow(dead_code)]

pub mod client;

use bytes::BytesMut;
use lectern_relay::rtmp::{self, Amf0Value, ChunkEncoder, Message};
use std::process::{Command, Stdio};

/// Whether ffmpeg and ffprobe can run; says so when not (the test then returns).
pub fn have_ffmpeg() -> bool {
    let ok = |bin: &str| {
        Command::new(bin)
            .arg("-version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok("ffmpeg") && ok("ffprobe") {
        true
    } else {
        eprintln!("SKIPPED: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
        false
    }
}

/// An AMF0 command message (type 20) on chunk stream 3, encoded.
pub fn command(enc: &mut ChunkEncoder, stream_id: u32, values: &[Amf0Value]) -> Vec<u8> {
    let mut out = BytesMut::new();
    enc.encode(
        3,
        &Message {
            type_id: 20,
            stream_id,
            timestamp: 0,
            payload: rtmp::amf0::encode_all(values).unwrap().freeze(),
        },
        &mut out,
    );
    out.to_vec()
}

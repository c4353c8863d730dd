//! RTP payloads of H.264 video (RFC 6184): the keyframe detector that decides when a
//! subscriber can start watching.

#![no_main]

use lectern_relay::sfu::h264::starts_keyframe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keyframe = starts_keyframe(data);
    if keyframe {
        assert!(!data.is_empty());
        // Only single NAL units (IDR 5, SPS 7), STAP-A (24) and FU-A (28) carry one.
        assert!(matches!(data[0] & 0x1f, 5 | 7 | 24 | 28));
    }
    // The F and NRI bits never matter, only the type.
    if let Some((&first, rest)) = data.split_first() {
        let mut other = Vec::with_capacity(data.len());
        other.push(first ^ 0xe0);
        other.extend_from_slice(rest);
        assert_eq!(starts_keyframe(&other), keyframe);
    }
});

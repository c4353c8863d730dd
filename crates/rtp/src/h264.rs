//! H.264 RTP payload inspection (RFC 6184), without depacketizing: does this packet
//! start a keyframe?

/// NAL unit types (ITU-T H.264 table 7-1) and RTP payload types (RFC 6184) the relay
/// handles; shared by the keyframe detector, the depacketizer and the packetizer.
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;
pub const STAP_A: u8 = 24;
pub const FU_A: u8 = 28;

/// True when the RTP payload carries the start of an IDR picture or a sequence
/// parameter set (which encoders send right before one). Malformed payloads are
/// simply not keyframes.
pub fn starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        NAL_IDR | NAL_SPS => true,
        STAP_A => {
            // 2-byte size, then a NAL unit, repeated.
            let mut rest = &payload[1..];
            while rest.len() >= 3 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let Some(nal) = rest.get(2..2 + size) else {
                    return false;
                };
                if nal
                    .first()
                    .is_some_and(|h| matches!(h & 0x1f, NAL_IDR | NAL_SPS))
                {
                    return true;
                }
                rest = &rest[2 + size..];
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && fu & 0x1f == NAL_IDR),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keyframe_starts_in_every_packetization() {
        assert!(starts_keyframe(&[0x65, 1, 2])); // single IDR
        assert!(starts_keyframe(&[0x67, 0x42])); // single SPS
        assert!(starts_keyframe(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68])); // STAP-A SPS+PPS
        assert!(starts_keyframe(&[0x7c, 0x85, 9])); // FU-A start of IDR
    }

    #[test]
    fn delta_frames_continuations_and_garbage_are_not_keyframes() {
        assert!(!starts_keyframe(&[0x41, 1])); // non-IDR slice
        assert!(!starts_keyframe(&[0x7c, 0x05, 9])); // FU-A middle of IDR
        assert!(!starts_keyframe(&[0x7c, 0x81])); // FU-A start of non-IDR
        assert!(!starts_keyframe(&[0x78, 0, 9, 0x67])); // STAP-A with a lying size
        assert!(!starts_keyframe(&[]));
        assert!(!starts_keyframe(&[0x78]));
    }
}

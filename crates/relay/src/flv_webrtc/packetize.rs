//! H.264 access units (AVCC, from FLV) into RTP payloads (RFC 6184, packetization mode
//! 1): a NAL unit that fits goes alone, a bigger one is split into FU-A fragments, and
//! every IDR is preceded by its SPS and PPS in one STAP-A, so a viewer can start at any
//! keyframe whatever the pusher sent in band.

use bytes::{BufMut, Bytes, BytesMut};

/// Largest RTP payload: 1200 bytes keeps a packet with SRTP, headers and extensions
/// under every path MTU in practice.
pub const MAX_PAYLOAD: usize = 1200;

use crate::sfu::h264::{FU_A, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, STAP_A};

/// The RTP payloads of one access unit, in order; the last one carries the marker.
pub fn packetize(nalus: &[&[u8]], sps: &[u8], pps: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let keyframe = nalus
        .iter()
        .any(|n| n.first().is_some_and(|h| h & 0x1f == NAL_IDR));
    if keyframe
        && !sps.is_empty()
        && !pps.is_empty()
        && 3 + 2 + sps.len() + 2 + pps.len() <= MAX_PAYLOAD
    {
        let mut stap = BytesMut::with_capacity(5 + sps.len() + pps.len());
        // F = 0, NRI = the highest of the two, type 24.
        stap.put_u8((sps[0] | pps[0]) & 0x60 | STAP_A);
        for n in [sps, pps] {
            stap.put_u16(n.len() as u16);
            stap.put_slice(n);
        }
        out.push(stap.freeze());
    }
    for nal in nalus {
        let Some(&header) = nal.first() else { continue };
        // In-band parameter sets were sent above (keyframes), and delimiters are useless.
        if matches!(header & 0x1f, NAL_SPS | NAL_PPS | NAL_AUD) && keyframe {
            continue;
        }
        if header & 0x1f == NAL_AUD {
            continue;
        }
        if nal.len() <= MAX_PAYLOAD {
            out.push(Bytes::copy_from_slice(nal));
            continue;
        }
        let body = &nal[1..];
        let chunk = MAX_PAYLOAD - 2;
        let parts = body.len().div_ceil(chunk);
        for (i, part) in body.chunks(chunk).enumerate() {
            let mut p = BytesMut::with_capacity(2 + part.len());
            p.put_u8(header & 0xe0 | FU_A);
            let mut fu = header & 0x1f;
            if i == 0 {
                fu |= 0x80;
            }
            if i + 1 == parts {
                fu |= 0x40;
            }
            p.put_u8(fu);
            p.put_slice(part);
            out.push(p.freeze());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc_flv::{Depacketized, H264Depacketizer};
    use std::time::Instant;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    #[test]
    fn keyframes_start_with_parameter_sets_and_big_units_are_fragmented() {
        let idr: Vec<u8> = std::iter::once(0x65)
            .chain((0..5000).map(|i| i as u8))
            .collect();
        let aud = [0x09, 0xf0];
        let payloads = packetize(&[&aud, SPS, PPS, &idr], SPS, PPS);
        assert_eq!(payloads[0][0] & 0x1f, STAP_A);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        assert_eq!(payloads.len(), 1 + 5000usize.div_ceil(MAX_PAYLOAD - 2));
        // Our own depacketizer gets the same units back.
        let mut d = H264Depacketizer::new();
        let n = payloads.len();
        for (i, p) in payloads.into_iter().enumerate() {
            d.push(Instant::now(), i as u16, 90_000, i + 1 == n, p);
        }
        let Some(Depacketized::Frame(au)) = d.poll() else {
            panic!("no frame")
        };
        let got: Vec<&[u8]> = au.nalus.iter().map(|n| &n[..]).collect();
        assert_eq!(got, vec![SPS, PPS, &idr[..]]);
    }

    #[test]
    fn delta_frames_go_as_they_are() {
        let p = [0x41, 1, 2, 3];
        assert_eq!(packetize(&[&p], SPS, PPS), vec![Bytes::copy_from_slice(&p)]);
    }
}

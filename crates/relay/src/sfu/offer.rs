//! A first look at an SDP offer before it reaches the WebRTC stack: size, shape, and
//! whether it has anything the relay can forward.

/// Largest SDP body accepted, in bytes (a browser offer is 3–8 KiB).
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// What an offer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OfferSummary {
    /// An audio section offering Opus.
    pub opus: bool,
    /// A video section offering H.264 with packetization-mode 1.
    pub h264: bool,
    /// Audio sections in all.
    pub audio_sections: usize,
    /// Video sections in all.
    pub video_sections: usize,
}

/// Why an offer was refused before negotiation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// Over [`MAX_SDP_BYTES`].
    #[error("the offer is larger than 64 KiB")]
    TooLarge,
    /// Not SDP: no `v=0` first line, or no media sections.
    #[error("the body is not an SDP offer: {0}")]
    NotSdp(&'static str),
    /// Neither H.264 (packetization-mode 1) nor Opus is offered.
    #[error("the offer has no H.264 (packetization-mode=1) and no Opus")]
    NoUsableCodec,
}

/// Reads the media sections of `sdp`. Tolerates `\n` or `\r\n` line ends.
pub fn summarize(sdp: &str) -> Result<OfferSummary, OfferError> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(OfferError::TooLarge);
    }
    let mut lines = sdp.lines().map(|l| l.trim_end_matches('\r'));
    if lines.next().map(str::trim) != Some("v=0") {
        return Err(OfferError::NotSdp("it does not start with v=0"));
    }
    let mut summary = OfferSummary::default();
    // Per section: kind, payload types that are H.264 / Opus, and the fmtp lines.
    let mut kind: Option<&str> = None;
    let mut h264_pts: Vec<&str> = Vec::new();
    let mut section_h264_ok = false;
    let mut sections = 0;
    let finish = |kind: Option<&str>, ok: bool, s: &mut OfferSummary| {
        if kind == Some("video") && ok {
            s.h264 = true;
        }
    };
    for line in lines {
        if let Some(m) = line.strip_prefix("m=") {
            finish(kind, section_h264_ok, &mut summary);
            sections += 1;
            let media = m.split(' ').next().unwrap_or("");
            kind = Some(media);
            h264_pts.clear();
            section_h264_ok = false;
            match media {
                "audio" => summary.audio_sections += 1,
                "video" => summary.video_sections += 1,
                _ => {}
            }
        } else if let Some(rtpmap) = line.strip_prefix("a=rtpmap:") {
            let Some((pt, codec)) = rtpmap.split_once(' ') else {
                continue;
            };
            let name = codec.split('/').next().unwrap_or("");
            if kind == Some("audio") && name.eq_ignore_ascii_case("opus") {
                summary.opus = true;
            }
            if kind == Some("video") && name.eq_ignore_ascii_case("H264") {
                h264_pts.push(pt);
            }
        } else if let Some(fmtp) = line.strip_prefix("a=fmtp:") {
            let Some((pt, params)) = fmtp.split_once(' ') else {
                continue;
            };
            if h264_pts.contains(&pt)
                && params
                    .split(';')
                    .any(|p| p.trim().eq_ignore_ascii_case("packetization-mode=1"))
            {
                section_h264_ok = true;
            }
        }
    }
    finish(kind, section_h264_ok, &mut summary);
    if sections == 0 {
        return Err(OfferError::NotSdp("it has no media sections"));
    }
    if !summary.h264 && !summary.opus {
        return Err(OfferError::NoUsableCodec);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 108 109\r\na=rtpmap:96 VP8/90000\r\n\
        a=rtpmap:108 H264/90000\r\na=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n";

    #[test]
    fn reads_what_a_browser_offers() {
        let s = summarize(CHROMIUM_LIKE).unwrap();
        assert!(s.opus && s.h264);
        assert_eq!((s.audio_sections, s.video_sections), (1, 1));
    }

    #[test]
    fn refuses_offers_it_cannot_forward() {
        let vp8_only = "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=rtpmap:96 VP8/90000\n";
        assert_eq!(summarize(vp8_only), Err(OfferError::NoUsableCodec));
        let mode0 = "v=0\nm=video 9 X 97\na=rtpmap:97 H264/90000\na=fmtp:97 packetization-mode=0\n";
        assert_eq!(summarize(mode0), Err(OfferError::NoUsableCodec));
        assert!(matches!(summarize("hello"), Err(OfferError::NotSdp(_))));
        assert!(matches!(
            summarize("v=0\r\ns=-\r\n"),
            Err(OfferError::NotSdp(_))
        ));
        assert_eq!(
            summarize(&"v=0\n".repeat(20_000)),
            Err(OfferError::TooLarge)
        );
    }
}

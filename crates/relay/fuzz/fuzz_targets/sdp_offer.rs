//! SDP offers as they arrive in a WHIP or WHEP body: the relay's own first look
//! (`offer::summarize`), then the `rtc` crate's SDP parser the offer is handed to.

#![no_main]

use lectern_relay::sfu::offer::{MAX_SDP_BYTES, OfferError, summarize};
use libfuzzer_sys::fuzz_target;
use rtc::peer_connection::sdp::RTCSessionDescription;

fuzz_target!(|data: &[u8]| {
    // The HTTP layer refuses bodies that are not UTF-8 before anything parses them.
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    match summarize(sdp) {
        Ok(summary) => {
            assert!(summary.h264 || summary.opus);
            assert!(!summary.h264 || summary.video_sections > 0);
            assert!(!summary.opus || summary.audio_sections > 0);
        }
        Err(OfferError::TooLarge) => assert!(sdp.len() > MAX_SDP_BYTES),
        Err(_) => {}
    }
    // The relay only hands over what `summarize` accepted, but rtc must not panic on
    // anything: feed it every input.
    let _ = RTCSessionDescription::offer(sdp.to_owned());
});

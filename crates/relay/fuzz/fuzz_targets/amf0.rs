//! AMF0 bodies of RTMP commands and FLV script tags: `rtmp::amf0::decode_all`.

#![no_main]

use lectern_relay::rtmp::amf0::{Amf0Limits, decode_all, encode_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Amf0Limits::default();
    let Ok(values) = decode_all(data, limits) else {
        return;
    };
    assert!(values.len() <= limits.max_values);
    // What decodes re-encodes, and the encoding is stable: decode(encode(v)) encodes
    // to the same bytes (NaN payloads and long/short string forms included).
    let once = encode_all(&values).expect("decoded values encode");
    let again = decode_all(
        &once,
        Amf0Limits {
            max_bytes: usize::MAX,
            ..limits
        },
    )
    .expect("our own encoding decodes");
    assert_eq!(encode_all(&again).unwrap(), once);
});

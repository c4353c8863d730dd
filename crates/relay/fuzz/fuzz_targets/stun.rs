//! Raw UDP datagrams on the shared media port: the STUN demultiplexer that routes a
//! binding request to its session by ICE ufrag.

#![no_main]

use lectern_relay::sfu::stun::{binding_request_ufrag, is_stun};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let stun = is_stun(data);
    if let Some(ufrag) = binding_request_ufrag(data) {
        assert!(stun, "a ufrag from a datagram that is not STUN");
        assert!(!ufrag.is_empty());
        assert!(!ufrag.contains(':'), "the ufrag runs past the colon");
        // RFC 8489 caps USERNAME at 513 bytes; the ufrag is a part of it.
        assert!(ufrag.len() < 513);
        // It is a slice of the datagram's attribute area, not a copy.
        let start = ufrag.as_ptr() as usize - data.as_ptr() as usize;
        assert!(start >= 20 + 4 && start + ufrag.len() <= data.len());
        assert_eq!(u16::from_be_bytes([data[0], data[1]]), 0x0001);
    }
});

//! Access tokens as they arrive in an `Authorization` header or a `?token=` query.
//!
//! Two paths per input: the bytes as a whole token (what an attacker controls), and the
//! bytes as a claims body signed with the fuzz secret, so the JSON and expiry checks
//! behind the MAC are reached too.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use lectern_proto::{MAX_NAME_CHARS, RoomId};
use lectern_relay::{AuthError, MAX_TOKEN_LEN, TokenSigner};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// The secret the seed tokens in `corpus/token/` are signed with.
const SECRET: &[u8] = b"lectern-fuzz-secret-0123456789abcdef";
/// "Now" for expiry checks; the seeds expire long after it.
const NOW: u64 = 1_700_000_000;

fn check(signer: &TokenSigner, room: &RoomId, token: &str) {
    match signer.verify(token, NOW) {
        Ok(claims) => {
            assert!(token.len() <= MAX_TOKEN_LEN);
            assert!(claims.exp > NOW, "an expired token verified");
            assert!(claims.name.chars().count() <= MAX_NAME_CHARS);
            // What verifies must survive a round trip through our own signer.
            let again = signer.sign(&claims);
            assert_eq!(signer.verify(&again, NOW).as_ref(), Ok(&claims));
            match signer.access(token, room, NOW) {
                Ok(access) => assert_eq!(access.claims(), &claims),
                Err(AuthError::WrongRoom(r)) => assert_eq!(r, claims.room),
                Err(e) => panic!("verify passed but access failed: {e:?}"),
            }
        }
        Err(AuthError::Missing) => assert!(token.is_empty()),
        Err(_) => assert!(signer.access(token, room, NOW).is_err()),
    }
}

fuzz_target!(|data: &[u8]| {
    let signer = TokenSigner::new(SECRET);
    let room = RoomId::new("math").expect("a valid room id");
    // Headers and query strings reach the relay as UTF-8 only.
    if let Ok(text) = std::str::from_utf8(data) {
        check(&signer, &room, text);
    }

    // The same bytes as a claims body, signed the way `TokenSigner::sign` does (the
    // format is in docs/protocol.md), so the checks behind the MAC see arbitrary JSON.
    let signed = format!("lt1.{}", B64.encode(data));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("HMAC takes any key length");
    mac.update(signed.as_bytes());
    let tag = B64.encode(mac.finalize().into_bytes());
    check(&signer, &room, &format!("{signed}.{tag}"));
});

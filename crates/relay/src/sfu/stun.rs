//! Just enough STUN (RFC 8489) to route a datagram on the shared port: is it a binding
//! request, and whose ICE username does it carry.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;
/// RFC 8489 caps USERNAME at 513 bytes.
const MAX_USERNAME: usize = 513;

/// Whether `datagram` looks like STUN (RFC 7983 demultiplexing: first byte 0–3, and
/// the magic cookie).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] < 4 && datagram[4..8] == MAGIC_COOKIE
}

/// The local (relay-side) ICE ufrag of a binding request: the part of USERNAME before
/// the colon. `None` for anything else, including malformed messages.
pub fn binding_request_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let msg_type = u16::from_be_bytes([datagram[0], datagram[1]]);
    if msg_type != BINDING_REQUEST {
        return None;
    }
    let body_len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    let body = datagram.get(HEADER_LEN..HEADER_LEN.checked_add(body_len)?)?;
    let mut rest = body;
    while rest.len() >= 4 {
        let typ = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest.get(4..4 + len)?;
        if typ == ATTR_USERNAME {
            if len > MAX_USERNAME {
                return None;
            }
            let username = std::str::from_utf8(value).ok()?;
            let (local, _remote) = username.split_once(':')?;
            return (!local.is_empty()).then_some(local);
        }
        // Attributes are padded to 4 bytes.
        let padded = (4 + len).div_ceil(4) * 4;
        rest = rest.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(username: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&0x0024u16.to_be_bytes()); // PRIORITY first
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[0, 0, 0, 1]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut msg = Vec::new();
        msg.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attrs);
        msg
    }

    #[test]
    fn finds_the_relay_side_ufrag() {
        assert_eq!(
            binding_request_ufrag(&binding(b"relayAB:browser9")),
            Some("relayAB")
        );
    }

    #[test]
    fn refuses_what_is_not_a_well_formed_binding_request() {
        let good = binding(b"relayAB:browser9");
        assert_eq!(binding_request_ufrag(&good[..good.len() - 3]), None);
        assert_eq!(binding_request_ufrag(&binding(b"nocolon")), None);
        assert_eq!(binding_request_ufrag(&binding(b":x")), None);
        assert_eq!(binding_request_ufrag(&binding(&[0xff, b':', b'a'])), None);
        let mut response = good.clone();
        response[1] = 0x01; // 0x0101 success response
        response[0] = 0x01;
        assert_eq!(binding_request_ufrag(&response), None);
        assert_eq!(binding_request_ufrag(&[0x80, 0x60, 0, 0]), None); // RTP
        assert!(!is_stun(&[22, 254, 253])); // DTLS
    }
}

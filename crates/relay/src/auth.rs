//! Access tokens: `lt1.<claims>.<mac>`, HMAC-SHA256 over the first two parts with the
//! relay's secret. See `docs/protocol.md`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use lectern_proto::{ErrorCode, Grants, MAX_NAME_CHARS, PeerId, Role, RoomId, TokenClaims};
use sha2::Sha256;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "lt1";
/// Longest token we look at; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented.
    #[error("a token is required")]
    Missing,
    /// The token is not in our format, or its signature does not match.
    #[error("the token is not valid for this relay")]
    Invalid,
    /// The token's expiry has passed.
    #[error("the token expired")]
    Expired,
    /// The token opens another room.
    #[error("the token is for room {0}")]
    WrongRoom(RoomId),
    /// The token lacks what this request needs.
    #[error("the token does not allow this: {0}")]
    Forbidden(&'static str),
}

impl AuthError {
    /// The stable code for the `{code, message}` error body.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Missing | Self::Invalid => ErrorCode::Unauthorized,
            Self::Expired => ErrorCode::TokenExpired,
            Self::WrongRoom(_) => ErrorCode::WrongRoom,
            Self::Forbidden(_) => ErrorCode::Forbidden,
        }
    }
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner { secret: <redacted> }")
    }
}

/// Seconds since the Unix epoch, as tokens count time.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenSigner {
    /// A signer for `secret`, which should be at least 32 random bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    /// A signer with a fresh random secret (the embedded relay: tokens only live as
    /// long as the app).
    pub fn random() -> Self {
        let mut secret = vec![0u8; 32];
        rand::fill(&mut secret[..]);
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    /// Signs `claims` into a token string.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let body = serde_json::to_vec(claims).expect("claims always serialize");
        let signed = format!("{PREFIX}.{}", B64.encode(body));
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{signed}.{}", B64.encode(tag))
    }

    /// Issues a token for `name` in `room` with `role`'s default grants, valid for `ttl`.
    pub fn issue(
        &self,
        room: RoomId,
        sub: PeerId,
        name: &str,
        role: Role,
        ttl: Duration,
    ) -> String {
        self.sign(&TokenClaims {
            room,
            sub,
            name: name.chars().take(MAX_NAME_CHARS).collect(),
            role,
            grants: role.default_grants(),
            exp: unix_now().saturating_add(ttl.as_secs()),
        })
    }

    /// Checks signature and expiry (at `now`, seconds since the epoch) and returns the
    /// claims. Does not look at the room: see [`Access::for_room`].
    pub fn verify(&self, token: &str, now: u64) -> Result<TokenClaims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Invalid);
        }
        let (signed, tag) = token.rsplit_once('.').ok_or(AuthError::Invalid)?;
        let (prefix, body) = signed.split_once('.').ok_or(AuthError::Invalid)?;
        if prefix != PREFIX {
            return Err(AuthError::Invalid);
        }
        let tag = B64.decode(tag).map_err(|_| AuthError::Invalid)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&tag).map_err(|_| AuthError::Invalid)?;
        let body = B64.decode(body).map_err(|_| AuthError::Invalid)?;
        let claims: TokenClaims = serde_json::from_slice(&body).map_err(|_| AuthError::Invalid)?;
        if claims.name.chars().count() > MAX_NAME_CHARS {
            return Err(AuthError::Invalid);
        }
        if claims.exp <= now {
            return Err(AuthError::Expired);
        }
        Ok(claims)
    }

    /// Checks a token for one room and returns what it allows there.
    pub fn access(&self, token: &str, room: &RoomId, now: u64) -> Result<Access, AuthError> {
        let claims = self.verify(token, now)?;
        if &claims.room != room {
            return Err(AuthError::WrongRoom(claims.room));
        }
        Ok(Access { claims })
    }
}

/// A checked token for the room it was presented in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    claims: TokenClaims,
}

impl Access {
    /// The checked claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }
    /// The bearer's id.
    pub fn peer(&self) -> &PeerId {
        &self.claims.sub
    }
    /// The bearer's role.
    pub fn role(&self) -> Role {
        self.claims.role
    }
    /// The bearer's grants.
    pub fn grants(&self) -> Grants {
        self.claims.grants
    }
    /// Fails unless the token may watch.
    pub fn require_subscribe(&self) -> Result<(), AuthError> {
        if self.claims.grants.subscribe {
            Ok(())
        } else {
            Err(AuthError::Forbidden("subscribe"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(room: &str, role: Role, exp: u64) -> TokenClaims {
        TokenClaims {
            room: RoomId::new(room).unwrap(),
            sub: PeerId::new("p1").unwrap(),
            name: "Li Hua".into(),
            role,
            grants: role.default_grants(),
            exp,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips() {
        let signer = TokenSigner::new(b"k".repeat(32));
        let c = claims("math", Role::Student, 2000);
        let token = signer.sign(&c);
        assert!(token.starts_with("lt1."));
        assert_eq!(signer.verify(&token, 1999).unwrap(), c);
        let access = signer
            .access(&token, &RoomId::new("math").unwrap(), 1000)
            .unwrap();
        assert_eq!(access.role(), Role::Student);
        assert!(access.require_subscribe().is_ok());
    }

    #[test]
    fn expired_wrong_room_missing_and_foreign_tokens_are_refused() {
        let signer = TokenSigner::new(b"k".repeat(32));
        let token = signer.sign(&claims("math", Role::Student, 2000));
        assert_eq!(signer.verify(&token, 2000), Err(AuthError::Expired));
        assert_eq!(
            signer.access(&token, &RoomId::new("art").unwrap(), 1000),
            Err(AuthError::WrongRoom(RoomId::new("math").unwrap()))
        );
        assert_eq!(signer.verify("", 0), Err(AuthError::Missing));
        let other = TokenSigner::new(b"x".repeat(32));
        assert_eq!(other.verify(&token, 1000), Err(AuthError::Invalid));
        assert_eq!(AuthError::Expired.code(), ErrorCode::TokenExpired);
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let signer = TokenSigner::new(b"k".repeat(32));
        let token = signer.sign(&claims("math", Role::Student, 2000));
        // Re-sign the body as a teacher without the key: the tag no longer matches.
        let forged_body =
            B64.encode(serde_json::to_vec(&claims("math", Role::Teacher, 2000)).unwrap());
        let tag = token.rsplit_once('.').unwrap().1;
        let forged = format!("lt1.{forged_body}.{tag}");
        assert_eq!(signer.verify(&forged, 1000), Err(AuthError::Invalid));
        for garbage in [
            "lt1",
            "lt1..",
            "lt2.e30.AAAA",
            "lt1.%%%.###",
            &"a".repeat(5000),
        ] {
            assert_eq!(
                signer.verify(garbage, 1000),
                Err(AuthError::Invalid),
                "{garbage}"
            );
        }
    }

    #[test]
    fn observers_cannot_subscribe_only_if_their_grant_says_so() {
        let signer = TokenSigner::new(b"k".repeat(32));
        let mut c = claims("math", Role::Observer, 2000);
        c.grants.subscribe = false;
        let access = signer.access(&signer.sign(&c), &c.room, 1000).unwrap();
        assert_eq!(
            access.require_subscribe(),
            Err(AuthError::Forbidden("subscribe"))
        );
    }
}

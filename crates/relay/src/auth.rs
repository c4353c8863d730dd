//! Access tokens: `lt1.<claims>.<mac>`, HMAC-SHA256 over the first two parts with the
//! relay's secret. See `docs/protocol.md`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use lectern_proto::{
    ErrorCode, Grants, JoinResponse, MAX_NAME_CHARS, PeerId, Role, RoomId, TokenClaims,
};
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
    /// A class link was presented where a personal token is needed.
    #[error("this is a class link: join with POST /join/{{room}} for a token of your own first")]
    Invite,
    /// `POST /join` was given a personal token rather than a class link.
    #[error("this token already names one person; only a class link can join")]
    NotInvite,
}

impl AuthError {
    /// The stable code for the `{code, message}` error body.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Missing | Self::Invalid => ErrorCode::Unauthorized,
            Self::Expired => ErrorCode::TokenExpired,
            Self::WrongRoom(_) => ErrorCode::WrongRoom,
            Self::Forbidden(_) | Self::Invite | Self::NotInvite => ErrorCode::Forbidden,
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
            invite: false,
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

    /// Issues a class link for `room`: it only opens `POST /join/{room}`, where each
    /// student exchanges it for a token of their own with `role`'s default grants.
    pub fn issue_invite(&self, room: RoomId, role: Role, ttl: Duration) -> String {
        self.sign(&TokenClaims {
            room,
            sub: PeerId::new("invite").expect("a valid id"),
            name: String::new(),
            role,
            grants: role.default_grants(),
            exp: unix_now().saturating_add(ttl.as_secs()),
            invite: true,
        })
    }

    /// Checks a personal token for one room and returns what it allows there. Class
    /// links are refused: they must be exchanged first ([`TokenSigner::join`]).
    pub fn access(&self, token: &str, room: &RoomId, now: u64) -> Result<Access, AuthError> {
        let access = self.page_access(token, room, now)?;
        if access.claims.invite {
            return Err(AuthError::Invite);
        }
        Ok(access)
    }

    /// Checks a personal token or a class link for one room: what may open the student
    /// page, which itself asks for a name and joins when given a link.
    pub fn page_access(&self, token: &str, room: &RoomId, now: u64) -> Result<Access, AuthError> {
        let claims = self.verify(token, now)?;
        if &claims.room != room {
            return Err(AuthError::WrongRoom(claims.room));
        }
        Ok(Access { claims })
    }

    /// Exchanges a class link for a personal token under a fresh id, keeping the link's
    /// room, role, grants and expiry. `name` is already checked ([`check_name`]).
    pub fn join(
        &self,
        invite: &str,
        room: &RoomId,
        name: &str,
        now: u64,
    ) -> Result<JoinResponse, AuthError> {
        let link = self.page_access(invite, room, now)?.claims;
        if !link.invite {
            return Err(AuthError::NotInvite);
        }
        let mut id = [0u8; 6];
        rand::fill(&mut id[..]);
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let peer = PeerId::new(format!("s-{hex}")).expect("a valid id");
        let claims = TokenClaims {
            sub: peer.clone(),
            name: name.to_string(),
            invite: false,
            ..link
        };
        Ok(JoinResponse {
            token: self.sign(&claims),
            peer,
            name: claims.name,
            exp: claims.exp,
        })
    }
}

/// Why a name given to `POST /join` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("enter a name so the teacher knows who you are")]
    Empty,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the name contains control characters")]
    Control,
}

/// Trims and checks a display name a student typed.
pub fn check_name(name: &str) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(name.to_string())
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
            invite: false,
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
    fn a_class_link_opens_nothing_but_join_and_each_join_is_a_new_person() {
        let signer = TokenSigner::new(b"k".repeat(32));
        let math = RoomId::new("math").unwrap();
        let link = signer.issue_invite(math.clone(), Role::Student, Duration::from_secs(600));
        let now = unix_now();
        assert_eq!(
            signer.access(&link, &math, now).unwrap_err(),
            AuthError::Invite
        );
        assert!(signer.page_access(&link, &math, now).is_ok());
        assert_eq!(
            signer.join(&link, &RoomId::new("art").unwrap(), "Ann", now),
            Err(AuthError::WrongRoom(math.clone()))
        );
        let ann = signer.join(&link, &math, "Ann", now).unwrap();
        let bob = signer.join(&link, &math, "Bob", now).unwrap();
        assert_ne!(ann.peer, bob.peer, "two students sharing a link stay two");
        let access = signer.access(&ann.token, &math, now).unwrap();
        assert_eq!(access.peer(), &ann.peer);
        assert_eq!(access.claims().name, "Ann");
        assert_eq!(access.role(), Role::Student);
        assert_eq!(access.grants(), Role::Student.default_grants());
        assert!(!access.claims().invite);
        let link_exp = signer.verify(&link, now).unwrap().exp;
        assert_eq!(
            ann.exp, link_exp,
            "a joined token lives no longer than its link"
        );
        // A personal token cannot mint more people, and an expired link joins nobody.
        assert_eq!(
            signer.join(&ann.token, &math, "Eve", now),
            Err(AuthError::NotInvite)
        );
        assert_eq!(
            signer.join(&link, &math, "Late", link_exp),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(check_name("  李华 ").unwrap(), "李华");
        assert_eq!(check_name(" \t "), Err(NameError::Empty));
        assert_eq!(check_name(&"名".repeat(65)), Err(NameError::TooLong));
        assert_eq!(check_name(&"名".repeat(64)).unwrap().chars().count(), 64);
        assert_eq!(check_name("Ann\u{7}"), Err(NameError::Control));
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

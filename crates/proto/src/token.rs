//! What a relay access token says. Signing and checking live in the relay; this is the
//! shape both sides agree on.

use crate::{PeerId, RoomId};
use serde::{Deserialize, Serialize};

/// Who the bearer is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the class: publishes, invites to the stage, hands out the pen.
    Teacher,
    /// Watches, raises a hand, chats; publishes only while on stage.
    Student,
    /// Watches only (a parent, an inspector, a recorder).
    Observer,
}

impl Role {
    /// Stable lower-case name, as in tokens and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Teacher => "teacher",
            Self::Student => "student",
            Self::Observer => "observer",
        }
    }

    /// The grants a token for this role carries unless told otherwise.
    pub fn default_grants(self) -> Grants {
        match self {
            Self::Teacher => Grants {
                publish: true,
                subscribe: true,
                board: true,
            },
            Self::Student => Grants {
                publish: false,
                subscribe: true,
                board: true,
            },
            Self::Observer => Grants {
                publish: false,
                subscribe: true,
                board: false,
            },
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "teacher" => Ok(Self::Teacher),
            "student" => Ok(Self::Student),
            "observer" => Ok(Self::Observer),
            other => Err(format!(
                "unknown role {other:?} (teacher, student or observer)"
            )),
        }
    }
}

/// What the bearer may do. A student's `publish` is normally false: the stage grants
/// publishing for as long as the student is on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Grants {
    /// May publish media (WHIP, RTMP) without being invited to the stage.
    #[serde(default)]
    pub publish: bool,
    /// May watch (WHEP, FLV, RTMP play) and join signaling.
    #[serde(default)]
    pub subscribe: bool,
    /// May see the whiteboard and be handed the pen.
    #[serde(default)]
    pub board: bool,
}

/// The signed body of a token, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The one room this token opens.
    pub room: RoomId,
    /// The bearer's stable id in that room.
    pub sub: PeerId,
    /// Display name, shown in rosters (at most 64 characters).
    pub name: String,
    /// The bearer's role.
    pub role: Role,
    /// What the bearer may do.
    pub grants: Grants,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// A class link shared by many students rather than one person's token. It opens
    /// nothing but `POST /join/{room}`, which exchanges it for a personal token with its
    /// own `sub`, so students sharing one link do not replace each other.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invite: bool,
}

/// `POST /join/{room}` body: who is joining with a class link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The name the student typed; trimmed, 1–64 characters, no control characters.
    pub name: String,
}

/// `POST /join/{room}` answer: the student's own token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// A personal token: the invite's room, role, grants and expiry, a fresh `sub`.
    pub token: String,
    /// The new token's subject.
    pub peer: PeerId,
    /// The name as the relay stored it.
    pub name: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
}

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

//! Names of rooms and peers as they travel in URLs, tokens and signaling.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest room name or peer id we accept, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// The string is empty.
    Empty,
    /// The string is longer than [`MAX_ID_LEN`].
    TooLong,
    /// The string has a character outside `A–Z a–z 0–9 - _ .`.
    BadCharacter,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty id",
            Self::TooLong => "id longer than 64 bytes",
            Self::BadCharacter => "id may only contain letters, digits, '-', '_' and '.'",
        })
    }
}

impl std::error::Error for IdError {}

fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Always 1–64 bytes of `A–Z a–z 0–9 - _ .`, so it is safe in a URL path, a
        /// metrics label and a file name without escaping.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check(&s)?;
                Ok(Self(s))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A class room on a relay.
    RoomId
);
string_id!(
    /// One participant in a room (a teacher, a student or an observer), stable across
    /// reconnects because it comes from the token's subject.
    PeerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_when_built_and_when_parsed() {
        assert!(RoomId::new("math-7b.2026").is_ok());
        assert_eq!(RoomId::new(""), Err(IdError::Empty));
        assert_eq!(RoomId::new("a/b"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::new("x".repeat(65)), Err(IdError::TooLong));
        assert!(serde_json::from_str::<PeerId>("\"../etc\"").is_err());
        let id: PeerId = serde_json::from_str("\"s-01\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"s-01\"");
    }
}

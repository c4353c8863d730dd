//! The board as a versioned JSON document, and the snapshot a late joiner starts from.

use crate::limits::{self, MAX_PAGES, MAX_SHAPES_PER_PAGE};
use crate::{Board, BoardError};
use lectern_proto::DOC_VERSION;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// The board as of one point in the relay's order: everything a late joiner needs before
/// it applies the ops after `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Document version of `board`; see [`lectern_proto::DOC_VERSION`].
    pub version: u32,
    /// The server seq of the last op the board includes (0 for none).
    pub seq: u64,
    /// The document, history included so that later undo ops replay the same everywhere.
    pub board: Board,
}

impl Snapshot {
    /// The board after `seq` ops, in the current document version.
    pub fn new(seq: u64, board: Board) -> Self {
        Self {
            version: DOC_VERSION,
            seq,
            board,
        }
    }

    /// The snapshot as JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string map keys: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a snapshot of this or an older document version.
    pub fn from_json(json: &str) -> Result<Self, BoardError> {
        let version = peek_version(json)?;
        let snapshot: Snapshot = if version == DOC_VERSION {
            serde_json::from_str(json).map_err(malformed)?
        } else {
            let mut value: Value = serde_json::from_str(json).map_err(malformed)?;
            if let Some(board) = value.get_mut("board") {
                migrate(board, version)?;
            }
            value["version"] = DOC_VERSION.into();
            serde_json::from_value(value).map_err(malformed)?
        };
        check_loaded(&snapshot.board)?;
        Ok(snapshot)
    }
}

impl Board {
    /// The whole document as JSON: `{"version": 1, "board": {...}}`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u32,
            board: &'a Board,
        }
        serde_json::to_string(&Out {
            version: DOC_VERSION,
            board: self,
        })
        .unwrap_or_default()
    }

    /// Reads a document written by [`Board::to_json`] of this or an older version.
    pub fn from_json(json: &str) -> Result<Self, BoardError> {
        #[derive(Deserialize)]
        struct In {
            board: Board,
        }
        let version = peek_version(json)?;
        let board = if version == DOC_VERSION {
            serde_json::from_str::<In>(json).map_err(malformed)?.board
        } else {
            let mut value: Value = serde_json::from_str(json).map_err(malformed)?;
            let mut board = value
                .get_mut("board")
                .map(Value::take)
                .ok_or_else(|| BoardError::Malformed("no board".into()))?;
            migrate(&mut board, version)?;
            serde_json::from_value(board).map_err(malformed)?
        };
        check_loaded(&board)?;
        Ok(board)
    }
}

fn malformed(e: serde_json::Error) -> BoardError {
    BoardError::Malformed(e.to_string())
}

/// Reads only the version, so the current version parses once, straight into the types.
fn peek_version(json: &str) -> Result<u32, BoardError> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let Version { version } = serde_json::from_str(json).map_err(malformed)?;
    if version == 0 || version > DOC_VERSION {
        return Err(BoardError::UnsupportedVersion(version));
    }
    Ok(version)
}

/// Brings a board document of version `from` up to [`DOC_VERSION`], one version at a
/// time, so each step is written once and never changes.
fn migrate(board: &mut Value, from: u32) -> Result<(), BoardError> {
    let _ = board;
    match from {
        // Version 1 is the first; a version 2 adds `1 => { ...rewrite board...; migrate(board, 2) }`.
        DOC_VERSION => Ok(()),
        other => Err(BoardError::UnsupportedVersion(other)),
    }
}

/// A stored or received document passes the limits that ops are held to, so loading
/// cannot smuggle in what applying could not.
fn check_loaded(board: &Board) -> Result<(), BoardError> {
    if board.pages().len() > MAX_PAGES {
        return Err(BoardError::TooManyPages);
    }
    let mut pages = HashSet::new();
    let mut shapes = HashSet::new();
    for page in board.pages() {
        if !pages.insert(&page.id) {
            return Err(BoardError::IdTaken);
        }
        if page.shapes.len() > MAX_SHAPES_PER_PAGE {
            return Err(BoardError::TooManyShapes);
        }
        for shape in &page.shapes {
            if !shapes.insert(&shape.id) {
                return Err(BoardError::IdTaken);
            }
            limits::stored_shape(shape)?;
        }
    }
    let current_ok = match board.current_page() {
        None => board.pages().is_empty(),
        Some(id) => pages.contains(id),
    };
    if !current_ok {
        return Err(BoardError::PageNotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_proto::{BoardAction, BoardOp, PeerId};

    fn one_page() -> Board {
        let mut b = Board::new();
        let t = PeerId::new("t").unwrap();
        let add = BoardAction::AddPage {
            index: None,
            background: None,
        };
        b.apply(&BoardOp::new(t.clone(), 1, add)).unwrap();
        b
    }

    #[test]
    fn documents_round_trip_with_their_version() {
        let b = one_page();
        let json = b.to_json();
        assert!(json.starts_with(r#"{"version":1,"board":{"pages":[{"id":"t:1""#));
        assert_eq!(Board::from_json(&json).unwrap(), b);
        let snap = Snapshot::new(7, b.clone());
        let back = Snapshot::from_json(&snap.to_json()).unwrap();
        assert_eq!(back, snap);
    }

    #[test]
    fn unknown_versions_and_broken_documents_are_refused() {
        let json = one_page()
            .to_json()
            .replace(r#""version":1"#, r#""version":2"#);
        assert_eq!(
            Board::from_json(&json),
            Err(BoardError::UnsupportedVersion(2))
        );
        assert_eq!(
            Board::from_json(r#"{"version":0,"board":{"pages":[]}}"#),
            Err(BoardError::UnsupportedVersion(0))
        );
        assert!(matches!(
            Board::from_json(r#"{"board":{"pages":[]}}"#),
            Err(BoardError::Malformed(_))
        ));
        assert!(matches!(
            Snapshot::from_json("[1,2"),
            Err(BoardError::Malformed(_))
        ));
        assert_eq!(
            migrate(&mut Value::Null, 5),
            Err(BoardError::UnsupportedVersion(5))
        );
    }

    #[test]
    fn loading_holds_documents_to_the_same_rules_as_ops() {
        let twice =
            r#"{"version":1,"board":{"pages":[{"id":"a:1"},{"id":"a:1"}],"current":"a:1"}}"#;
        assert_eq!(Board::from_json(twice), Err(BoardError::IdTaken));
        let lost = r#"{"version":1,"board":{"pages":[{"id":"a:1"}],"current":"a:2"}}"#;
        assert_eq!(Board::from_json(lost), Err(BoardError::PageNotFound));
        let nowhere = r#"{"version":1,"board":{"pages":[{"id":"a:1"}]}}"#;
        assert_eq!(Board::from_json(nowhere), Err(BoardError::PageNotFound));
        let far = r##"{"version":1,"board":{"pages":[{"id":"a:1","shapes":[{"id":"a:2","author":"a","style":{"color":"#000000","width":1.0},"kind":{"type":"line","from":{"x":1e9,"y":0},"to":{"x":0,"y":0}}}]}],"current":"a:1"}}"##;
        assert_eq!(Board::from_json(far), Err(BoardError::OutOfBounds));
    }
}

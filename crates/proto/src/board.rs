//! Whiteboard wire types: the document's data and the operations that change it.
//!
//! Coordinates are page units on a fixed logical page of [`PAGE_WIDTH`] × [`PAGE_HEIGHT`]
//! (16:9, origin top-left, y down), whatever the size of the screen that draws them, so
//! every client agrees on where a point is without knowing anyone else's zoom.
//!
//! Every change is a [`BoardOp`]: an [`BoardAction`] stamped with its author, the
//! author's own counter (`client_seq`) and, once the relay has ordered it, `server_seq`.
//! The pair (author, client_seq) is the op's id ([`OpId`]); ids of the pages and shapes an
//! op creates are derived from it, so two clients can never pick the same id and nobody
//! needs to ask the relay for one. Validation of values (limits, finite numbers) lives in
//! `lectern-board`; this module only checks the shape of strings.

use crate::PeerId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Version of the serialized board document; `lectern-board` migrates older ones.
pub const DOC_VERSION: u32 = 1;

/// Width of a page, in page units.
pub const PAGE_WIDTH: f32 = 1600.0;

/// Height of a page, in page units.
pub const PAGE_HEIGHT: f32 = 900.0;

/// Longest page, shape or asset id, in bytes.
pub const MAX_BOARD_ID_LEN: usize = 128;

/// Why a string is not a valid board id or colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardIdError {
    /// The string is empty.
    Empty,
    /// The string is longer than [`MAX_BOARD_ID_LEN`].
    TooLong,
    /// The string has a character outside `A–Z a–z 0–9 - _ . : /`.
    BadCharacter,
    /// A colour that is not `#rrggbb`.
    BadColor,
}

impl fmt::Display for BoardIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty id",
            Self::TooLong => "id longer than 128 bytes",
            Self::BadCharacter => "id may only contain letters, digits, '-', '_', '.', ':' and '/'",
            Self::BadColor => "colour must be #rrggbb",
        })
    }
}

impl std::error::Error for BoardIdError {}

fn check_board_id(s: &str) -> Result<(), BoardIdError> {
    if s.is_empty() {
        return Err(BoardIdError::Empty);
    }
    if s.len() > MAX_BOARD_ID_LEN {
        return Err(BoardIdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    {
        return Err(BoardIdError::BadCharacter);
    }
    Ok(())
}

macro_rules! board_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, BoardIdError> {
                let s = s.into();
                check_board_id(&s)?;
                Ok(Self(s))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = BoardIdError;
            fn try_from(s: String) -> Result<Self, BoardIdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

board_id!(
    /// A page of the board: `"<author>:<client_seq>"` of the `add_page` op that made it.
    PageId
);
board_id!(
    /// A shape on a page: `"<author>:<client_seq>"` of the op that made it, or
    /// `"<author>:<client_seq>/<k>"` for the k-th piece a partial erase left behind.
    ShapeId
);
board_id!(
    /// An uploaded asset (an image, a converted document) the relay serves by this name.
    AssetRef
);

/// One operation's identity: who made it and that author's counter, which rises by at
/// least one with every op the author sends (gaps are fine, repeats are refused).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OpId {
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub author: PeerId,
    pub seq: u64,
}

impl OpId {
    /// The id of the page this op creates.
    pub fn page_id(&self) -> PageId {
        // PeerId's alphabet plus ':' and digits stays inside the board id alphabet, and
        // 64 + 1 + 20 bytes is under the limit.
        PageId(self.to_string())
    }

    /// The id of the shape this op creates.
    pub fn shape_id(&self) -> ShapeId {
        ShapeId(self.to_string())
    }

    /// The id of the `k`-th stroke piece a partial erase by this op leaves.
    pub fn piece_id(&self, k: u32) -> ShapeId {
        ShapeId(format!("{self}/{k}"))
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.author, self.seq)
    }
}

/// A colour, `#rrggbb` (lower or upper case hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct Color(String);

impl Color {
    /// Checks and wraps `s`.
    pub fn new(s: impl Into<String>) -> Result<Self, BoardIdError> {
        let s = s.into();
        let b = s.as_bytes();
        if b.len() != 7 || b[0] != b'#' || !b[1..].iter().all(u8::is_ascii_hexdigit) {
            return Err(BoardIdError::BadColor);
        }
        Ok(Self(s))
    }

    /// A colour from its 24-bit RGB value.
    pub fn rgb(rgb: u32) -> Self {
        Self(format!("#{:06x}", rgb & 0xff_ffff))
    }

    /// The colour as `#rrggbb`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Color {
    type Error = BoardIdError;
    fn try_from(s: String) -> Result<Self, BoardIdError> {
        Self::new(s)
    }
}

impl From<Color> for String {
    fn from(c: Color) -> String {
        c.0
    }
}

/// A position in page units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Pos {
    pub x: f32,
    pub y: f32,
}

/// A sampled pen position: page units plus pen pressure in 0–1 (1 for a mouse).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Point {
    pub x: f32,
    pub y: f32,
    #[serde(default = "full_pressure")]
    pub pressure: f32,
}

fn full_pressure() -> f32 {
    1.0
}

/// An axis-aligned box in page units; `w` and `h` are never negative.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// How a shape is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Style {
    /// Stroke (and text) colour.
    pub color: Color,
    /// Line width in page units (for a stroke, at full pressure).
    pub width: f32,
    /// 0 (invisible) to 1 (opaque).
    #[serde(default = "opaque")]
    pub opacity: f32,
    /// Drawn beneath ink with a multiply blend, like a highlighter pen.
    #[serde(default)]
    pub highlighter: bool,
    /// Fill of a closed shape (rectangle, ellipse); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<Color>,
}

fn opaque() -> f32 {
    1.0
}

/// Where a shape is moved to: scale and rotate about the centre of the shape's own
/// bounding box, then translate. Ops set it whole (never add to it), so the last op in
/// the relay's order wins and undo restores the exact previous value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Transform {
    pub dx: f32,
    pub dy: f32,
    pub scale: f32,
    /// Radians, clockwise on screen.
    pub rotation: f32,
}

impl Transform {
    /// No movement at all.
    pub const IDENTITY: Self = Self {
        dx: 0.0,
        dy: 0.0,
        scale: 1.0,
        rotation: 0.0,
    };

    /// True when this is [`Transform::IDENTITY`].
    pub fn is_identity(&self) -> bool {
        *self == Self::IDENTITY
    }
}

impl Default for Transform {
    fn default() -> Self {
        Self::IDENTITY
    }
}

/// The geometry of a shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ShapeKind {
    /// Freehand ink. `smooth` asks the renderer to fit curves through the samples.
    /// `finished` is false while the pen is still down and points keep arriving.
    Stroke {
        points: Vec<Point>,
        smooth: bool,
        #[serde(default)]
        finished: bool,
    },
    /// A straight line.
    Line { from: Pos, to: Pos },
    /// A straight line with a head at `to`.
    Arrow { from: Pos, to: Pos },
    /// A rectangle.
    Rectangle { rect: Rect },
    /// The ellipse inscribed in `rect`.
    Ellipse { rect: Rect },
    /// Text whose first line's top-left corner is at `at`; `size` is the font size in
    /// page units.
    Text { at: Pos, text: String, size: f32 },
    /// An uploaded image stretched over `rect`.
    Image { asset: AssetRef, rect: Rect },
}

/// One shape on a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Shape {
    pub id: ShapeId,
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub author: PeerId,
    pub style: Style,
    #[serde(default, skip_serializing_if = "Transform::is_identity")]
    pub transform: Transform,
    pub kind: ShapeKind,
}

/// What a page shows beneath its shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Background {
    /// Page `page` (from 0) of an imported document, rendered by the client.
    Document { doc: AssetRef, page: u32 },
    /// An image, fitted to the page.
    Image { asset: AssetRef },
}

/// One page: a background and shapes, first drawn first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Page {
    pub id: PageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Background>,
    #[serde(default)]
    pub shapes: Vec<Shape>,
}

/// Point indices `start..end` (end excluded) of a stroke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PointRange {
    pub start: u32,
    pub end: u32,
}

/// What an op does to the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BoardAction {
    /// A new page (id from the op) at `index`, or at the end when absent.
    AddPage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        background: Option<Background>,
    },
    /// Remove a page and everything on it.
    RemovePage { page: PageId },
    /// Move a page to `index` (clamped to the end).
    ReorderPage { page: PageId, index: u32 },
    /// Set or clear a page's background.
    SetBackground {
        page: PageId,
        background: Option<Background>,
    },
    /// The page everybody is shown.
    SetCurrentPage { page: PageId },
    /// Pen down: a new, unfinished stroke (id from the op) with its first points.
    BeginStroke {
        page: PageId,
        style: Style,
        smooth: bool,
        points: Vec<Point>,
    },
    /// More points for one's own unfinished stroke, sent in batches while drawing.
    AppendStroke {
        page: PageId,
        stroke: ShapeId,
        points: Vec<Point>,
    },
    /// Pen up: the stroke is finished and becomes one undo step.
    EndStroke { page: PageId, stroke: ShapeId },
    /// A whole shape at once (id from the op).
    AddShape {
        page: PageId,
        style: Style,
        shape: ShapeKind,
    },
    /// Move, scale or rotate a shape.
    TransformShape {
        page: PageId,
        shape: ShapeId,
        transform: Transform,
    },
    /// Remove whole shapes; ids already gone are skipped.
    EraseShapes { page: PageId, shapes: Vec<ShapeId> },
    /// Cut point ranges out of a stroke: the stroke is replaced by the runs of points
    /// left between the ranges, with ids from [`OpId::piece_id`] in order.
    PartialErase {
        page: PageId,
        stroke: ShapeId,
        ranges: Vec<PointRange>,
    },
    /// Remove every shape on a page (the background stays).
    ClearPage { page: PageId },
    /// Revert the author's own last change that still changes something.
    Undo,
    /// Re-apply the author's last undone change.
    Redo,
}

impl BoardAction {
    /// The page this action is about, if it is about one page.
    pub fn page(&self) -> Option<&PageId> {
        match self {
            Self::AddPage { .. } | Self::Undo | Self::Redo => None,
            Self::RemovePage { page }
            | Self::ReorderPage { page, .. }
            | Self::SetBackground { page, .. }
            | Self::SetCurrentPage { page }
            | Self::BeginStroke { page, .. }
            | Self::AppendStroke { page, .. }
            | Self::EndStroke { page, .. }
            | Self::AddShape { page, .. }
            | Self::TransformShape { page, .. }
            | Self::EraseShapes { page, .. }
            | Self::PartialErase { page, .. }
            | Self::ClearPage { page } => Some(page),
        }
    }
}

/// An op as it travels: the action, who made it and where it stands in both orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BoardOp {
    /// Who made it; the relay refuses an op whose author is not the sender.
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub author: PeerId,
    /// The author's counter: above every earlier op of the same author.
    pub client_seq: u64,
    /// Position in the relay's order (1, 2, 3, …); absent until the relay has ordered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_seq: Option<u64>,
    pub action: BoardAction,
}

impl BoardOp {
    /// An op not yet ordered by the relay.
    pub fn new(author: PeerId, client_seq: u64, action: BoardAction) -> Self {
        Self {
            author,
            client_seq,
            server_seq: None,
            action,
        }
    }

    /// The op's id: (author, client_seq).
    pub fn id(&self) -> OpId {
        OpId {
            author: self.author.clone(),
            seq: self.client_seq,
        }
    }
}

/// Passing presence on the board that is relayed but never stored or replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BoardEphemeral {
    /// The latest samples of a laser pointer, oldest first; the renderer fades them.
    Laser { page: PageId, trail: Vec<Pos> },
    /// Where someone's pointer is; `None` when it left the page.
    Cursor { page: PageId, at: Option<Pos> },
}

/// What a student's pen grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GrantScope {
    /// Every page, present and future.
    Board,
    /// Only these pages.
    Pages { pages: Vec<PageId> },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> PeerId {
        PeerId::new(s).unwrap()
    }

    #[test]
    fn ids_derive_from_the_op_and_parse_back() {
        let id = OpId {
            author: peer("t-1"),
            seq: 42,
        };
        assert_eq!(id.shape_id().as_str(), "t-1:42");
        assert_eq!(id.piece_id(3).as_str(), "t-1:42/3");
        let back: ShapeId = serde_json::from_str("\"t-1:42/3\"").unwrap();
        assert_eq!(back, id.piece_id(3));
        assert!(serde_json::from_str::<PageId>("\"a b\"").is_err());
        assert!(serde_json::from_str::<PageId>("\"\"").is_err());
        let long = format!("\"{}\"", "x".repeat(MAX_BOARD_ID_LEN + 1));
        assert!(serde_json::from_str::<ShapeId>(&long).is_err());
    }

    #[test]
    fn colours_are_checked() {
        assert_eq!(Color::rgb(0xff8000).as_str(), "#ff8000");
        assert!(Color::new("#FFaa00").is_ok());
        assert_eq!(Color::new("red"), Err(BoardIdError::BadColor));
        assert_eq!(Color::new("#ff80"), Err(BoardIdError::BadColor));
        assert!(serde_json::from_str::<Color>("\"#12345g\"").is_err());
    }

    #[test]
    fn ops_have_a_stable_json_shape() {
        let op = BoardOp {
            author: peer("t1"),
            client_seq: 7,
            server_seq: Some(12),
            action: BoardAction::AppendStroke {
                page: PageId::new("t1:1").unwrap(),
                stroke: ShapeId::new("t1:5").unwrap(),
                points: vec![Point {
                    x: 10.0,
                    y: 20.5,
                    pressure: 0.5,
                }],
            },
        };
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(
            json,
            r#"{"author":"t1","client_seq":7,"server_seq":12,"action":{"type":"append_stroke","page":"t1:1","stroke":"t1:5","points":[{"x":10.0,"y":20.5,"pressure":0.5}]}}"#
        );
        assert_eq!(serde_json::from_str::<BoardOp>(&json).unwrap(), op);

        let undo: BoardOp =
            serde_json::from_str(r#"{"author":"s1","client_seq":3,"action":{"type":"undo"}}"#)
                .unwrap();
        assert_eq!(undo.server_seq, None);
        assert_eq!(undo.id().to_string(), "s1:3");
        assert!(
            serde_json::from_str::<BoardOp>(
                r#"{"author":"s1","client_seq":3,"action":{"type":"paint"}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn shapes_omit_defaults_and_accept_them_missing() {
        let json = r##"{"id":"t1:2","author":"t1","style":{"color":"#000000","width":2.0},"kind":{"type":"stroke","points":[{"x":1.0,"y":2.0}],"smooth":true}}"##;
        let shape: Shape = serde_json::from_str(json).unwrap();
        assert_eq!(shape.transform, Transform::IDENTITY);
        assert_eq!(shape.style.opacity, 1.0);
        let ShapeKind::Stroke {
            points, finished, ..
        } = &shape.kind
        else {
            panic!("a stroke");
        };
        assert_eq!(points[0].pressure, 1.0);
        assert!(!finished);
        let again = serde_json::to_string(&shape).unwrap();
        assert!(!again.contains("transform"));
        assert!(!again.contains("fill"));
    }
}

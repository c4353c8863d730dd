//! What a random user does at the board, turned into ops against the board they see.
//!
//! An [`Intent`] picks its targets by index into whatever the author's board holds at
//! that moment, so random scripts stay meaningful: most ops land on real pages and
//! shapes, and the rest (stale picks, foreign strokes) exercise the refusals.

#![allow(dead_code)]

use lectern_board::Board;
use lectern_proto::{
    AssetRef, Background, BoardAction, Color, PageId, PeerId, Point, PointRange, Pos, Rect,
    ShapeId, ShapeKind, Style, Transform,
};
use proptest::prelude::*;

pub fn peer(s: &str) -> PeerId {
    PeerId::new(s).unwrap()
}

#[derive(Debug, Clone)]
pub enum Intent {
    AddPage {
        index: Option<u8>,
    },
    RemovePage {
        pick: u8,
    },
    ReorderPage {
        pick: u8,
        to: u8,
    },
    SetBackground {
        pick: u8,
        clear: bool,
    },
    SetCurrent {
        pick: u8,
    },
    Begin {
        pick: u8,
        n: u8,
        smooth: bool,
    },
    Append {
        n: u8,
    },
    End,
    AddShape {
        pick: u8,
        kind: u8,
    },
    Transform {
        pick: u8,
        shape: u8,
        dx: i8,
    },
    Erase {
        pick: u8,
        shape: u8,
        count: u8,
    },
    PartialErase {
        pick: u8,
        shape: u8,
        start: u8,
        len: u8,
    },
    Clear {
        pick: u8,
    },
    Undo,
    Redo,
}

pub fn intent() -> impl Strategy<Value = Intent> {
    let b = any::<u8>;
    prop_oneof![
        2 => proptest::option::of(b()).prop_map(|index| Intent::AddPage { index }),
        1 => b().prop_map(|pick| Intent::RemovePage { pick }),
        1 => (b(), b()).prop_map(|(pick, to)| Intent::ReorderPage { pick, to }),
        1 => (b(), any::<bool>()).prop_map(|(pick, clear)| Intent::SetBackground { pick, clear }),
        1 => b().prop_map(|pick| Intent::SetCurrent { pick }),
        4 => (b(), 1..6u8, any::<bool>()).prop_map(|(pick, n, smooth)| Intent::Begin { pick, n, smooth }),
        4 => (1..6u8).prop_map(|n| Intent::Append { n }),
        3 => Just(Intent::End),
        3 => (b(), b()).prop_map(|(pick, kind)| Intent::AddShape { pick, kind }),
        2 => (b(), b(), any::<i8>()).prop_map(|(pick, shape, dx)| Intent::Transform { pick, shape, dx }),
        2 => (b(), b(), 1..3u8).prop_map(|(pick, shape, count)| Intent::Erase { pick, shape, count }),
        2 => (b(), b(), b(), 1..4u8).prop_map(|(pick, shape, start, len)| Intent::PartialErase { pick, shape, start, len }),
        1 => b().prop_map(|pick| Intent::Clear { pick }),
        3 => Just(Intent::Undo),
        2 => Just(Intent::Redo),
    ]
}

fn page(board: &Board, pick: u8) -> PageId {
    let pages = board.pages();
    if pages.is_empty() {
        // Aim at a page that does not exist: the op must be refused everywhere alike.
        return PageId::new("gone:1").unwrap();
    }
    pages[pick as usize % pages.len()].id.clone()
}

fn shape(board: &Board, page: &PageId, pick: u8) -> Option<(ShapeId, usize)> {
    let shapes = &board.page(page)?.shapes;
    if shapes.is_empty() {
        return None;
    }
    let s = &shapes[pick as usize % shapes.len()];
    let len = match &s.kind {
        ShapeKind::Stroke { points, .. } => points.len(),
        _ => 0,
    };
    Some((s.id.clone(), len))
}

/// The author's stroke still being drawn, newest first.
fn open_stroke(board: &Board, me: &PeerId) -> Option<(PageId, ShapeId)> {
    board.pages().iter().rev().find_map(|p| {
        p.shapes.iter().rev().find_map(|s| match &s.kind {
            ShapeKind::Stroke {
                finished: false, ..
            } if &s.author == me => Some((p.id.clone(), s.id.clone())),
            _ => None,
        })
    })
}

fn points(n: u8, seed: u8) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            x: f32::from(seed) * 3.0 + f32::from(i),
            y: f32::from(i) * 7.0,
            pressure: f32::from(i % 4) / 4.0,
        })
        .collect()
}

fn style(seed: u8) -> Style {
    Style {
        color: Color::rgb(u32::from(seed) * 0x010203),
        width: 1.0 + f32::from(seed % 8),
        opacity: if seed.is_multiple_of(5) { 0.4 } else { 1.0 },
        highlighter: seed.is_multiple_of(5),
        fill: seed.is_multiple_of(3).then(|| Color::rgb(0xffee00)),
    }
}

/// The op `me` would send for `intent` on the board it sees, if any.
pub fn action(intent: &Intent, board: &Board, me: &PeerId) -> Option<BoardAction> {
    Some(match *intent {
        Intent::AddPage { index } => BoardAction::AddPage {
            index: index.map(u32::from),
            background: None,
        },
        Intent::RemovePage { pick } => BoardAction::RemovePage {
            page: page(board, pick),
        },
        Intent::ReorderPage { pick, to } => BoardAction::ReorderPage {
            page: page(board, pick),
            index: u32::from(to % 8),
        },
        Intent::SetBackground { pick, clear } => BoardAction::SetBackground {
            page: page(board, pick),
            background: (!clear).then(|| Background::Document {
                doc: AssetRef::new("deck.pdf").unwrap(),
                page: u32::from(pick),
            }),
        },
        Intent::SetCurrent { pick } => BoardAction::SetCurrentPage {
            page: page(board, pick),
        },
        Intent::Begin { pick, n, smooth } => BoardAction::BeginStroke {
            page: page(board, pick),
            style: style(pick),
            smooth,
            points: points(n, pick),
        },
        Intent::Append { n } => {
            let (page, stroke) = open_stroke(board, me)?;
            BoardAction::AppendStroke {
                page,
                stroke,
                points: points(n, n),
            }
        }
        Intent::End => {
            let (page, stroke) = open_stroke(board, me)?;
            BoardAction::EndStroke { page, stroke }
        }
        Intent::AddShape { pick, kind } => {
            let at = Pos {
                x: f32::from(kind),
                y: f32::from(pick),
            };
            let rect = Rect {
                x: at.x,
                y: at.y,
                w: 40.0,
                h: 20.0,
            };
            let shape = match kind % 7 {
                0 => ShapeKind::Line {
                    from: at,
                    to: Pos::default(),
                },
                1 => ShapeKind::Arrow {
                    from: Pos::default(),
                    to: at,
                },
                2 => ShapeKind::Rectangle { rect },
                3 => ShapeKind::Ellipse { rect },
                4 => ShapeKind::Text {
                    at,
                    text: format!("note {kind}"),
                    size: 18.0,
                },
                5 => ShapeKind::Image {
                    asset: AssetRef::new("photo.jpg").unwrap(),
                    rect,
                },
                _ => ShapeKind::Stroke {
                    points: points(4, kind),
                    smooth: true,
                    finished: true,
                },
            };
            BoardAction::AddShape {
                page: page(board, pick),
                style: style(kind),
                shape,
            }
        }
        Intent::Transform { pick, shape: s, dx } => {
            let page = page(board, pick);
            let (shape, _) = shape(board, &page, s)?;
            BoardAction::TransformShape {
                page,
                shape,
                transform: Transform {
                    dx: f32::from(dx),
                    ..Transform::IDENTITY
                },
            }
        }
        Intent::Erase {
            pick,
            shape: s,
            count,
        } => {
            let page = page(board, pick);
            let shapes = (0..count)
                .filter_map(|i| shape(board, &page, s.wrapping_add(i)).map(|(id, _)| id))
                .collect::<Vec<_>>();
            if shapes.is_empty() {
                return None;
            }
            BoardAction::EraseShapes { page, shapes }
        }
        Intent::PartialErase {
            pick,
            shape: s,
            start,
            len,
        } => {
            let page = page(board, pick);
            let (stroke, n) = shape(board, &page, s)?;
            if n == 0 {
                return None;
            }
            let start = u32::from(start) % n as u32;
            let end = (start + u32::from(len)).min(n as u32);
            BoardAction::PartialErase {
                page,
                stroke,
                ranges: vec![PointRange { start, end }],
            }
        }
        Intent::Clear { pick } => BoardAction::ClearPage {
            page: page(board, pick),
        },
        Intent::Undo => BoardAction::Undo,
        Intent::Redo => BoardAction::Redo,
    })
}

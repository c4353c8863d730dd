//! What one op may carry, checked before the board looks at its own state.
//!
//! The limits are constants, not settings: every replica must accept and refuse exactly
//! the same ops, or a client would fail an op the relay ordered and fall out of sync.

use crate::BoardError;
use lectern_proto::{
    BoardAction, BoardEphemeral, PAGE_HEIGHT, PAGE_WIDTH, Point, Pos, Rect, Shape, ShapeKind,
    Style, Transform,
};

/// Most pages on a board.
pub const MAX_PAGES: usize = 500;
/// Most shapes on one page.
pub const MAX_SHAPES_PER_PAGE: usize = 10_000;
/// Most points one op may carry (a batch while drawing, or a whole pasted stroke).
pub const MAX_POINTS_PER_BATCH: usize = 1_024;
/// Most points in one stroke.
pub const MAX_POINTS_PER_STROKE: usize = 20_000;
/// Most shape ids one erase may name.
pub const MAX_ERASE_BATCH: usize = 1_000;
/// Most ranges one partial erase may cut.
pub const MAX_ERASE_RANGES: usize = 256;
/// Longest text shape, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// Most points in a laser trail.
pub const MAX_LASER_POINTS: usize = 128;
/// Undo steps kept per author; older ones are forgotten.
pub const MAX_UNDO_DEPTH: usize = 100;
/// Widest line, in page units.
pub const MAX_WIDTH: f32 = 200.0;
/// Largest font size, in page units.
pub const MAX_TEXT_SIZE: f32 = 400.0;
/// Smallest and largest scale of a transform.
pub const SCALE_RANGE: (f32, f32) = (0.01, 100.0);

/// Positions may stray one page width or height past each edge: a stroke that runs off
/// the page is kept whole, but nothing lives far away where no one can see or erase it.
fn in_reach(x: f32, y: f32) -> Result<(), BoardError> {
    if !x.is_finite() || !y.is_finite() {
        return Err(BoardError::BadNumber("coordinate"));
    }
    if !(-PAGE_WIDTH..=2.0 * PAGE_WIDTH).contains(&x)
        || !(-PAGE_HEIGHT..=2.0 * PAGE_HEIGHT).contains(&y)
    {
        return Err(BoardError::OutOfBounds);
    }
    Ok(())
}

fn within(what: &'static str, v: f32, lo: f32, hi: f32) -> Result<(), BoardError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(BoardError::BadNumber(what))
    }
}

fn pos(p: &Pos) -> Result<(), BoardError> {
    in_reach(p.x, p.y)
}

fn point(p: &Point) -> Result<(), BoardError> {
    in_reach(p.x, p.y)?;
    within("pressure", p.pressure, 0.0, 1.0)
}

pub(crate) fn points(ps: &[Point]) -> Result<(), BoardError> {
    if ps.is_empty() {
        return Err(BoardError::Empty);
    }
    if ps.len() > MAX_POINTS_PER_BATCH {
        return Err(BoardError::BatchTooLarge);
    }
    ps.iter().try_for_each(point)
}

fn rect(r: &Rect) -> Result<(), BoardError> {
    in_reach(r.x, r.y)?;
    within("rect size", r.w, 0.0, 3.0 * PAGE_WIDTH)?;
    within("rect size", r.h, 0.0, 3.0 * PAGE_HEIGHT)?;
    in_reach(r.x + r.w, r.y + r.h)
}

fn style(s: &Style) -> Result<(), BoardError> {
    if !(s.width.is_finite() && s.width > 0.0 && s.width <= MAX_WIDTH) {
        return Err(BoardError::BadNumber("width"));
    }
    within("opacity", s.opacity, 0.0, 1.0)
}

fn transform(t: &Transform) -> Result<(), BoardError> {
    within("dx", t.dx, -2.0 * PAGE_WIDTH, 2.0 * PAGE_WIDTH)?;
    within("dy", t.dy, -2.0 * PAGE_HEIGHT, 2.0 * PAGE_HEIGHT)?;
    within("scale", t.scale, SCALE_RANGE.0, SCALE_RANGE.1)?;
    // Any finite angle is meaningful, but a bound keeps float error in check.
    within(
        "rotation",
        t.rotation,
        -4.0 * std::f32::consts::PI,
        4.0 * std::f32::consts::PI,
    )
}

pub(crate) fn shape(kind: &ShapeKind) -> Result<(), BoardError> {
    match kind {
        ShapeKind::Stroke { points: ps, .. } => points(ps),
        ShapeKind::Line { from, to } | ShapeKind::Arrow { from, to } => {
            pos(from)?;
            pos(to)
        }
        ShapeKind::Rectangle { rect: r } | ShapeKind::Ellipse { rect: r } => rect(r),
        ShapeKind::Image { rect: r, .. } => rect(r),
        ShapeKind::Text { at, text, size } => {
            pos(at)?;
            if !(size.is_finite() && *size > 0.0 && *size <= MAX_TEXT_SIZE) {
                return Err(BoardError::BadNumber("text size"));
            }
            if text.is_empty() {
                return Err(BoardError::Empty);
            }
            // Counting stops at the limit so a huge string costs no more than a short one.
            if text.chars().nth(MAX_TEXT_CHARS).is_some() {
                return Err(BoardError::TextTooLong);
            }
            Ok(())
        }
        // A kind from a newer build: its fields cannot be checked, so it is refused.
        _ => Err(BoardError::Forbidden),
    }
}

/// Checks a shape read from a stored or received document, as `add_shape` would have.
pub(crate) fn stored_shape(s: &Shape) -> Result<(), BoardError> {
    style(&s.style)?;
    transform(&s.transform)?;
    match &s.kind {
        ShapeKind::Stroke { points: ps, .. } => {
            if ps.len() > MAX_POINTS_PER_STROKE {
                return Err(BoardError::StrokeTooLong);
            }
            ps.iter().try_for_each(point)
        }
        other => shape(other),
    }
}

/// Checks the values an action carries, without looking at the board.
pub(crate) fn action(a: &BoardAction) -> Result<(), BoardError> {
    match a {
        BoardAction::BeginStroke {
            style: s,
            points: p,
            ..
        } => {
            style(s)?;
            points(p)
        }
        BoardAction::AppendStroke { points: p, .. } => points(p),
        BoardAction::AddShape {
            style: s, shape: k, ..
        } => {
            style(s)?;
            shape(k)
        }
        BoardAction::TransformShape { transform: t, .. } => transform(t),
        BoardAction::EraseShapes { shapes, .. } => {
            if shapes.is_empty() {
                return Err(BoardError::Empty);
            }
            if shapes.len() > MAX_ERASE_BATCH {
                return Err(BoardError::BatchTooLarge);
            }
            Ok(())
        }
        BoardAction::PartialErase { ranges, .. } => {
            if ranges.is_empty() {
                return Err(BoardError::Empty);
            }
            if ranges.len() > MAX_ERASE_RANGES {
                return Err(BoardError::BatchTooLarge);
            }
            // Sorted, non-empty and apart, so the pieces left between them are well defined.
            let mut last_end = None;
            for r in ranges {
                if r.start >= r.end || last_end.is_some_and(|e| r.start < e) {
                    return Err(BoardError::BadRange);
                }
                last_end = Some(r.end);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Checks a laser trail or cursor before the relay passes it on.
pub fn check_ephemeral(e: &BoardEphemeral) -> Result<(), BoardError> {
    match e {
        BoardEphemeral::Laser { trail, .. } => {
            if trail.len() > MAX_LASER_POINTS {
                return Err(BoardError::BatchTooLarge);
            }
            trail.iter().try_for_each(pos)
        }
        BoardEphemeral::Cursor { at, .. } => at.as_ref().map_or(Ok(()), pos),
        _ => Err(BoardError::Forbidden),
    }
}

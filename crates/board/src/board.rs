use crate::BoardError;
use crate::history::{
    Change, History, Pages, Step, page_removed, revert_step, shape_index, step_would_revert,
};
use crate::limits::{self, MAX_PAGES, MAX_POINTS_PER_STROKE, MAX_SHAPES_PER_PAGE};
use lectern_proto::{
    BoardAction, BoardOp, OpId, Page, PageId, PeerId, PointRange, Shape, ShapeId, ShapeKind,
    Transform,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whiteboard document: pages of shapes, the page everyone is shown, and what each
/// author could undo or redo.
///
/// It changes only through [`Board::apply`]. Two boards that applied the same ops in the
/// same order are equal, history included, which is what lets every client replay the
/// relay's order and arrive where the relay is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Board {
    pages: Vec<Page>,
    /// None exactly when there are no pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<PageId>,
    /// Each author's last accepted `client_seq`, so an op is never applied twice.
    #[serde(default)]
    clocks: BTreeMap<PeerId, u64>,
    #[serde(default)]
    history: BTreeMap<PeerId, History>,
}

/// What an accepted op changed, so a renderer redraws only that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The op that was applied.
    pub op: OpId,
    /// Pages whose background or shapes changed.
    pub pages: Vec<PageId>,
    /// Pages were added, removed or reordered.
    pub page_list: bool,
    /// The page everyone is shown changed.
    pub current_page: bool,
}

/// How an op relates to its author's history.
enum Record {
    /// An edit that can be undone as one step; it ends the author's redo.
    Step(Step),
    /// An edit that is not a step on its own (stroke points before pen-up); it still ends
    /// the author's redo.
    Edit,
    /// Navigation: not an edit at all.
    Nothing,
}

impl Board {
    /// An empty board: no pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pages, in order.
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// One page by id.
    pub fn page(&self, id: &PageId) -> Option<&Page> {
        self.pages.iter().find(|p| &p.id == id)
    }

    /// The page everyone is shown; `None` only when there are no pages.
    pub fn current_page(&self) -> Option<&PageId> {
        self.current.as_ref()
    }

    /// The author's last accepted `client_seq` (0 when none).
    pub fn last_client_seq(&self, author: &PeerId) -> u64 {
        self.clocks.get(author).copied().unwrap_or(0)
    }

    /// Whether an undo by `author` would change anything now.
    pub fn can_undo(&self, author: &PeerId) -> bool {
        self.history
            .get(author)
            .is_some_and(|h| h.undo.iter().any(|s| step_would_revert(&self.pages, s)))
    }

    /// Whether a redo by `author` would change anything now.
    pub fn can_redo(&self, author: &PeerId) -> bool {
        self.history
            .get(author)
            .is_some_and(|h| h.redo.iter().any(|s| step_would_revert(&self.pages, s)))
    }

    /// The pages and the current page are the same (history and clocks aside).
    pub fn same_content(&self, other: &Board) -> bool {
        self.pages == other.pages && self.current == other.current
    }

    /// Checks `op` against the limits and the board, then applies it. On error nothing
    /// changed.
    pub fn apply(&mut self, op: &BoardOp) -> Result<Applied, BoardError> {
        let last = self.last_client_seq(&op.author);
        if op.client_seq <= last {
            return Err(BoardError::StaleOp {
                client_seq: op.client_seq,
                last,
            });
        }
        limits::action(&op.action)?;
        let id = op.id();
        let mut applied = Applied {
            op: id.clone(),
            pages: Vec::new(),
            page_list: false,
            current_page: false,
        };
        let record = match &op.action {
            BoardAction::Undo => {
                self.undo_redo(&op.author, true, &mut applied)?;
                Record::Nothing
            }
            BoardAction::Redo => {
                self.undo_redo(&op.author, false, &mut applied)?;
                Record::Nothing
            }
            action => self.edit(&id, action, &mut applied)?,
        };
        self.clocks.insert(op.author.clone(), op.client_seq);
        match record {
            Record::Step(step) => {
                let h = self.history.entry(op.author.clone()).or_default();
                h.redo.clear();
                h.push_undo(step);
            }
            Record::Edit => {
                if let Some(h) = self.history.get_mut(&op.author) {
                    h.redo.clear();
                }
            }
            Record::Nothing => {}
        }
        Ok(applied)
    }

    fn page_mut(&mut self, id: &PageId) -> Result<&mut Page, BoardError> {
        self.pages
            .iter_mut()
            .find(|p| &p.id == id)
            .ok_or(BoardError::PageNotFound)
    }

    fn edit(
        &mut self,
        id: &OpId,
        action: &BoardAction,
        applied: &mut Applied,
    ) -> Result<Record, BoardError> {
        if let Some(page) = action.page() {
            applied.pages.push(page.clone());
        }
        match action {
            BoardAction::AddPage { index, background } => {
                applied.page_list = true;
                if self.pages.len() >= MAX_PAGES {
                    return Err(BoardError::TooManyPages);
                }
                let page = id.page_id();
                if self.page(&page).is_some() {
                    return Err(BoardError::IdTaken);
                }
                let at = index.map_or(self.pages.len(), |i| (i as usize).min(self.pages.len()));
                self.pages.insert(
                    at,
                    Page {
                        id: page.clone(),
                        background: background.clone(),
                        shapes: Vec::new(),
                    },
                );
                if self.current.is_none() {
                    self.current = Some(page.clone());
                    applied.current_page = true;
                }
                applied.pages.push(page.clone());
                Ok(Record::Step(vec![Change::PageAdded {
                    page,
                    current_before: None,
                }]))
            }
            BoardAction::RemovePage { page } => {
                applied.page_list = true;
                let index = self.page_index(page)?;
                let removed = self.pages.remove(index);
                let was_current = self.current.as_ref() == Some(page);
                page_removed(&self.pages, &mut self.current, page, index);
                applied.current_page = was_current;
                Ok(Record::Step(vec![Change::PageRemoved {
                    index,
                    page: removed,
                    was_current,
                }]))
            }
            BoardAction::ReorderPage { page, index } => {
                applied.page_list = true;
                let from = self.page_index(page)?;
                let to = (*index as usize).min(self.pages.len() - 1);
                if from == to {
                    return Ok(Record::Edit);
                }
                let moved = self.pages.remove(from);
                self.pages.insert(to, moved);
                Ok(Record::Step(vec![Change::PageMoved {
                    page: page.clone(),
                    from,
                }]))
            }
            BoardAction::SetBackground { page, background } => {
                let p = self.page_mut(page)?;
                if p.background == *background {
                    return Ok(Record::Edit);
                }
                let before = std::mem::replace(&mut p.background, background.clone());
                Ok(Record::Step(vec![Change::BackgroundSet {
                    page: page.clone(),
                    before,
                }]))
            }
            BoardAction::SetCurrentPage { page } => {
                self.page_index(page)?;
                applied.current_page = self.current.as_ref() != Some(page);
                self.current = Some(page.clone());
                applied.pages.clear();
                Ok(Record::Nothing)
            }
            BoardAction::BeginStroke {
                page,
                style,
                smooth,
                points,
            } => {
                let shape = Shape {
                    id: id.shape_id(),
                    author: id.author.clone(),
                    style: style.clone(),
                    transform: Transform::IDENTITY,
                    kind: ShapeKind::Stroke {
                        points: points.clone(),
                        smooth: *smooth,
                        finished: false,
                    },
                };
                self.add_shape(page, shape)?;
                // Pen-up makes the stroke one undo step; until then it is only an edit.
                Ok(Record::Edit)
            }
            BoardAction::AppendStroke {
                page,
                stroke,
                points,
            } => {
                let s = self.own_open_stroke(page, stroke, &id.author)?;
                if let ShapeKind::Stroke { points: have, .. } = &mut s.kind {
                    if have.len() + points.len() > MAX_POINTS_PER_STROKE {
                        return Err(BoardError::StrokeTooLong);
                    }
                    have.extend_from_slice(points);
                }
                Ok(Record::Edit)
            }
            BoardAction::EndStroke { page, stroke } => {
                let s = self.own_open_stroke(page, stroke, &id.author)?;
                if let ShapeKind::Stroke { finished, .. } = &mut s.kind {
                    *finished = true;
                }
                Ok(Record::Step(vec![Change::ShapeAdded {
                    page: page.clone(),
                    id: stroke.clone(),
                }]))
            }
            BoardAction::AddShape { page, style, shape } => {
                let mut kind = shape.clone();
                if let ShapeKind::Stroke {
                    points, finished, ..
                } = &mut kind
                {
                    if points.len() > MAX_POINTS_PER_STROKE {
                        return Err(BoardError::StrokeTooLong);
                    }
                    *finished = true;
                }
                let shape = Shape {
                    id: id.shape_id(),
                    author: id.author.clone(),
                    style: style.clone(),
                    transform: Transform::IDENTITY,
                    kind,
                };
                let added = shape.id.clone();
                self.add_shape(page, shape)?;
                Ok(Record::Step(vec![Change::ShapeAdded {
                    page: page.clone(),
                    id: added,
                }]))
            }
            BoardAction::TransformShape {
                page,
                shape,
                transform,
            } => {
                let p = self.page_mut(page)?;
                let i = shape_index(p, shape).ok_or(BoardError::ShapeNotFound)?;
                let before = std::mem::replace(&mut p.shapes[i].transform, *transform);
                if before == *transform {
                    return Ok(Record::Edit);
                }
                Ok(Record::Step(vec![Change::TransformSet {
                    page: page.clone(),
                    shape: shape.clone(),
                    before,
                }]))
            }
            BoardAction::EraseShapes { page, shapes } => {
                let p = self.page_mut(page)?;
                let mut step = Vec::new();
                for id in shapes {
                    if let Some(index) = shape_index(p, id) {
                        let shape = p.shapes.remove(index);
                        step.push(Change::ShapeRemoved {
                            page: page.clone(),
                            index,
                            shape,
                        });
                    }
                }
                if step.is_empty() {
                    return Err(BoardError::ShapeNotFound);
                }
                Ok(Record::Step(step))
            }
            BoardAction::PartialErase {
                page,
                stroke,
                ranges,
            } => self.partial_erase(id, page, stroke, ranges),
            BoardAction::ClearPage { page } => {
                let p = self.page_mut(page)?;
                // Removed last to first, so that reverting the changes in reverse order
                // puts each shape back at the index it had.
                let step = std::iter::from_fn(|| {
                    let shape = p.shapes.pop()?;
                    Some(Change::ShapeRemoved {
                        page: page.clone(),
                        index: p.shapes.len(),
                        shape,
                    })
                })
                .collect();
                Ok(Record::Step(step))
            }
            // Undo and redo are handled by the caller; anything newer is not understood.
            _ => Err(BoardError::Forbidden),
        }
    }

    fn page_index(&self, id: &PageId) -> Result<usize, BoardError> {
        self.pages
            .iter()
            .position(|p| &p.id == id)
            .ok_or(BoardError::PageNotFound)
    }

    fn add_shape(&mut self, page: &PageId, shape: Shape) -> Result<(), BoardError> {
        let p = self.page_mut(page)?;
        if p.shapes.len() >= MAX_SHAPES_PER_PAGE {
            return Err(BoardError::TooManyShapes);
        }
        if shape_index(p, &shape.id).is_some() {
            return Err(BoardError::IdTaken);
        }
        p.shapes.push(shape);
        Ok(())
    }

    /// The author's own stroke that is still being drawn.
    fn own_open_stroke(
        &mut self,
        page: &PageId,
        stroke: &ShapeId,
        author: &PeerId,
    ) -> Result<&mut Shape, BoardError> {
        let p = self.page_mut(page)?;
        let i = shape_index(p, stroke).ok_or(BoardError::ShapeNotFound)?;
        let s = &mut p.shapes[i];
        match &s.kind {
            ShapeKind::Stroke { finished: true, .. } => Err(BoardError::StrokeFinished),
            ShapeKind::Stroke { .. } if &s.author != author => Err(BoardError::NotYourStroke),
            ShapeKind::Stroke { .. } => Ok(s),
            _ => Err(BoardError::NotAStroke),
        }
    }

    fn partial_erase(
        &mut self,
        id: &OpId,
        page: &PageId,
        stroke: &ShapeId,
        ranges: &[PointRange],
    ) -> Result<Record, BoardError> {
        let p = self.page_mut(page)?;
        let index = shape_index(p, stroke).ok_or(BoardError::ShapeNotFound)?;
        let original = &p.shapes[index];
        let ShapeKind::Stroke { points, smooth, .. } = &original.kind else {
            return Err(BoardError::NotAStroke);
        };
        let len = points.len();
        if ranges.last().is_some_and(|r| r.end as usize > len) {
            return Err(BoardError::BadRange);
        }
        let mut runs = Vec::with_capacity(ranges.len() + 1);
        let mut from = 0usize;
        for r in ranges {
            runs.push(from..r.start as usize);
            from = r.end as usize;
        }
        runs.push(from..len);
        runs.retain(|r| !r.is_empty());
        if p.shapes.len() - 1 + runs.len() > MAX_SHAPES_PER_PAGE {
            return Err(BoardError::TooManyShapes);
        }
        let pieces: Vec<Shape> = runs
            .into_iter()
            .zip(0u32..)
            .map(|(run, k)| Shape {
                id: id.piece_id(k),
                author: original.author.clone(),
                style: original.style.clone(),
                transform: original.transform,
                kind: ShapeKind::Stroke {
                    points: points[run].to_vec(),
                    smooth: *smooth,
                    // A piece is never drawn on: its pen is the original's, now gone.
                    finished: true,
                },
            })
            .collect();
        let removed = p.shapes.remove(index);
        let mut step = vec![Change::ShapeRemoved {
            page: page.clone(),
            index,
            shape: removed,
        }];
        for (piece, at) in pieces.into_iter().zip(index..) {
            step.push(Change::ShapeAdded {
                page: page.clone(),
                id: piece.id.clone(),
            });
            p.shapes.insert(at, piece);
        }
        Ok(Record::Step(step))
    }

    fn undo_redo(
        &mut self,
        author: &PeerId,
        undo: bool,
        applied: &mut Applied,
    ) -> Result<(), BoardError> {
        let nothing = if undo {
            BoardError::NothingToUndo
        } else {
            BoardError::NothingToRedo
        };
        let Some(h) = self.history.get_mut(author) else {
            return Err(nothing);
        };
        let pages = &self.pages;
        // Steps above the first one that still changes something are dropped: each is a
        // no-op now, and skipping them is what the author expects from the button.
        let found = if undo {
            h.undo.iter().rposition(|s| step_would_revert(pages, s))
        } else {
            h.redo.iter().rposition(|s| step_would_revert(pages, s))
        };
        let Some(at) = found else {
            return Err(nothing);
        };
        let step = if undo {
            h.undo.truncate(at + 1);
            h.undo.pop_back()
        } else {
            h.redo.truncate(at + 1);
            h.redo.pop()
        }
        .unwrap_or_default();
        let current_before = self.current.clone();
        let back = revert_step(
            &mut Pages {
                pages: &mut self.pages,
                current: &mut self.current,
            },
            step,
        );
        applied.current_page = current_before != self.current;
        for change in &back {
            match change {
                Change::PageAdded { page, .. } => {
                    applied.page_list = true;
                    applied.pages.push(page.clone());
                }
                Change::PageRemoved { .. } | Change::PageMoved { .. } => applied.page_list = true,
                Change::ShapeAdded { page, .. }
                | Change::ShapeRemoved { page, .. }
                | Change::TransformSet { page, .. }
                | Change::BackgroundSet { page, .. } => {
                    if !applied.pages.contains(page) {
                        applied.pages.push(page.clone());
                    }
                }
            }
        }
        // The history entry exists: it was found above.
        if let Some(h) = self.history.get_mut(author) {
            if undo {
                h.redo.push(back);
            } else {
                h.push_undo(back);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

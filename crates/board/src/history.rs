//! Per-author undo and redo.
//!
//! An undoable op records the exact changes it made as a [`Step`]. Undo reverts a step as
//! far as the board still allows (another author may have erased the shape since), and
//! records what it actually did as the redo step, so redo after undo lands on exactly the
//! state before the undo. Everything here is a pure function of the board and the op order,
//! so every replica makes the same choices.

use crate::limits::{MAX_PAGES, MAX_SHAPES_PER_PAGE, MAX_UNDO_DEPTH};
use lectern_proto::{Background, Page, PageId, Shape, ShapeId, Transform};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// One recorded change, holding what is needed to take it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Change {
    ShapeAdded {
        page: PageId,
        id: ShapeId,
    },
    ShapeRemoved {
        page: PageId,
        index: usize,
        shape: Shape,
    },
    TransformSet {
        page: PageId,
        shape: ShapeId,
        before: Transform,
    },
    PageAdded {
        page: PageId,
        /// The page that was current before this page became current by being restored,
        /// so that taking it away again goes back there rather than to a neighbour.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        current_before: Option<PageId>,
    },
    PageRemoved {
        index: usize,
        page: Page,
        was_current: bool,
    },
    PageMoved {
        page: PageId,
        from: usize,
    },
    BackgroundSet {
        page: PageId,
        before: Option<Background>,
    },
}

/// The changes of one undoable op, in the order they were made.
pub(crate) type Step = Vec<Change>;

/// One author's undo and redo stacks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct History {
    #[serde(default)]
    pub undo: VecDeque<Step>,
    #[serde(default)]
    pub redo: Vec<Step>,
}

impl History {
    pub fn push_undo(&mut self, step: Step) {
        if step.is_empty() {
            return;
        }
        self.undo.push_back(step);
        while self.undo.len() > MAX_UNDO_DEPTH {
            self.undo.pop_front();
        }
    }
}

/// The pages of a board and which one is shown: what a change touches.
pub(crate) struct Pages<'a> {
    pub pages: &'a mut Vec<Page>,
    pub current: &'a mut Option<PageId>,
}

fn page_index(pages: &[Page], id: &PageId) -> Option<usize> {
    pages.iter().position(|p| &p.id == id)
}

/// Shapes are looked up from the end: the shapes being drawn and changed are mostly the
/// newest.
pub(crate) fn shape_index(page: &Page, id: &ShapeId) -> Option<usize> {
    page.shapes.iter().rposition(|s| &s.id == id)
}

/// Keeps `current` on a page that exists after `index` was removed.
pub(crate) fn page_removed(
    pages: &[Page],
    current: &mut Option<PageId>,
    removed: &PageId,
    index: usize,
) {
    if current.as_ref() == Some(removed) {
        *current = pages
            .get(index.min(pages.len().saturating_sub(1)))
            .map(|p| p.id.clone());
    }
}

/// Whether reverting `change` would alter the board.
pub(crate) fn would_revert(pages: &[Page], change: &Change) -> bool {
    let page = |id: &PageId| page_index(pages, id).map(|i| &pages[i]);
    match change {
        Change::ShapeAdded { page: p, id } => page(p).is_some_and(|p| shape_index(p, id).is_some()),
        Change::ShapeRemoved { page: p, shape, .. } => page(p).is_some_and(|p| {
            p.shapes.len() < MAX_SHAPES_PER_PAGE && shape_index(p, &shape.id).is_none()
        }),
        Change::TransformSet {
            page: p,
            shape,
            before,
        } => page(p)
            .and_then(|p| shape_index(p, shape).map(|i| &p.shapes[i]))
            .is_some_and(|s| s.transform != *before),
        Change::PageAdded { page: p, .. } => page(p).is_some(),
        Change::PageRemoved { page: p, .. } => pages.len() < MAX_PAGES && page(&p.id).is_none(),
        Change::PageMoved { page: p, from } => {
            page_index(pages, p).is_some_and(|i| i != (*from).min(pages.len() - 1))
        }
        Change::BackgroundSet { page: p, before } => {
            page(p).is_some_and(|p| p.background != *before)
        }
    }
}

/// Whether undoing `step` would alter the board.
pub(crate) fn step_would_revert(pages: &[Page], step: &Step) -> bool {
    step.iter().any(|c| would_revert(pages, c))
}

/// Takes `change` back as far as the board allows; returns the change that takes the
/// revert back, or `None` when there was nothing left to revert.
pub(crate) fn revert(b: &mut Pages<'_>, change: Change) -> Option<Change> {
    if !would_revert(b.pages, &change) {
        return None;
    }
    // Every lookup below succeeds: `would_revert` just checked the same conditions.
    match change {
        Change::ShapeAdded { page, id } => {
            let at = page_index(b.pages, &page)?;
            let p = &mut b.pages[at];
            let index = shape_index(p, &id)?;
            let shape = p.shapes.remove(index);
            Some(Change::ShapeRemoved { page, index, shape })
        }
        Change::ShapeRemoved { page, index, shape } => {
            let at = page_index(b.pages, &page)?;
            let p = &mut b.pages[at];
            let id = shape.id.clone();
            p.shapes.insert(index.min(p.shapes.len()), shape);
            Some(Change::ShapeAdded { page, id })
        }
        Change::TransformSet {
            page,
            shape,
            before,
        } => {
            let at = page_index(b.pages, &page)?;
            let p = &mut b.pages[at];
            let i = shape_index(p, &shape)?;
            let now = std::mem::replace(&mut p.shapes[i].transform, before);
            Some(Change::TransformSet {
                page,
                shape,
                before: now,
            })
        }
        Change::PageAdded {
            page,
            current_before,
        } => {
            let index = page_index(b.pages, &page)?;
            let removed = b.pages.remove(index);
            let was_current = b.current.as_ref() == Some(&page);
            match current_before {
                Some(before) if was_current && page_index(b.pages, &before).is_some() => {
                    *b.current = Some(before);
                }
                _ => page_removed(b.pages, b.current, &page, index),
            }
            Some(Change::PageRemoved {
                index,
                page: removed,
                was_current,
            })
        }
        Change::PageRemoved {
            index,
            page,
            was_current,
        } => {
            let id = page.id.clone();
            b.pages.insert(index.min(b.pages.len()), page);
            let mut current_before = None;
            if was_current || b.current.is_none() {
                current_before = b.current.replace(id.clone()).filter(|c| *c != id);
            }
            Some(Change::PageAdded {
                page: id,
                current_before,
            })
        }
        Change::PageMoved { page, from } => {
            let now = page_index(b.pages, &page)?;
            let moved = b.pages.remove(now);
            b.pages.insert(from.min(b.pages.len()), moved);
            Some(Change::PageMoved { page, from: now })
        }
        Change::BackgroundSet { page, before } => {
            let at = page_index(b.pages, &page)?;
            let p = &mut b.pages[at];
            let now = std::mem::replace(&mut p.background, before);
            Some(Change::BackgroundSet { page, before: now })
        }
    }
}

/// Reverts a whole step, last change first; returns the step that takes it back, its
/// changes in the order they were just made (a step always keeps its changes in the order
/// they happened: each index it records is right only at that point).
pub(crate) fn revert_step(b: &mut Pages<'_>, step: Step) -> Step {
    step.into_iter()
        .rev()
        .filter_map(|c| revert(b, c))
        .collect()
}

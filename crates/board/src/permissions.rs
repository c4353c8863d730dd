//! Who may change the board.

use crate::BoardError;
use lectern_proto::{BoardAction, BoardEphemeral, GrantScope, PageId, PeerId, Role};
use std::collections::{BTreeMap, BTreeSet};

/// The pen grants of one room's students.
///
/// A teacher may always do anything. A student may draw, erase, move shapes and undo their
/// own steps only on pages their grant covers; pages, backgrounds, navigation and clearing
/// stay with the teacher. Grants are keyed by the student's stable [`PeerId`] (the token's
/// subject), so a grant outlives page changes and reconnects until it is revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    grants: BTreeMap<PeerId, Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    Board,
    Pages(BTreeSet<PageId>),
}

impl Permissions {
    /// No grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands `peer` the pen for `scope`, widening any grant they already hold.
    pub fn grant(&mut self, peer: PeerId, scope: GrantScope) {
        match scope {
            GrantScope::Board => {
                self.grants.insert(peer, Grant::Board);
            }
            GrantScope::Pages { pages } => match self
                .grants
                .entry(peer)
                .or_insert_with(|| Grant::Pages(BTreeSet::new()))
            {
                Grant::Board => {}
                Grant::Pages(have) => have.extend(pages),
            },
        }
    }

    /// Takes the pen back from `peer` everywhere; true if they held it.
    pub fn revoke(&mut self, peer: &PeerId) -> bool {
        self.grants.remove(peer).is_some()
    }

    /// What `peer` may draw on, if anything.
    pub fn scope(&self, peer: &PeerId) -> Option<GrantScope> {
        self.grants.get(peer).map(|g| match g {
            Grant::Board => GrantScope::Board,
            Grant::Pages(pages) => GrantScope::Pages {
                pages: pages.iter().cloned().collect(),
            },
        })
    }

    /// Everyone holding a grant, with its scope.
    pub fn grants(&self) -> impl Iterator<Item = (&PeerId, GrantScope)> + '_ {
        self.grants
            .keys()
            .filter_map(|p| self.scope(p).map(|s| (p, s)))
    }

    fn may_draw_on(&self, peer: &PeerId, page: &PageId) -> bool {
        match self.grants.get(peer) {
            Some(Grant::Board) => true,
            Some(Grant::Pages(pages)) => pages.contains(page),
            None => false,
        }
    }

    /// Whether `author`, in `role`, may make `action`. The relay calls this before
    /// [`crate::Sequencer::submit`] orders the op.
    pub fn check(
        &self,
        author: &PeerId,
        role: Role,
        action: &BoardAction,
    ) -> Result<(), BoardError> {
        match role {
            Role::Teacher => return Ok(()),
            Role::Student => {}
            Role::Observer => return Err(BoardError::Forbidden),
        }
        let allowed = match action {
            BoardAction::BeginStroke { page, .. }
            | BoardAction::AppendStroke { page, .. }
            | BoardAction::EndStroke { page, .. }
            | BoardAction::AddShape { page, .. }
            | BoardAction::TransformShape { page, .. }
            | BoardAction::EraseShapes { page, .. }
            | BoardAction::PartialErase { page, .. } => self.may_draw_on(author, page),
            // Undo and redo only ever touch the author's own steps; holding the pen at all
            // is enough, so a student can take back a stroke after a page change.
            BoardAction::Undo | BoardAction::Redo => self.grants.contains_key(author),
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(BoardError::Forbidden)
        }
    }

    /// Whether `author` may show a laser trail or a cursor: the teacher, and a student
    /// on a page they hold the pen for.
    pub fn check_ephemeral(
        &self,
        author: &PeerId,
        role: Role,
        ephemeral: &BoardEphemeral,
    ) -> Result<(), BoardError> {
        let page = match ephemeral {
            BoardEphemeral::Laser { page, .. } | BoardEphemeral::Cursor { page, .. } => page,
            _ => return Err(BoardError::Forbidden),
        };
        match role {
            Role::Teacher => Ok(()),
            Role::Student if self.may_draw_on(author, page) => Ok(()),
            _ => Err(BoardError::Forbidden),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_proto::{Pos, ShapeId};

    fn peer(s: &str) -> PeerId {
        PeerId::new(s).unwrap()
    }

    fn page(s: &str) -> PageId {
        PageId::new(s).unwrap()
    }

    fn erase_on(p: &str) -> BoardAction {
        BoardAction::EraseShapes {
            page: page(p),
            shapes: vec![ShapeId::new("t:1").unwrap()],
        }
    }

    #[test]
    fn the_teacher_may_do_anything_an_observer_nothing() {
        let perms = Permissions::new();
        let clear = BoardAction::ClearPage { page: page("t:1") };
        assert_eq!(perms.check(&peer("t"), Role::Teacher, &clear), Ok(()));
        assert_eq!(
            perms.check(&peer("o"), Role::Observer, &erase_on("t:1")),
            Err(BoardError::Forbidden)
        );
    }

    #[test]
    fn a_student_draws_only_while_granted() {
        let mut perms = Permissions::new();
        let s = peer("s1");
        assert_eq!(
            perms.check(&s, Role::Student, &erase_on("t:1")),
            Err(BoardError::Forbidden)
        );
        assert_eq!(
            perms.check(&s, Role::Student, &BoardAction::Undo),
            Err(BoardError::Forbidden)
        );
        perms.grant(
            s.clone(),
            GrantScope::Pages {
                pages: vec![page("t:1")],
            },
        );
        assert_eq!(perms.check(&s, Role::Student, &erase_on("t:1")), Ok(()));
        assert_eq!(perms.check(&s, Role::Student, &BoardAction::Undo), Ok(()));
        assert_eq!(
            perms.check(&s, Role::Student, &erase_on("t:2")),
            Err(BoardError::Forbidden)
        );
        // Teacher-only actions stay refused, whatever the grant.
        let nav = BoardAction::SetCurrentPage { page: page("t:1") };
        assert_eq!(
            perms.check(&s, Role::Student, &nav),
            Err(BoardError::Forbidden)
        );
        perms.grant(s.clone(), GrantScope::Board);
        assert_eq!(perms.check(&s, Role::Student, &erase_on("t:2")), Ok(()));
        // A page grant does not narrow a board grant.
        perms.grant(s.clone(), GrantScope::Pages { pages: vec![] });
        assert_eq!(perms.scope(&s), Some(GrantScope::Board));
        assert!(perms.revoke(&s));
        assert!(!perms.revoke(&s));
        assert_eq!(
            perms.check(&s, Role::Student, &erase_on("t:1")),
            Err(BoardError::Forbidden)
        );
    }

    #[test]
    fn page_grants_add_up_and_are_listed() {
        let mut perms = Permissions::new();
        let s = peer("s1");
        perms.grant(
            s.clone(),
            GrantScope::Pages {
                pages: vec![page("t:2")],
            },
        );
        perms.grant(
            s.clone(),
            GrantScope::Pages {
                pages: vec![page("t:1")],
            },
        );
        let listed: Vec<_> = perms.grants().collect();
        assert_eq!(
            listed,
            vec![(
                &s,
                GrantScope::Pages {
                    pages: vec![page("t:1"), page("t:2")]
                }
            )]
        );
    }

    #[test]
    fn lasers_follow_the_pen() {
        let mut perms = Permissions::new();
        let s = peer("s1");
        let laser = BoardEphemeral::Laser {
            page: page("t:1"),
            trail: vec![Pos { x: 1.0, y: 1.0 }],
        };
        assert_eq!(
            perms.check_ephemeral(&peer("t"), Role::Teacher, &laser),
            Ok(())
        );
        assert_eq!(
            perms.check_ephemeral(&s, Role::Student, &laser),
            Err(BoardError::Forbidden)
        );
        perms.grant(s.clone(), GrantScope::Board);
        assert_eq!(perms.check_ephemeral(&s, Role::Student, &laser), Ok(()));
    }
}

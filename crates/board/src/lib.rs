//! Lectern's whiteboard model: pages, shapes, the ops that change them, per-author
//! undo/redo, pen permissions, the relay's ordering and the client's rebase.
//!
//! Pure logic: no I/O, no async, no clock. The relay's board hub owns a [`Sequencer`] per
//! room and feeds it ops from the WebSocket; each client owns a [`ClientBoard`].
//!
//! # Invariants
//! - A [`Board`] changes only through [`Board::apply`], which either applies an op whole or
//!   returns a [`BoardError`] and changes nothing. It never panics on any op.
//! - Applying the same ops in the same order gives equal boards, history included; the
//!   limits in [`limits`] are constants for that reason.
//! - Each author's `client_seq` rises with every accepted op, so an op applies at most
//!   once, and the page and shape ids derived from it are unique for the board's life.
//! - Undo reverts the author's own latest step that still changes something; redo after
//!   undo restores the exact state before the undo; any new edit by the author ends its
//!   redo.
//! - `current_page` is `None` exactly when there are no pages.
//! - A [`ClientBoard`] whose pending ops have all been confirmed or refused equals the
//!   relay's board.

mod board;
mod client;
mod doc;
mod error;
mod history;
mod permissions;
mod sequencer;

/// The size limits every op is checked against.
pub mod limits;

pub use board::{Applied, Board};
pub use client::ClientBoard;
pub use doc::Snapshot;
pub use error::BoardError;
pub use limits::check_ephemeral;
pub use permissions::Permissions;
pub use sequencer::Sequencer;

//! A client's side: draw at once, then settle on the relay's order.

use crate::{Applied, Board, BoardError, Snapshot};
use lectern_proto::{BoardAction, BoardOp, PeerId};
use std::collections::VecDeque;

/// A client's copy of the board.
///
/// Local ops apply at once to the board the user sees and wait as pending until the
/// relay's ordered copy of them comes back. Ordered ops apply to the confirmed board;
/// when someone else's op lands before ours, the view is rebuilt as the confirmed board
/// plus the pending ops that still apply (one that no longer applies would be refused by
/// the relay too, so it is dropped). Once every pending op is confirmed or refused, the
/// view equals the relay's board.
#[derive(Debug, Clone)]
pub struct ClientBoard {
    me: PeerId,
    confirmed: Board,
    confirmed_seq: u64,
    view: Board,
    pending: VecDeque<BoardOp>,
    next_client_seq: u64,
}

impl ClientBoard {
    /// Starts from the relay's snapshot, as `me`.
    pub fn new(me: PeerId, snapshot: Snapshot) -> Self {
        let next_client_seq = snapshot.board.last_client_seq(&me).saturating_add(1);
        Self {
            me,
            view: snapshot.board.clone(),
            confirmed: snapshot.board,
            confirmed_seq: snapshot.seq,
            pending: VecDeque::new(),
            next_client_seq,
        }
    }

    /// The board to show: confirmed plus pending.
    pub fn board(&self) -> &Board {
        &self.view
    }

    /// The board as the relay has ordered it so far.
    pub fn confirmed(&self) -> &Board {
        &self.confirmed
    }

    /// The server seq the confirmed board is at; ask for the ops since this after a
    /// reconnect.
    pub fn confirmed_seq(&self) -> u64 {
        self.confirmed_seq
    }

    /// Local ops not yet confirmed, oldest first; resend them after a reconnect (the relay
    /// refuses a repeat by its `client_seq`, so resending one it has is harmless).
    pub fn pending(&self) -> impl Iterator<Item = &BoardOp> {
        self.pending.iter()
    }

    /// Makes and applies a local op; returns it to send to the relay.
    pub fn local(&mut self, action: BoardAction) -> Result<(BoardOp, Applied), BoardError> {
        let op = BoardOp::new(self.me.clone(), self.next_client_seq, action);
        let applied = self.view.apply(&op)?;
        // Only an op that applied uses up a number, so the relay sees no gap it must
        // explain; gaps would be fine, but fewer surprises in logs.
        self.next_client_seq = self.next_client_seq.saturating_add(1);
        self.pending.push_back(op.clone());
        Ok((op, applied))
    }

    /// Applies an op in the relay's order. Returns false for one already applied (a
    /// repeat after a reconnect).
    pub fn receive(&mut self, op: &BoardOp) -> Result<bool, BoardError> {
        let Some(seq) = op.server_seq else {
            return Err(BoardError::SeqGap {
                expected: self.confirmed_seq.saturating_add(1),
                got: 0,
            });
        };
        if seq <= self.confirmed_seq {
            return Ok(false);
        }
        if seq != self.confirmed_seq.saturating_add(1) {
            return Err(BoardError::SeqGap {
                expected: self.confirmed_seq.saturating_add(1),
                got: seq,
            });
        }
        self.confirmed
            .apply(op)
            .map_err(|e| BoardError::Desync(e.code()))?;
        self.confirmed_seq = seq;

        if op.author == self.me {
            // The relay may write an op in our name (it lifts our pen when the pen is taken
            // back or the connection drops) with a number we have not used yet: never reuse
            // it, or every later local op would be refused as a repeat.
            self.next_client_seq = self.next_client_seq.max(op.client_seq.saturating_add(1));
            // The relay orders one sender's ops as sent, so ours that are older than this
            // one and still pending were refused.
            let mut dropped = false;
            while self
                .pending
                .front()
                .is_some_and(|p| p.client_seq < op.client_seq)
            {
                self.pending.pop_front();
                dropped = true;
            }
            let front = self.pending.front();
            let same_seq = front.is_some_and(|p| p.client_seq == op.client_seq);
            // The same number with another action is an op from an earlier session of
            // ours; the pending one of that number will be refused as a repeat.
            let ours = same_seq && front.is_some_and(|p| p.action == op.action);
            if same_seq {
                self.pending.pop_front();
            }
            // The view already is the confirmed board plus this op plus the rest.
            if ours && !dropped {
                return Ok(true);
            }
        } else if self.pending.is_empty() {
            // Nothing of ours to replay: the view is the confirmed board and takes the op
            // the same way.
            if self.view.apply(op).is_err() {
                self.view = self.confirmed.clone();
            }
            return Ok(true);
        }
        self.rebase();
        Ok(true)
    }

    /// The relay refused our op `client_seq`: forget it and rebuild the view without it.
    pub fn refused(&mut self, client_seq: u64) {
        let before = self.pending.len();
        self.pending.retain(|p| p.client_seq != client_seq);
        if self.pending.len() != before {
            self.rebase();
        }
    }

    /// Starts over from a fresh snapshot (after a gap too large to fill with ops), keeping
    /// pending ops that still apply on top of it.
    pub fn resync(&mut self, snapshot: Snapshot) {
        self.confirmed = snapshot.board;
        self.confirmed_seq = snapshot.seq;
        let mine = self.confirmed.last_client_seq(&self.me);
        // Ours that the snapshot already holds were confirmed in the ops we missed.
        self.pending.retain(|p| p.client_seq > mine);
        self.next_client_seq = self.next_client_seq.max(mine.saturating_add(1));
        self.rebase();
    }

    fn rebase(&mut self) {
        let mut view = self.confirmed.clone();
        self.pending.retain(|op| view.apply(op).is_ok());
        self.view = view;
    }
}

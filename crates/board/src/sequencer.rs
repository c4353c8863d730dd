//! The relay's side: one authoritative board per room and the order of its ops.

use crate::{Applied, Board, BoardError, Permissions, Snapshot};
use lectern_proto::{BoardOp, PeerId, Role};

/// Orders a room's ops: checks each against the sender, the permissions and the board,
/// numbers the accepted ones 1, 2, 3, … and keeps them as the log that late joiners,
/// reconnecting clients and recordings read.
///
/// A refused op changes nothing and gets no number; the relay tells only its sender.
#[derive(Debug, Clone, Default)]
pub struct Sequencer {
    board: Board,
    permissions: Permissions,
    /// Ops `first_seq ..= seq`, in order.
    log: Vec<BoardOp>,
    /// The seq of `log[0]`, above 1 once the head has been trimmed.
    first_seq: u64,
    seq: u64,
}

impl Sequencer {
    /// An empty board with no ops yet.
    pub fn new() -> Self {
        Self::from_snapshot(Snapshot::new(0, Board::new()))
    }

    /// Carries on from a stored snapshot (after a relay restart, say); the log starts
    /// empty after it.
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        Self {
            board: snapshot.board,
            permissions: Permissions::new(),
            log: Vec::new(),
            first_seq: snapshot.seq.saturating_add(1),
            seq: snapshot.seq,
        }
    }

    /// The authoritative board.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The room's pen grants.
    pub fn permissions(&self) -> &Permissions {
        &self.permissions
    }

    /// The room's pen grants, to grant or revoke.
    pub fn permissions_mut(&mut self) -> &mut Permissions {
        &mut self.permissions
    }

    /// The seq of the last accepted op (0 before any).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Checks and orders `op` from `sender`. On success returns the op numbered for
    /// broadcast to everyone (the sender included: that is its confirmation) and what it
    /// changed.
    pub fn submit(
        &mut self,
        sender: &PeerId,
        role: Role,
        mut op: BoardOp,
    ) -> Result<(&BoardOp, Applied), BoardError> {
        if &op.author != sender {
            return Err(BoardError::WrongAuthor);
        }
        self.permissions.check(sender, role, &op.action)?;
        let applied = self.board.apply(&op)?;
        self.seq = self.seq.saturating_add(1);
        op.server_seq = Some(self.seq);
        self.log.push(op);
        // Just pushed.
        let op = self.log.last().ok_or(BoardError::Desync("empty log"))?;
        Ok((op, applied))
    }

    /// The board as of now, for a late joiner or for storage.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.seq, self.board.clone())
    }

    /// The ops after `seq`, in order, for a client that has the board up to `seq`.
    pub fn ops_since(&self, seq: u64) -> Result<&[BoardOp], BoardError> {
        if seq >= self.seq {
            return Ok(&[]);
        }
        if seq + 1 < self.first_seq {
            return Err(BoardError::SeqTrimmed(self.first_seq));
        }
        let from = usize::try_from(seq + 1 - self.first_seq).unwrap_or(usize::MAX);
        Ok(self.log.get(from..).unwrap_or(&[]))
    }

    /// The whole log kept, oldest first.
    pub fn log(&self) -> &[BoardOp] {
        &self.log
    }

    /// Forgets the ops up to and including `seq` (once they are stored elsewhere); a
    /// client further behind than that is sent a snapshot instead.
    pub fn trim_log(&mut self, seq: u64) {
        let upto = seq.min(self.seq);
        if upto < self.first_seq {
            return;
        }
        let n = usize::try_from(upto.saturating_add(1) - self.first_seq).unwrap_or(usize::MAX);
        self.log.drain(..n.min(self.log.len()));
        self.first_seq = upto.saturating_add(1);
    }
}

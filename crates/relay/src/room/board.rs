//! The board hub: one authoritative whiteboard per room, fed by the `board_*` messages.
//!
//! The model (`lectern-board`) decides what an op does and whether it may; this module
//! decides who hears of it and how much anyone may send:
//!
//! - A room's board is made when someone first uses it, with one blank page added by
//!   [`RELAY_AUTHOR`], so there is always a page to draw on and no client has to race to
//!   create it. It lives as long as the room.
//! - Only connections that sent `board_sync` hear of ops, ephemerals and grants: the
//!   snapshot they were sent is followed on the same socket by every op after it, so a
//!   client never sees an op before the board it applies to.
//! - An accepted op goes to every subscriber, its sender included (the sender's
//!   confirmation); a refused one only to its sender, as `board_refused`.
//! - The log keeps the last [`LOG_KEEP_OPS`] ops (or [`LOG_KEEP_BYTES`] of them); a client
//!   further behind is sent a snapshot, so memory does not grow with the length of a class.

use super::rate::{Bucket, Flood};
use super::{ConnId, Now, RoomOutput, Rooms};
use lectern_board::{Board, BoardError, Sequencer, check_ephemeral, limits::MAX_PAGES};
use lectern_proto::{
    ApiError, BoardAction, BoardEphemeral, BoardOp, DOC_VERSION, Envelope, ErrorCode, GrantScope,
    PROTOCOL_VERSION, PeerId, PenGrant, Role, RoomId, ServerMessage, ShapeKind,
};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Instant;

/// The author of the ops the relay makes itself (the first page). Ops sent by a
/// participant with this id are refused.
pub const RELAY_AUTHOR: &str = "relay";
/// Ops kept in a room's log for catching up; older ones are forgotten.
pub const LOG_KEEP_OPS: usize = 5_000;
/// Bytes of ops (as received) kept in a room's log at most.
pub const LOG_KEEP_BYTES: usize = 16 << 20;
/// Most ops one `board_ops` answer carries; a client further behind gets a snapshot,
/// which is then usually the smaller of the two.
pub const MAX_CATCH_UP_OPS: usize = 1_000;
/// Board ops a connection may send a second, sustained.
pub const BOARD_OPS_PER_SEC: f64 = 60.0;
/// Board ops a connection may send at once, above the sustained rate.
pub const BOARD_OPS_BURST: f64 = 200.0;
/// Laser and cursor messages a connection may send a second (and at once).
pub const EPHEMERAL_PER_SEC: f64 = 30.0;
/// How much a connection may keep exceeding its board budgets before it is closed:
/// each refused message adds one, and the level drains by [`FLOOD_DRAIN_PER_SEC`].
const FLOOD_LIMIT: f64 = 100.0;
const FLOOD_DRAIN_PER_SEC: f64 = 10.0;

fn relay_author() -> PeerId {
    PeerId::new(RELAY_AUTHOR).expect("\"relay\" is a valid peer id")
}

/// One room's board and what it takes to serve it.
#[derive(Debug)]
pub(super) struct RoomBoard {
    seq: Sequencer,
    /// Tells this copy of the board from an earlier one of the same room (the relay
    /// restarted, or the room emptied): a client's `since` means nothing across copies.
    epoch: u64,
    /// (server seq, bytes) of each op in the log, oldest first, to bound it by size.
    sizes: VecDeque<(u64, usize)>,
    bytes: usize,
    /// The latest `board_snapshot` message written and its seq: a class joining at once
    /// costs one serialization of the board, not one each.
    cached: Option<(u64, String)>,
}

impl RoomBoard {
    fn new(now: Now) -> Self {
        let mut seq = Sequencer::new();
        let first_page = BoardOp::new(
            relay_author(),
            1,
            BoardAction::AddPage {
                index: None,
                background: None,
            },
        );
        // A page on an empty board is always accepted; were it not, the board would
        // simply start empty and the teacher would add one.
        if let Err(e) = seq.submit(&relay_author(), Role::Teacher, first_page) {
            tracing::warn!(%e, "the first page of a board was refused");
        }
        Self {
            seq,
            epoch: now.unix_ms,
            sizes: VecDeque::new(),
            bytes: 0,
            cached: None,
        }
    }

    /// The authoritative board.
    #[cfg(test)]
    pub(super) fn sequencer(&self) -> &Sequencer {
        &self.seq
    }

    fn grants(&self) -> Vec<PenGrant> {
        self.seq
            .permissions()
            .grants()
            .map(|(peer, scope)| PenGrant {
                peer: peer.clone(),
                scope,
            })
            .collect()
    }

    fn snapshot_text(&mut self) -> String {
        let seq = self.seq.seq();
        if let Some((at, text)) = &self.cached
            && *at == seq
        {
            return text.clone();
        }
        // Written from the board by reference, in the layout of `lectern_board::Snapshot`
        // (a test reads it back as one), so a late joiner costs no copy of the board.
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            version: u32,
            seq: u64,
            board: &'a Board,
        }
        #[derive(Serialize)]
        struct Message<'a> {
            v: u32,
            #[serde(rename = "type")]
            kind: &'static str,
            epoch: u64,
            snapshot: SnapshotRef<'a>,
        }
        let text = serde_json::to_string(&Message {
            v: PROTOCOL_VERSION,
            kind: "board_snapshot",
            epoch: self.epoch,
            snapshot: SnapshotRef {
                version: DOC_VERSION,
                seq,
                board: self.seq.board(),
            },
        })
        .expect("a board serializes");
        self.cached = Some((seq, text.clone()));
        text
    }

    /// Orders `op`; on success returns the ordered op.
    fn submit(
        &mut self,
        sender: &PeerId,
        role: Role,
        op: BoardOp,
        bytes: usize,
    ) -> Result<BoardOp, BoardError> {
        let (op, _) = self.seq.submit(sender, role, op)?;
        let op = op.clone();
        let seq = op.server_seq.unwrap_or_default();
        self.sizes.push_back((seq, bytes));
        self.bytes += bytes;
        self.trim();
        Ok(op)
    }

    /// Keeps the log within its budget, trimming in steps of a tenth so that the cost of
    /// moving the log is spread over many ops.
    fn trim(&mut self) {
        if self.sizes.len() <= LOG_KEEP_OPS && self.bytes <= LOG_KEEP_BYTES {
            return;
        }
        let mut upto = None;
        while self.sizes.len() > LOG_KEEP_OPS * 9 / 10 || self.bytes > LOG_KEEP_BYTES * 9 / 10 {
            let Some((seq, bytes)) = self.sizes.pop_front() else {
                break;
            };
            self.bytes -= bytes;
            upto = Some(seq);
        }
        if let Some(seq) = upto {
            self.seq.trim_log(seq);
        }
    }
}

/// One connection's side of the board.
#[derive(Debug)]
pub(super) struct BoardConn {
    /// The token's `board` grant: may see the board (and be handed the pen).
    access: bool,
    /// Sent `board_sync`: hears of ops, ephemerals and grants.
    synced: bool,
    ops: Bucket,
    ephemeral: Bucket,
    flood: Flood,
}

impl BoardConn {
    pub(super) fn new(now: Instant, access: bool) -> Self {
        Self {
            access,
            synced: false,
            ops: Bucket::full(now, BOARD_OPS_PER_SEC, BOARD_OPS_BURST),
            ephemeral: Bucket::full(now, EPHEMERAL_PER_SEC, EPHEMERAL_PER_SEC),
            flood: Flood::new(now, FLOOD_DRAIN_PER_SEC, FLOOD_LIMIT),
        }
    }
}

fn to_text(msg: ServerMessage) -> String {
    serde_json::to_string(&Envelope::new(msg)).expect("messages serialize")
}

fn no_board_grant() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "this token has no board grant")
}

/// Who sent a board message: their room, id and role, and whether their token may see
/// the board.
struct Sender {
    room: RoomId,
    peer: PeerId,
    role: Role,
    access: bool,
}

impl Rooms {
    fn sender(&self, conn: ConnId) -> Option<Sender> {
        let c = self.conns.get(&conn)?;
        let role = self
            .rooms
            .get(&c.room)?
            .members
            .iter()
            .find(|m| m.participant.id == c.peer)?
            .participant
            .role;
        Some(Sender {
            room: c.room.clone(),
            peer: c.peer.clone(),
            role,
            access: c.board.access,
        })
    }

    /// The room's board, made with its first page if nobody has used it yet.
    fn board_mut(&mut self, now: Now, room: &RoomId) -> Option<&mut RoomBoard> {
        let r = self.rooms.get_mut(room)?;
        Some(r.board.get_or_insert_with(|| RoomBoard::new(now)))
    }

    /// Sends `text` to the room's board subscribers but `except`, and to `also` whether
    /// subscribed or not.
    fn board_send(
        &mut self,
        room: &RoomId,
        text: &str,
        also: Option<ConnId>,
        except: Option<ConnId>,
    ) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let conns = &self.conns;
        let targets = r.online().filter_map(|m| m.conn).filter(|c| {
            Some(*c) != except && (Some(*c) == also || conns.get(c).is_some_and(|c| c.board.synced))
        });
        for conn in targets {
            self.out.push_back(RoomOutput::SendText {
                conn,
                text: text.to_string(),
            });
        }
    }

    fn board_refused(&mut self, conn: ConnId, client_seq: u64, code: &str, message: String) {
        self.push(
            conn,
            ServerMessage::BoardRefused {
                client_seq,
                code: code.to_string(),
                message,
            },
        );
    }

    /// Counts a message over a board budget; true when the connection is closed for it.
    fn board_flooded(&mut self, now: Now, conn: ConnId) -> bool {
        let over = self
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.board.flood.hit(now.mono));
        if over {
            self.bye(conn, lectern_proto::ByeReason::Misbehaving);
        }
        over
    }

    /// A `board_op`: checked, ordered and broadcast, or refused to its sender.
    pub(super) fn board_op(&mut self, now: Now, conn: ConnId, op: BoardOp, bytes: usize) {
        let client_seq = op.client_seq;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.board.ops.take(now.mono) {
            if !self.board_flooded(now, conn) {
                let message = format!("more than {BOARD_OPS_PER_SEC} board ops a second");
                self.board_refused(conn, client_seq, "rate_limited", message);
            }
            return;
        }
        let Some(from) = self.sender(conn) else {
            return;
        };
        if !from.access || from.peer.as_str() == RELAY_AUTHOR {
            let e = BoardError::Forbidden;
            return self.board_refused(conn, client_seq, e.code(), no_board_grant().message);
        }
        let Some(board) = self.board_mut(now, &from.room) else {
            return;
        };
        match board.submit(&from.peer, from.role, op, bytes) {
            Ok(ordered) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.strikes = 0;
                }
                let text = to_text(ServerMessage::BoardOp { op: ordered });
                self.board_send(&from.room, &text, Some(conn), None);
            }
            Err(e) => self.board_refused(conn, client_seq, e.code(), e.to_string()),
        }
    }

    /// A `board_op` that did not parse but named its counter.
    pub(super) fn board_malformed(&mut self, conn: ConnId, client_seq: u64, why: &str) {
        if !self.strike(conn) {
            self.board_refused(conn, client_seq, "malformed", why.to_string());
        }
    }

    /// A laser trail or cursor: passed on to the other subscribers, never stored. One
    /// that is not allowed (no pen on that page) is dropped without a word: it is gone a
    /// moment later anyway, and a pointer must not earn its sender strikes.
    pub(super) fn board_ephemeral(
        &mut self,
        now: Now,
        conn: ConnId,
        e: BoardEphemeral,
        bytes: usize,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.board.ephemeral.take(now.mono) {
            self.board_flooded(now, conn);
            return;
        }
        if bytes > super::MAX_SIGNAL_BYTES {
            return self.refuse(conn, ErrorCode::TooLarge, "messages are at most 16 KiB");
        }
        if let Err(err) = check_ephemeral(&e) {
            return self.refuse(conn, err.api_code(), &err.to_string());
        }
        let Some(from) = self.sender(conn) else {
            return;
        };
        if !from.access {
            return;
        }
        let Some(board) = self.board_mut(now, &from.room) else {
            return;
        };
        let permissions = board.seq.permissions();
        if permissions
            .check_ephemeral(&from.peer, from.role, &e)
            .is_err()
        {
            return;
        }
        let text = to_text(ServerMessage::BoardEphemeral { peer: from.peer, e });
        self.board_send(&from.room, &text, None, Some(conn));
    }

    /// A `board_sync`: subscribes the connection and sends it the grants, then the board
    /// (a snapshot) or the ops it missed.
    pub(super) fn board_sync(
        &mut self,
        now: Now,
        conn: ConnId,
        since: Option<u64>,
        epoch: Option<u64>,
    ) -> Result<(), ApiError> {
        let from = self
            .sender(conn)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "member vanished"))?;
        if !from.access {
            return Err(no_board_grant());
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.board.synced = true;
        }
        let board = self
            .board_mut(now, &from.room)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "room vanished"))?;
        let grants = board.grants();
        let same_board = epoch.is_none_or(|e| e == board.epoch);
        let catch_up = match since {
            // A `since` past the end is from another copy of the board (an old client of
            // a restarted relay): only a snapshot can put it right.
            Some(since) if same_board && since <= board.seq.seq() => {
                match board.seq.ops_since(since) {
                    Ok(ops) if ops.len() <= MAX_CATCH_UP_OPS => Some(ops.to_vec()),
                    _ => None,
                }
            }
            _ => None,
        };
        let text = match catch_up {
            Some(ops) => to_text(ServerMessage::BoardOps { ops }),
            None => board.snapshot_text(),
        };
        self.push(conn, ServerMessage::BoardGrants { grants });
        self.out.push_back(RoomOutput::SendText { conn, text });
        Ok(())
    }

    /// A `board_grant`: the teacher hands out or takes back the pen; everyone subscribed
    /// hears who holds it now.
    pub(super) fn board_grant(
        &mut self,
        now: Now,
        conn: ConnId,
        peer: PeerId,
        scope: Option<GrantScope>,
    ) -> Result<(), ApiError> {
        let from = self
            .sender(conn)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "member vanished"))?;
        if !from.access {
            return Err(no_board_grant());
        }
        if from.role != Role::Teacher {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only a teacher hands out the pen",
            ));
        }
        if let Some(scope) = &scope {
            if let GrantScope::Pages { pages } = scope
                && pages.len() > MAX_PAGES
            {
                return Err(ApiError::new(
                    ErrorCode::TooLarge,
                    format!("a grant names at most {MAX_PAGES} pages"),
                ));
            }
            // Anyone still known to the room: a student whose connection dropped keeps
            // a place on stage, and may be handed the pen for when they are back.
            let target = self
                .rooms
                .get(&from.room)
                .and_then(|r| r.members.iter().find(|m| m.participant.id == peer))
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, format!("{peer} is not in the room"))
                })?;
            if target.participant.role != Role::Student {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "only students are handed the pen",
                ));
            }
        }
        let board = self
            .board_mut(now, &from.room)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "room vanished"))?;
        let revoked = match scope {
            Some(scope) => {
                board.seq.permissions_mut().grant(peer.clone(), scope);
                false
            }
            None => board.seq.permissions_mut().revoke(&peer),
        };
        let grants = board.grants();
        if revoked {
            self.end_strokes_of(&from.room, &peer);
        }
        let text = to_text(ServerMessage::BoardGrants { grants });
        self.board_send(&from.room, &text, Some(conn), None);
        Ok(())
    }

    /// Ends `peer`'s unfinished strokes in their name, as if they had lifted the pen:
    /// they left, or lost the pen. Their next `client_seq` is used, so a pending op of
    /// theirs with that number is refused as a repeat (`stale_op`) if they come back.
    pub(super) fn end_strokes_of(&mut self, room: &RoomId, peer: &PeerId) {
        let Some(board) = self.rooms.get_mut(room).and_then(|r| r.board.as_mut()) else {
            return;
        };
        let open: Vec<_> = board
            .seq
            .board()
            .pages()
            .iter()
            .flat_map(|page| {
                page.shapes
                    .iter()
                    .filter(|s| {
                        &s.author == peer
                            && matches!(
                                s.kind,
                                ShapeKind::Stroke {
                                    finished: false,
                                    ..
                                }
                            )
                    })
                    .map(|s| (page.id.clone(), s.id.clone()))
            })
            .collect();
        let mut ordered = Vec::new();
        for (page, stroke) in open {
            let client_seq = board.seq.board().last_client_seq(peer).saturating_add(1);
            let op = BoardOp::new(
                peer.clone(),
                client_seq,
                BoardAction::EndStroke { page, stroke },
            );
            // The teacher's role, so that a revoked pen can still be lifted.
            match board.submit(peer, Role::Teacher, op, 0) {
                Ok(op) => ordered.push(op),
                Err(e) => tracing::warn!(%e, %peer, "could not end a stroke"),
            }
        }
        for op in ordered {
            let text = to_text(ServerMessage::BoardOp { op });
            self.board_send(room, &text, None, None);
        }
    }
}

//! Room signaling over WebSocket, version 1 (see `docs/protocol.md`).
//!
//! Every frame is one JSON text message `{"v": 1, "type": "...", ...}`. The shapes are
//! plain enough for a WeChat mini-program's `wx.connectSocket` or any browser. Fields
//! are only ever added; a client ignores fields and message types it does not know.
//!
//! The whiteboard rides on the same socket (the `board_*` messages). One of them,
//! `board_snapshot`, is not a [`ServerMessage`] variant: it carries a whole board
//! document, whose type lives in `lectern-board` (which depends on this crate), so the
//! relay writes it itself as `{"v": 1, "type": "board_snapshot", "epoch": …,
//! "snapshot": {"version": 1, "seq": …, "board": {…}}}`.

use crate::{ApiError, BoardEphemeral, BoardOp, GrantScope, PeerId, Role, RoomId};
use serde::{Deserialize, Serialize};

/// The signaling protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 500;

/// Most students on stage at once (the 1v6 class).
pub const MAX_STAGE: usize = 6;

/// A message with its protocol version, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Protocol version; the relay answers other versions with `unsupported_version`.
    pub v: u32,
    /// The message itself; its `type` field sits beside `v`.
    #[serde(flatten)]
    pub body: T,
}

impl<T> Envelope<T> {
    /// Wraps `body` in the current protocol version.
    pub fn new(body: T) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            body,
        }
    }
}

/// What a participant sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMessage {
    /// Raise or lower one's hand.
    RaiseHand { raised: bool },
    /// Say something to the room.
    Chat { text: String },
    /// Teacher: invite a student to the stage.
    Invite { peer: PeerId },
    /// Student: answer an invitation.
    AnswerInvite { accept: bool },
    /// Teacher: take a student off the stage.
    RemoveFromStage { peer: PeerId },
    /// Student: step down from the stage.
    LeaveStage,
    /// Teacher: ask an on-stage student to mute or unmute their microphone.
    RequestMute { peer: PeerId, muted: bool },
    /// Keep-alive; answered with `pong` carrying the same id.
    Ping {
        #[serde(default)]
        id: u64,
    },
    /// A whiteboard op, `server_seq` absent; `author` must be the sender. Answered by the
    /// ordered op (`board_op` with `server_seq`, to everyone) or `board_refused`.
    BoardOp { op: BoardOp },
    /// A laser trail or cursor, passed on to everyone else and never stored.
    BoardEphemeral { e: BoardEphemeral },
    /// Subscribe to the board. Without `since`: answered with `board_snapshot`. With
    /// `since` (the seq of the last ordered op the client holds) and the `epoch` of the
    /// snapshot it started from: answered with `board_ops` (the ops after `since`), or a
    /// snapshot when they are no longer kept or the board is another one.
    BoardSync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<u64>,
    },
    /// Teacher: hand a student the pen for `scope`, or take it back when `scope` is
    /// absent.
    BoardGrant {
        peer: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<GrantScope>,
    },
}

/// A student holding the pen, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenGrant {
    pub peer: PeerId,
    pub scope: GrantScope,
}

/// One person in the room, as the roster shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: PeerId,
    pub name: String,
    pub role: Role,
    /// Hand raised.
    pub hand: bool,
    /// On the stage (may publish).
    pub on_stage: bool,
}

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    pub from: PeerId,
    pub name: String,
    pub text: String,
    /// When the relay received it, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// How a publisher reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// WebRTC through WHIP.
    Whip,
    /// RTMP (a mini-program's live-pusher).
    Rtmp,
}

/// Someone whose media can be watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publisher {
    pub peer: PeerId,
    pub name: String,
    pub role: Role,
    pub audio: bool,
    pub video: bool,
    pub transport: Transport,
}

/// What the relay sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMessage {
    /// First message after connecting: the room as it is now.
    Welcome {
        room: RoomId,
        you: Participant,
        roster: Vec<Participant>,
        publishers: Vec<Publisher>,
        chat: Vec<ChatLine>,
        max_stage: usize,
    },
    /// Someone joined (or changed: hand, stage).
    Participant { participant: Participant },
    /// Someone left.
    Left { peer: PeerId },
    /// A chat line.
    Chat { line: ChatLine },
    /// You are invited to the stage.
    Invited { by: PeerId },
    /// Teacher: a student answered an invitation.
    InviteAnswered { peer: PeerId, accept: bool },
    /// Who is on stage now, in order of arrival.
    Stage { peers: Vec<PeerId> },
    /// The teacher asks you to mute or unmute.
    MuteRequested { muted: bool },
    /// Someone started publishing.
    PublisherAdded { publisher: Publisher },
    /// Someone stopped publishing.
    PublisherRemoved { peer: PeerId },
    /// Your last message was refused; the connection stays open.
    Error {
        #[serde(flatten)]
        error: ApiError,
    },
    /// Answer to `ping`.
    Pong { id: u64 },
    /// The relay closes this connection (replaced by a newer one, room closed, shutdown).
    Bye { reason: ByeReason },
    /// An op in the relay's order (`server_seq` set), to every board subscriber of the
    /// room, its author included: that copy is the author's confirmation.
    BoardOp { op: BoardOp },
    /// The ops after the `since` of a `board_sync`, oldest first (possibly none).
    BoardOps { ops: Vec<BoardOp> },
    /// Your op `client_seq` was refused and changed nothing; nobody else hears of it.
    /// `code` is one of the board's stable codes (`forbidden`, `page_not_found`,
    /// `rate_limited`, …; see `docs/protocol.md`).
    BoardRefused {
        client_seq: u64,
        code: String,
        message: String,
    },
    /// Someone else's laser trail or cursor.
    BoardEphemeral { peer: PeerId, e: BoardEphemeral },
    /// Who holds the pen now; sent on `board_sync` and whenever it changes.
    BoardGrants { grants: Vec<PenGrant> },
}

/// Why the relay ends a signaling connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByeReason {
    /// The same participant connected again elsewhere.
    Replaced,
    /// The relay is shutting down.
    Shutdown,
    /// The connection broke the protocol too often or could not keep up.
    Misbehaving,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn messages_carry_version_and_type_side_by_side() {
        let msg = Envelope::new(ClientMessage::RaiseHand { raised: true });
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(json, r#"{"v":1,"type":"raise_hand","raised":true}"#);
        let back: Envelope<ClientMessage> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, msg);

        let ping: Envelope<ClientMessage> =
            serde_json::from_str(r#"{"v":1,"type":"ping"}"#).unwrap();
        assert_eq!(ping.body, ClientMessage::Ping { id: 0 });
        assert!(
            serde_json::from_str::<Envelope<ClientMessage>>(r#"{"v":1,"type":"fly"}"#).is_err()
        );
        assert!(serde_json::from_str::<Envelope<ClientMessage>>(r#"{"type":"ping"}"#).is_err());
    }

    #[test]
    fn errors_are_flat_code_and_message() {
        let msg = Envelope::new(ServerMessage::Error {
            error: ApiError::new(ErrorCode::StageFull, "six students are on stage"),
        });
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"type":"error","code":"stage_full","message":"six students are on stage"}"#
        );
    }

    #[test]
    fn board_messages_have_a_stable_json_shape() {
        use crate::{BoardAction, PageId};
        let sync: Envelope<ClientMessage> =
            serde_json::from_str(r#"{"v":1,"type":"board_sync"}"#).unwrap();
        assert_eq!(
            sync.body,
            ClientMessage::BoardSync {
                since: None,
                epoch: None
            }
        );
        let sync = Envelope::new(ClientMessage::BoardSync {
            since: Some(41),
            epoch: Some(1_700_000_000_000),
        });
        assert_eq!(
            serde_json::to_string(&sync).unwrap(),
            r#"{"v":1,"type":"board_sync","since":41,"epoch":1700000000000}"#
        );
        let revoke: Envelope<ClientMessage> =
            serde_json::from_str(r#"{"v":1,"type":"board_grant","peer":"s1","scope":null}"#)
                .unwrap();
        assert!(matches!(
            revoke.body,
            ClientMessage::BoardGrant { scope: None, .. }
        ));
        let grant = Envelope::new(ClientMessage::BoardGrant {
            peer: PeerId::new("s1").unwrap(),
            scope: Some(GrantScope::Pages {
                pages: vec![PageId::new("t:1").unwrap()],
            }),
        });
        assert_eq!(
            serde_json::to_string(&grant).unwrap(),
            r#"{"v":1,"type":"board_grant","peer":"s1","scope":{"type":"pages","pages":["t:1"]}}"#
        );
        let op = Envelope::new(ServerMessage::BoardOp {
            op: BoardOp {
                server_seq: Some(9),
                ..BoardOp::new(PeerId::new("t").unwrap(), 3, BoardAction::Undo)
            },
        });
        assert_eq!(
            serde_json::to_string(&op).unwrap(),
            r#"{"v":1,"type":"board_op","op":{"author":"t","client_seq":3,"server_seq":9,"action":{"type":"undo"}}}"#
        );
        let refused = Envelope::new(ServerMessage::BoardRefused {
            client_seq: 4,
            code: "forbidden".into(),
            message: "not allowed".into(),
        });
        assert_eq!(
            serde_json::to_string(&refused).unwrap(),
            r#"{"v":1,"type":"board_refused","client_seq":4,"code":"forbidden","message":"not allowed"}"#
        );
        let grants = Envelope::new(ServerMessage::BoardGrants {
            grants: vec![PenGrant {
                peer: PeerId::new("s1").unwrap(),
                scope: GrantScope::Board,
            }],
        });
        assert_eq!(
            serde_json::to_string(&grants).unwrap(),
            r#"{"v":1,"type":"board_grants","grants":[{"peer":"s1","scope":{"type":"board"}}]}"#
        );
    }
}

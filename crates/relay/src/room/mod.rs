//! Rooms as a sans-IO state machine: who is here, hands, chat, the stage, who publishes,
//! and the whiteboard (the board hub, in `board.rs`).
//!
//! Feed it [`RoomInput`]s with the time, drain [`RoomOutput`]s. No sockets, no clock
//! reads, no locks: the signaling shell owns one `Rooms` and tests drive it directly.

mod assets;
mod board;
mod rate;

pub use assets::{Asset, AssetLimits, AssetType, Stored, asset_id, sniff};

pub use board::{
    BOARD_OPS_BURST, BOARD_OPS_PER_SEC, EPHEMERAL_PER_SEC, LOG_KEEP_BYTES, LOG_KEEP_OPS,
    MAX_CATCH_UP_OPS, RELAY_AUTHOR,
};
use rate::Bucket;

use lectern_proto::{
    ApiError, AssetRef, ByeReason, ChatLine, ClientMessage, Envelope, ErrorCode, MAX_CHAT_CHARS,
    MAX_STAGE, PROTOCOL_VERSION, Participant, PeerId, Publisher, Role, RoomId, ServerMessage,
    TokenClaims,
};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Chat lines a newcomer receives.
pub const CHAT_HISTORY: usize = 50;
/// Longest WebSocket message, in bytes: a `board_op` carrying a full batch of 1,024
/// stroke points (about 45 KB with coordinates to two decimals) must fit.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest message of any other type, in bytes.
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;
/// Sustained messages per second one connection may send.
const RATE_PER_SEC: f64 = 20.0;
/// Burst allowance above the sustained rate.
const RATE_BURST: f64 = 40.0;
/// Unreadable or refused messages in a row before the connection is closed.
const MAX_STRIKES: u32 = 50;
/// How long a student keeps a place on stage while their connection is down.
pub const STAGE_GRACE: Duration = Duration::from_secs(30);

/// One signaling connection, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The time, both ways the room needs it.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic, for rate limits and grace periods.
    pub mono: Instant,
    /// Wall clock in ms since the Unix epoch, stamped on chat lines.
    pub unix_ms: u64,
}

/// What happens to the rooms.
#[derive(Debug)]
pub enum RoomInput<'a> {
    /// A connection with checked claims joins their room.
    Connect { conn: ConnId, claims: TokenClaims },
    /// A connection went away.
    Disconnect { conn: ConnId },
    /// A text frame arrived on a connection.
    Text { conn: ConnId, text: &'a str },
    /// The media engine reports a publisher live.
    PublisherUp { room: RoomId, publisher: Publisher },
    /// The media engine reports a publisher gone.
    PublisherDown { room: RoomId, peer: PeerId },
    /// The relay is shutting down: say goodbye to everyone.
    Shutdown,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomOutput {
    /// Send a message on a connection.
    Send { conn: ConnId, msg: ServerMessage },
    /// Send a message already written as a complete JSON envelope. Board broadcasts are
    /// written once for the whole room, and `board_snapshot` carries a document whose
    /// type is not a [`ServerMessage`].
    SendText { conn: ConnId, text: String },
    /// Close a connection (a `bye` was sent just before).
    Close { conn: ConnId },
    /// Stop a participant's publish session (they left the stage).
    EndPublish { room: RoomId, peer: PeerId },
}

#[derive(Debug)]
struct Member {
    participant: Participant,
    conn: Option<ConnId>,
    offline_since: Option<Instant>,
    invited: bool,
}

#[derive(Debug, Default)]
struct Room {
    members: Vec<Member>,
    chat: VecDeque<ChatLine>,
    stage: Vec<PeerId>,
    publishers: Vec<Publisher>,
    /// Created when someone first uses the board; goes with the room.
    board: Option<board::RoomBoard>,
    /// The files the board's pages show; go with the room, as the board does.
    assets: assets::RoomAssets,
}

impl Room {
    fn member(&mut self, peer: &PeerId) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| &m.participant.id == peer)
    }
    fn online(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.conn.is_some())
    }
    fn roster(&self) -> Vec<Participant> {
        self.online().map(|m| m.participant.clone()).collect()
    }
    fn is_idle(&self) -> bool {
        self.members.is_empty() && self.publishers.is_empty()
    }
}

#[derive(Debug)]
struct Conn {
    room: RoomId,
    peer: PeerId,
    /// Budget of every message but board ops and ephemerals, which have their own.
    limit: Bucket,
    strikes: u32,
    board: board::BoardConn,
}

/// All rooms of one relay.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: HashMap<RoomId, Room>,
    conns: HashMap<ConnId, Conn>,
    out: VecDeque<RoomOutput>,
    asset_limits: AssetLimits,
    /// Bytes of assets in all rooms.
    asset_bytes: usize,
}

impl Rooms {
    /// No rooms yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// No rooms yet; board assets are kept within `limits`.
    pub fn with_asset_limits(limits: AssetLimits) -> Self {
        Self {
            asset_limits: limits,
            ..Self::default()
        }
    }

    /// Stores a board asset named `id` (its [`asset_id`]) in `room`, which must be
    /// open: an asset outlives nobody, so one for a room nobody is in would be dropped
    /// at once.
    pub fn put_asset(
        &mut self,
        room: &RoomId,
        id: AssetRef,
        asset: Asset,
    ) -> Result<Stored, ApiError> {
        let Some(r) = self.rooms.get_mut(room) else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "nobody is in this room: connect to it before uploading",
            ));
        };
        let stored = r
            .assets
            .put(id, asset, self.asset_limits, self.asset_bytes)?;
        if !stored.existed {
            self.asset_bytes += stored.bytes;
        }
        Ok(stored)
    }

    /// A board asset of `room`.
    pub fn asset(&self, room: &RoomId, id: &AssetRef) -> Option<Asset> {
        self.rooms.get(room)?.assets.get(id).cloned()
    }

    /// Bytes of board assets all rooms hold.
    pub fn asset_bytes(&self) -> usize {
        self.asset_bytes
    }

    /// Number of rooms with anyone (or any publisher) in them.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Number of open signaling connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Whether `peer` may publish in `room` now: teachers (and tokens with the publish
    /// grant) always, students while on stage.
    pub fn may_publish(&self, room: &RoomId, claims: &TokenClaims) -> Result<(), ErrorCode> {
        if claims.grants.publish {
            return Ok(());
        }
        if claims.role != Role::Student {
            return Err(ErrorCode::Forbidden);
        }
        let on_stage = self
            .rooms
            .get(room)
            .is_some_and(|r| r.stage.contains(&claims.sub));
        if on_stage {
            Ok(())
        } else {
            Err(ErrorCode::NotOnStage)
        }
    }

    /// Who is on stage in `room`.
    pub fn stage(&self, room: &RoomId) -> Vec<PeerId> {
        self.rooms
            .get(room)
            .map(|r| r.stage.clone())
            .unwrap_or_default()
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Now, input: RoomInput<'_>) {
        match input {
            RoomInput::Connect { conn, claims } => self.connect(now, conn, claims),
            RoomInput::Disconnect { conn } => self.disconnect(now, conn),
            RoomInput::Text { conn, text } => self.text(now, conn, text),
            RoomInput::PublisherUp { room, publisher } => {
                let r = self.rooms.entry(room.clone()).or_default();
                r.publishers.retain(|p| p.peer != publisher.peer);
                r.publishers.push(publisher.clone());
                self.broadcast(&room, ServerMessage::PublisherAdded { publisher });
            }
            RoomInput::PublisherDown { room, peer } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    let before = r.publishers.len();
                    r.publishers.retain(|p| p.peer != peer);
                    if r.publishers.len() != before {
                        self.broadcast(&room, ServerMessage::PublisherRemoved { peer });
                    }
                }
                self.forget_if_idle(&room);
            }
            RoomInput::Shutdown => {
                let conns: Vec<ConnId> = self.conns.keys().copied().collect();
                for conn in conns {
                    self.bye(conn, ByeReason::Shutdown);
                }
            }
        }
    }

    /// Next output for the shell.
    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        self.out.pop_front()
    }

    /// When [`Rooms::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rooms
            .values()
            .flat_map(|r| r.members.iter())
            .filter_map(|m| m.offline_since.map(|t| t + STAGE_GRACE))
            .min()
    }

    /// Ends grace periods that have run out.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<RoomId> = self.rooms.keys().cloned().collect();
        for id in ids {
            let expired: Vec<PeerId> = self.rooms[&id]
                .members
                .iter()
                .filter(|m| m.offline_since.is_some_and(|t| now >= t + STAGE_GRACE))
                .map(|m| m.participant.id.clone())
                .collect();
            for peer in expired {
                self.take_off_stage(&id, &peer);
                if let Some(r) = self.rooms.get_mut(&id) {
                    r.members.retain(|m| m.participant.id != peer);
                }
            }
            self.forget_if_idle(&id);
        }
    }

    fn connect(&mut self, now: Now, conn: ConnId, claims: TokenClaims) {
        let room_id = claims.room.clone();
        let room = self.rooms.entry(room_id.clone()).or_default();
        let replaced = match room.member(&claims.sub) {
            Some(m) => {
                let old = m.conn.replace(conn);
                m.offline_since = None;
                m.participant.name = claims.name.clone();
                old
            }
            None => {
                room.members.push(Member {
                    participant: Participant {
                        id: claims.sub.clone(),
                        name: claims.name.clone(),
                        role: claims.role,
                        hand: false,
                        on_stage: false,
                    },
                    conn: Some(conn),
                    offline_since: None,
                    invited: false,
                });
                None
            }
        };
        if let Some(old) = replaced {
            self.conns.remove(&old);
            self.push(
                old,
                ServerMessage::Bye {
                    reason: ByeReason::Replaced,
                },
            );
            self.out.push_back(RoomOutput::Close { conn: old });
        }
        self.conns.insert(
            conn,
            Conn {
                room: room_id.clone(),
                peer: claims.sub.clone(),
                limit: Bucket::full(now.mono, RATE_PER_SEC, RATE_BURST),
                strikes: 0,
                board: board::BoardConn::new(now.mono, claims.grants.board),
            },
        );
        let room = &self.rooms[&room_id];
        let you = room
            .members
            .iter()
            .find(|m| m.participant.id == claims.sub)
            .map(|m| m.participant.clone())
            .expect("member was just inserted");
        let welcome = ServerMessage::Welcome {
            room: room_id.clone(),
            you: you.clone(),
            roster: room.roster(),
            publishers: room.publishers.clone(),
            chat: room.chat.iter().cloned().collect(),
            max_stage: MAX_STAGE,
        };
        self.push(conn, welcome);
        self.broadcast_except(
            &room_id,
            conn,
            ServerMessage::Participant { participant: you },
        );
    }

    fn disconnect(&mut self, now: Now, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&c.room) else {
            return;
        };
        let Some(m) = room.member(&c.peer) else {
            return;
        };
        if m.conn != Some(conn) {
            return;
        }
        m.conn = None;
        m.participant.hand = false;
        m.invited = false;
        if m.participant.on_stage {
            // Keep the place on stage for a while: a student on a weak network comes back.
            m.offline_since = Some(now.mono);
        } else {
            room.members.retain(|m| m.participant.id != c.peer);
        }
        // Nobody will lift this pen: end the strokes it left open, so that they become
        // undo steps and renderers can cache them.
        self.end_strokes_of(&c.room, &c.peer);
        self.broadcast(&c.room, ServerMessage::Left { peer: c.peer });
        self.forget_if_idle(&c.room);
    }

    fn forget_if_idle(&mut self, room: &RoomId) {
        if self.rooms.get(room).is_some_and(Room::is_idle)
            && let Some(gone) = self.rooms.remove(room)
        {
            self.asset_bytes -= gone.assets.bytes();
        }
    }

    fn text(&mut self, now: Now, conn: ConnId, text: &str) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        if text.len() > MAX_MESSAGE_BYTES {
            if self.spend(now, conn) {
                self.refuse(conn, ErrorCode::TooLarge, "messages are at most 64 KiB");
            }
            return;
        }
        // One typed parse on the hot path (board ops); a second, untyped look only to
        // explain a message that did not parse.
        let msg = match serde_json::from_str::<Envelope<ClientMessage>>(text) {
            Ok(env) if env.v == PROTOCOL_VERSION => env.body,
            _ => return self.unreadable(now, conn, text),
        };
        // Drawing and pointing run at pen speed: they have their own budgets.
        let msg = match msg {
            ClientMessage::BoardOp { op } => return self.board_op(now, conn, op, text.len()),
            ClientMessage::BoardEphemeral { e } => {
                return self.board_ephemeral(now, conn, e, text.len());
            }
            other => other,
        };
        if !self.spend(now, conn) {
            return;
        }
        if text.len() > MAX_SIGNAL_BYTES {
            self.refuse(conn, ErrorCode::TooLarge, "messages are at most 16 KiB");
            return;
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (room, peer) = (c.room.clone(), c.peer.clone());
        let result = match msg {
            ClientMessage::BoardSync { since, epoch } => {
                self.board_sync(now, conn, since, epoch).map(|()| None)
            }
            ClientMessage::BoardGrant { peer: to, scope } => {
                self.board_grant(now, conn, to, scope).map(|()| None)
            }
            other => self.apply(now, &room, &peer, conn, other),
        };
        match result {
            Ok(off_stage) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.strikes = 0;
                }
                if let Some(peer) = off_stage {
                    self.take_off_stage(&room, &peer);
                }
            }
            Err(error) => self.refuse(conn, error.code, &error.message),
        }
    }

    /// Spends one message of the connection's general budget; refuses it when spent.
    fn spend(&mut self, now: Now, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if c.limit.take(now.mono) {
            return true;
        }
        self.refuse(
            conn,
            ErrorCode::RateLimited,
            "more than 20 messages a second",
        );
        false
    }

    /// Says why a message could not be read.
    fn unreadable(&mut self, now: Now, conn: ConnId, text: &str) {
        if !self.spend(now, conn) {
            return;
        }
        let v = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(e) => {
                self.refuse(conn, ErrorCode::InvalidInput, &format!("not JSON: {e}"));
                return;
            }
        };
        if let Some(version) = v.get("v").and_then(serde_json::Value::as_u64)
            && version != u64::from(PROTOCOL_VERSION)
        {
            self.refuse(
                conn,
                ErrorCode::UnsupportedVersion,
                &format!("this relay speaks version {PROTOCOL_VERSION}"),
            );
            return;
        }
        let why = match serde_json::from_value::<Envelope<ClientMessage>>(v.clone()) {
            Err(e) => format!("unreadable message: {e}"),
            Ok(_) => "unreadable message".to_string(),
        };
        // A board op that names its counter is refused as an op, so the sender's board
        // drops it from its pending ops instead of waiting for it forever.
        let board_seq = (v.get("type").and_then(serde_json::Value::as_str) == Some("board_op"))
            .then(|| {
                v.pointer("/op/client_seq")
                    .and_then(serde_json::Value::as_u64)
            })
            .flatten();
        match board_seq {
            Some(client_seq) => self.board_malformed(conn, client_seq, &why),
            None => self.refuse(conn, ErrorCode::InvalidInput, &why),
        }
    }

    fn refuse(&mut self, conn: ConnId, code: ErrorCode, message: &str) {
        if self.strike(conn) {
            return;
        }
        self.push(
            conn,
            ServerMessage::Error {
                error: ApiError::new(code, message),
            },
        );
    }

    /// Counts a refused message; closes the connection (and returns true) at the limit.
    fn strike(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return true;
        };
        c.strikes += 1;
        if c.strikes >= MAX_STRIKES {
            self.bye(conn, ByeReason::Misbehaving);
            return true;
        }
        false
    }

    fn bye(&mut self, conn: ConnId, reason: ByeReason) {
        self.push(conn, ServerMessage::Bye { reason });
        self.out.push_back(RoomOutput::Close { conn });
        // The shell reports the close back as a Disconnect; treat it as gone now so
        // nothing else is sent to it.
        let now_unknown = self.conns.get(&conn).map(|c| c.limit.last());
        if let Some(mono) = now_unknown {
            self.disconnect(Now { mono, unix_ms: 0 }, conn);
        }
    }

    fn apply(
        &mut self,
        now: Now,
        room_id: &RoomId,
        me: &PeerId,
        conn: ConnId,
        msg: ClientMessage,
    ) -> Result<Option<PeerId>, ApiError> {
        let out = &mut self.out;
        let room = self
            .rooms
            .get_mut(room_id)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "room vanished"))?;
        let my = room
            .member(me)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "member vanished"))?;
        let role = my.participant.role;
        let forbidden = |what: &str| ApiError::new(ErrorCode::Forbidden, what.to_string());
        match msg {
            ClientMessage::Ping { id } => out.push_back(RoomOutput::Send {
                conn,
                msg: ServerMessage::Pong { id },
            }),
            ClientMessage::RaiseHand { raised } => {
                if role == Role::Observer {
                    return Err(forbidden("observers cannot raise a hand"));
                }
                my.participant.hand = raised;
                let participant = my.participant.clone();
                send_in(
                    room,
                    out,
                    None,
                    |_| true,
                    &ServerMessage::Participant { participant },
                );
            }
            ClientMessage::Chat { text } => {
                if role == Role::Observer {
                    return Err(forbidden("observers cannot chat"));
                }
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_CHAT_CHARS {
                    return Err(ApiError::new(
                        ErrorCode::InvalidInput,
                        "chat text must be 1 to 500 characters",
                    ));
                }
                let line = ChatLine {
                    from: me.clone(),
                    name: my.participant.name.clone(),
                    text: text.to_string(),
                    at_ms: now.unix_ms,
                };
                if room.chat.len() == CHAT_HISTORY {
                    room.chat.pop_front();
                }
                room.chat.push_back(line.clone());
                send_in(room, out, None, |_| true, &ServerMessage::Chat { line });
            }
            ClientMessage::Invite { peer } => {
                if role != Role::Teacher {
                    return Err(forbidden("only a teacher invites to the stage"));
                }
                let on_stage = room.stage.len();
                let target = room
                    .member(&peer)
                    .filter(|m| m.conn.is_some())
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::NotFound, format!("{peer} is not in the room"))
                    })?;
                if target.participant.role != Role::Student {
                    return Err(ApiError::new(
                        ErrorCode::InvalidInput,
                        "only students go on stage",
                    ));
                }
                if target.participant.on_stage {
                    return Ok(None);
                }
                if on_stage >= MAX_STAGE {
                    return Err(ApiError::new(
                        ErrorCode::StageFull,
                        format!("the stage already has {MAX_STAGE} students"),
                    ));
                }
                target.invited = true;
                let target_conn = target.conn;
                if let Some(conn) = target_conn {
                    out.push_back(RoomOutput::Send {
                        conn,
                        msg: ServerMessage::Invited { by: me.clone() },
                    });
                }
            }
            ClientMessage::AnswerInvite { accept } => {
                if !my.invited {
                    return Err(ApiError::new(
                        ErrorCode::InvalidInput,
                        "there is no invitation to answer",
                    ));
                }
                my.invited = false;
                if accept {
                    if room.stage.len() >= MAX_STAGE {
                        return Err(ApiError::new(
                            ErrorCode::StageFull,
                            format!("the stage already has {MAX_STAGE} students"),
                        ));
                    }
                    let my = room.member(me).expect("checked above");
                    my.participant.on_stage = true;
                    my.participant.hand = false;
                    let participant = my.participant.clone();
                    room.stage.push(me.clone());
                    let stage = room.stage.clone();
                    send_in(
                        room,
                        out,
                        None,
                        |_| true,
                        &ServerMessage::Participant { participant },
                    );
                    send_in(
                        room,
                        out,
                        None,
                        |_| true,
                        &ServerMessage::Stage { peers: stage },
                    );
                }
                let answered = ServerMessage::InviteAnswered {
                    peer: me.clone(),
                    accept,
                };
                send_in(
                    room,
                    out,
                    None,
                    |m| m.participant.role == Role::Teacher,
                    &answered,
                );
            }
            ClientMessage::RemoveFromStage { peer } => {
                if role != Role::Teacher {
                    return Err(forbidden("only a teacher removes from the stage"));
                }
                return Ok(Some(peer));
            }
            ClientMessage::LeaveStage => return Ok(Some(me.clone())),
            ClientMessage::RequestMute { peer, muted } => {
                if role != Role::Teacher {
                    return Err(forbidden("only a teacher asks to mute"));
                }
                let target = room.member(&peer).and_then(|m| m.conn).ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, format!("{peer} is not in the room"))
                })?;
                out.push_back(RoomOutput::Send {
                    conn: target,
                    msg: ServerMessage::MuteRequested { muted },
                });
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("unsupported message {other:?}"),
                ));
            }
        }
        Ok(None)
    }

    fn take_off_stage(&mut self, room_id: &RoomId, peer: &PeerId) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        if !room.stage.contains(peer) {
            return;
        }
        room.stage.retain(|p| p != peer);
        let stage = room.stage.clone();
        let participant = room.member(peer).map(|m| {
            m.participant.on_stage = false;
            m.offline_since = None;
            (m.participant.clone(), m.conn.is_some())
        });
        match participant {
            Some((participant, true)) => {
                self.broadcast(room_id, ServerMessage::Participant { participant });
            }
            // Offline and off stage: no place left to keep (as `disconnect` decides for
            // anyone off stage). Kept, they would hold the room open forever.
            Some((_, false)) => room.members.retain(|m| &m.participant.id != peer),
            None => {}
        }
        self.broadcast(room_id, ServerMessage::Stage { peers: stage });
        self.out.push_back(RoomOutput::EndPublish {
            room: room_id.clone(),
            peer: peer.clone(),
        });
    }

    fn push(&mut self, conn: ConnId, msg: ServerMessage) {
        self.out.push_back(RoomOutput::Send { conn, msg });
    }

    fn broadcast(&mut self, room: &RoomId, msg: ServerMessage) {
        if let Some(r) = self.rooms.get(room) {
            send_in(r, &mut self.out, None, |_| true, &msg);
        }
    }

    fn broadcast_except(&mut self, room: &RoomId, except: ConnId, msg: ServerMessage) {
        if let Some(r) = self.rooms.get(room) {
            send_in(r, &mut self.out, Some(except), |_| true, &msg);
        }
    }
}

/// Sends `msg` to every online member of `room` that `pick` chooses, except `except`.
fn send_in(
    room: &Room,
    out: &mut VecDeque<RoomOutput>,
    except: Option<ConnId>,
    pick: impl Fn(&Member) -> bool,
    msg: &ServerMessage,
) {
    for conn in room
        .online()
        .filter(|m| pick(m))
        .filter_map(|m| m.conn)
        .filter(|c| Some(*c) != except)
    {
        out.push_back(RoomOutput::Send {
            conn,
            msg: msg.clone(),
        });
    }
}

#[cfg(test)]
mod tests;

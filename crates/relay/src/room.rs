//! Rooms as a sans-IO state machine: who is here, hands, chat, the stage, who publishes.
//!
//! Feed it [`RoomInput`]s with the time, drain [`RoomOutput`]s. No sockets, no clock
//! reads, no locks: the signaling shell owns one `Rooms` and tests drive it directly.

use lectern_proto::{
    ApiError, ByeReason, ChatLine, ClientMessage, Envelope, ErrorCode, MAX_CHAT_CHARS, MAX_STAGE,
    PROTOCOL_VERSION, Participant, PeerId, Publisher, Role, RoomId, ServerMessage, TokenClaims,
};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Chat lines a newcomer receives.
pub const CHAT_HISTORY: usize = 50;
/// Longest signaling message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
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
    tokens: f64,
    last_refill: Instant,
    strikes: u32,
}

/// All rooms of one relay.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: HashMap<RoomId, Room>,
    conns: HashMap<ConnId, Conn>,
    out: VecDeque<RoomOutput>,
}

impl Rooms {
    /// No rooms yet.
    pub fn new() -> Self {
        Self::default()
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
                tokens: RATE_BURST,
                last_refill: now.mono,
                strikes: 0,
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
        self.broadcast(&c.room, ServerMessage::Left { peer: c.peer });
        self.forget_if_idle(&c.room);
    }

    fn forget_if_idle(&mut self, room: &RoomId) {
        if self.rooms.get(room).is_some_and(Room::is_idle) {
            self.rooms.remove(room);
        }
    }

    fn text(&mut self, now: Now, conn: ConnId, text: &str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Token bucket: refill, then spend one.
        let elapsed = now
            .mono
            .saturating_duration_since(c.last_refill)
            .as_secs_f64();
        c.tokens = (c.tokens + elapsed * RATE_PER_SEC).min(RATE_BURST);
        c.last_refill = now.mono;
        if c.tokens < 1.0 {
            self.refuse(
                conn,
                ErrorCode::RateLimited,
                "more than 20 messages a second",
            );
            return;
        }
        c.tokens -= 1.0;
        if text.len() > MAX_MESSAGE_BYTES {
            self.refuse(conn, ErrorCode::TooLarge, "messages are at most 16 KiB");
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
        let msg = match serde_json::from_value::<Envelope<ClientMessage>>(v) {
            Ok(env) => env.body,
            Err(e) => {
                self.refuse(
                    conn,
                    ErrorCode::InvalidInput,
                    &format!("unreadable message: {e}"),
                );
                return;
            }
        };
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (room, peer) = (c.room.clone(), c.peer.clone());
        match self.apply(now, &room, &peer, conn, msg) {
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

    fn refuse(&mut self, conn: ConnId, code: ErrorCode, message: &str) {
        let strikes = match self.conns.get_mut(&conn) {
            Some(c) => {
                c.strikes += 1;
                c.strikes
            }
            None => return,
        };
        if strikes >= MAX_STRIKES {
            self.bye(conn, ByeReason::Misbehaving);
            return;
        }
        self.push(
            conn,
            ServerMessage::Error {
                error: ApiError::new(code, message),
            },
        );
    }

    fn bye(&mut self, conn: ConnId, reason: ByeReason) {
        self.push(conn, ServerMessage::Bye { reason });
        self.out.push_back(RoomOutput::Close { conn });
        // The shell reports the close back as a Disconnect; treat it as gone now so
        // nothing else is sent to it.
        let now_unknown = self.conns.get(&conn).map(|c| c.last_refill);
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
mod tests {
    use super::*;
    use lectern_proto::{Grants, Transport};

    struct World {
        rooms: Rooms,
        t0: Instant,
        elapsed: Duration,
    }

    fn claims(room: &str, sub: &str, role: Role) -> TokenClaims {
        TokenClaims {
            room: RoomId::new(room).unwrap(),
            sub: PeerId::new(sub).unwrap(),
            name: sub.to_uppercase(),
            role,
            grants: role.default_grants(),
            exp: u64::MAX,
        }
    }

    impl World {
        fn new() -> Self {
            Self {
                rooms: Rooms::new(),
                t0: Instant::now(),
                elapsed: Duration::ZERO,
            }
        }
        fn now(&self) -> Now {
            Now {
                mono: self.t0 + self.elapsed,
                unix_ms: 1_700_000_000_000 + self.elapsed.as_millis() as u64,
            }
        }
        fn advance(&mut self, d: Duration) {
            self.elapsed += d;
            self.rooms.handle_timeout(self.t0 + self.elapsed);
        }
        fn join(&mut self, conn: u64, sub: &str, role: Role) -> Vec<RoomOutput> {
            let now = self.now();
            self.rooms.handle_input(
                now,
                RoomInput::Connect {
                    conn: ConnId(conn),
                    claims: claims("math", sub, role),
                },
            );
            self.drain()
        }
        fn say(&mut self, conn: u64, json: &str) -> Vec<RoomOutput> {
            let now = self.now();
            self.rooms.handle_input(
                now,
                RoomInput::Text {
                    conn: ConnId(conn),
                    text: json,
                },
            );
            self.drain()
        }
        fn drain(&mut self) -> Vec<RoomOutput> {
            std::iter::from_fn(|| self.rooms.poll_output()).collect()
        }
    }

    fn to(out: &[RoomOutput], conn: u64) -> Vec<&ServerMessage> {
        out.iter()
            .filter_map(|o| match o {
                RoomOutput::Send { conn: c, msg } if c.0 == conn => Some(msg),
                _ => None,
            })
            .collect()
    }

    fn error_code(out: &[RoomOutput], conn: u64) -> Option<ErrorCode> {
        to(out, conn).into_iter().find_map(|m| match m {
            ServerMessage::Error { error } => Some(error.code),
            _ => None,
        })
    }

    fn room() -> RoomId {
        RoomId::new("math").unwrap()
    }

    #[test]
    fn a_newcomer_gets_the_room_and_everyone_else_hears_of_them() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.say(1, r#"{"v":1,"type":"chat","text":"hello class"}"#);
        let out = w.join(2, "ann", Role::Student);
        match to(&out, 2)[0] {
            ServerMessage::Welcome {
                roster,
                chat,
                you,
                max_stage,
                ..
            } => {
                assert_eq!(roster.len(), 2);
                assert_eq!(chat[0].text, "hello class");
                assert_eq!(you.id.as_str(), "ann");
                assert_eq!(*max_stage, MAX_STAGE);
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        assert!(
            matches!(to(&out, 1)[0], ServerMessage::Participant { participant } if participant.id.as_str() == "ann")
        );
        assert!(
            to(&out, 2)
                .iter()
                .all(|m| !matches!(m, ServerMessage::Participant { .. }))
        );
    }

    #[test]
    fn hands_and_chat_reach_everyone_and_observers_only_watch() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.join(2, "ann", Role::Student);
        w.join(3, "dad", Role::Observer);
        let out = w.say(2, r#"{"v":1,"type":"raise_hand","raised":true}"#);
        for conn in [1, 2, 3] {
            assert!(to(&out, conn).iter().any(
                |m| matches!(m, ServerMessage::Participant { participant } if participant.hand)
            ));
        }
        let out = w.say(3, r#"{"v":1,"type":"chat","text":"hi"}"#);
        assert_eq!(error_code(&out, 3), Some(ErrorCode::Forbidden));
        assert!(
            to(&out, 1).is_empty(),
            "nobody else hears of a refused message"
        );
        let out = w.say(
            2,
            &format!(r#"{{"v":1,"type":"chat","text":"{}"}}"#, "x".repeat(501)),
        );
        assert_eq!(error_code(&out, 2), Some(ErrorCode::InvalidInput));
    }

    #[test]
    fn the_stage_takes_six_students_and_refuses_the_seventh() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        for i in 0..7 {
            w.join(10 + i, &format!("s{i}"), Role::Student);
        }
        for i in 0..6u64 {
            let out = w.say(1, &format!(r#"{{"v":1,"type":"invite","peer":"s{i}"}}"#));
            assert!(matches!(to(&out, 10 + i)[0], ServerMessage::Invited { .. }));
            let out = w.say(10 + i, r#"{"v":1,"type":"answer_invite","accept":true}"#);
            assert!(
                to(&out, 1)
                    .iter()
                    .any(|m| matches!(m, ServerMessage::InviteAnswered { accept: true, .. }))
            );
        }
        assert_eq!(w.rooms.stage(&room()).len(), 6);
        let out = w.say(1, r#"{"v":1,"type":"invite","peer":"s6"}"#);
        assert_eq!(error_code(&out, 1), Some(ErrorCode::StageFull));
        assert!(to(&out, 16).is_empty());

        // On stage → may publish; off stage → may not, and the publish session ends.
        let s0 = claims("math", "s0", Role::Student);
        let s6 = claims("math", "s6", Role::Student);
        assert_eq!(w.rooms.may_publish(&room(), &s0), Ok(()));
        assert_eq!(
            w.rooms.may_publish(&room(), &s6),
            Err(ErrorCode::NotOnStage)
        );
        let out = w.say(1, r#"{"v":1,"type":"remove_from_stage","peer":"s0"}"#);
        assert!(out.contains(&RoomOutput::EndPublish {
            room: room(),
            peer: PeerId::new("s0").unwrap()
        }));
        assert_eq!(
            w.rooms.may_publish(&room(), &s0),
            Err(ErrorCode::NotOnStage)
        );
        assert_eq!(w.rooms.stage(&room()).len(), 5);
    }

    #[test]
    fn students_cannot_run_the_stage_and_cannot_accept_uninvited() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.join(2, "ann", Role::Student);
        w.join(3, "bob", Role::Student);
        let out = w.say(2, r#"{"v":1,"type":"invite","peer":"bob"}"#);
        assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
        let out = w.say(3, r#"{"v":1,"type":"answer_invite","accept":true}"#);
        assert_eq!(error_code(&out, 3), Some(ErrorCode::InvalidInput));
        assert!(w.rooms.stage(&room()).is_empty());
        let teacher = claims("math", "teacher", Role::Teacher);
        assert_eq!(w.rooms.may_publish(&room(), &teacher), Ok(()));
        let observer = TokenClaims {
            grants: Grants::default(),
            ..claims("math", "dad", Role::Observer)
        };
        assert_eq!(
            w.rooms.may_publish(&room(), &observer),
            Err(ErrorCode::Forbidden)
        );
    }

    #[test]
    fn a_place_on_stage_survives_a_short_drop_but_not_a_long_one() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.join(2, "ann", Role::Student);
        w.say(1, r#"{"v":1,"type":"invite","peer":"ann"}"#);
        w.say(2, r#"{"v":1,"type":"answer_invite","accept":true}"#);
        let now = w.now();
        w.rooms
            .handle_input(now, RoomInput::Disconnect { conn: ConnId(2) });
        w.advance(Duration::from_secs(10));
        w.join(3, "ann", Role::Student);
        assert_eq!(
            w.rooms.stage(&room()).len(),
            1,
            "reconnected within the grace period"
        );
        let now = w.now();
        w.rooms
            .handle_input(now, RoomInput::Disconnect { conn: ConnId(3) });
        w.drain();
        w.advance(STAGE_GRACE + Duration::from_secs(1));
        assert!(w.rooms.stage(&room()).is_empty());
        assert!(w.drain().contains(&RoomOutput::EndPublish {
            room: room(),
            peer: PeerId::new("ann").unwrap()
        }));
    }

    #[test]
    fn a_student_removed_from_the_stage_while_offline_does_not_keep_the_room() {
        // Found by the `signaling` fuzz target: the removal ended the grace period
        // without removing the offline member, so the room was never forgotten.
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.join(2, "ann", Role::Student);
        w.say(1, r#"{"v":1,"type":"invite","peer":"ann"}"#);
        w.say(2, r#"{"v":1,"type":"answer_invite","accept":true}"#);
        let now = w.now();
        w.rooms
            .handle_input(now, RoomInput::Disconnect { conn: ConnId(2) });
        let out = w.say(1, r#"{"v":1,"type":"remove_from_stage","peer":"ann"}"#);
        assert!(out.contains(&RoomOutput::EndPublish {
            room: room(),
            peer: PeerId::new("ann").unwrap()
        }));
        let now = w.now();
        w.rooms
            .handle_input(now, RoomInput::Disconnect { conn: ConnId(1) });
        w.advance(STAGE_GRACE + Duration::from_secs(1));
        assert_eq!(w.rooms.room_count(), 0);
        assert_eq!(w.rooms.poll_timeout(), None);
    }

    #[test]
    fn connecting_again_replaces_the_old_connection() {
        let mut w = World::new();
        w.join(1, "ann", Role::Student);
        let out = w.join(2, "ann", Role::Student);
        assert!(to(&out, 1).iter().any(|m| matches!(
            m,
            ServerMessage::Bye {
                reason: ByeReason::Replaced
            }
        )));
        assert!(out.contains(&RoomOutput::Close { conn: ConnId(1) }));
        // The old connection's late disconnect does not remove the new one.
        let now = w.now();
        w.rooms
            .handle_input(now, RoomInput::Disconnect { conn: ConnId(1) });
        assert!(w.drain().is_empty());
        assert_eq!(w.rooms.connection_count(), 1);
    }

    #[test]
    fn garbage_gets_an_error_a_flood_is_limited_and_a_persistent_offender_is_dropped() {
        let mut w = World::new();
        w.join(1, "teacher", Role::Teacher);
        w.join(2, "mallory", Role::Student);
        for bad in [
            "{",
            "[]",
            r#"{"v":1}"#,
            r#"{"v":1,"type":"fly"}"#,
            "\u{0}binary",
        ] {
            assert_eq!(
                error_code(&w.say(2, bad), 2),
                Some(ErrorCode::InvalidInput),
                "{bad}"
            );
        }
        assert_eq!(
            error_code(&w.say(2, r#"{"v":2,"type":"ping"}"#), 2),
            Some(ErrorCode::UnsupportedVersion)
        );
        // 40 message burst, then rate limited.
        let mut limited = 0;
        for _ in 0..60 {
            if error_code(&w.say(1, r#"{"v":1,"type":"ping","id":7}"#), 1)
                == Some(ErrorCode::RateLimited)
            {
                limited += 1;
            }
        }
        assert!(limited >= 15, "limited {limited}");
        w.advance(Duration::from_secs(2));
        assert!(matches!(
            to(&w.say(1, r#"{"v":1,"type":"ping","id":8}"#), 1)[0],
            ServerMessage::Pong { id: 8 }
        ));

        let mut closed = false;
        for i in 0..MAX_STRIKES {
            w.advance(Duration::from_millis(60));
            let out = w.say(2, "not json");
            if out.contains(&RoomOutput::Close { conn: ConnId(2) }) {
                assert!(to(&out, 2).iter().any(|m| matches!(
                    m,
                    ServerMessage::Bye {
                        reason: ByeReason::Misbehaving
                    }
                )));
                assert!(
                    to(&out, 1)
                        .iter()
                        .any(|m| matches!(m, ServerMessage::Left { .. }))
                );
                closed = i + 1 >= MAX_STRIKES - 10;
                break;
            }
        }
        assert!(closed, "the offender is closed after {MAX_STRIKES} strikes");
        assert_eq!(w.rooms.connection_count(), 1, "the teacher stays");
    }

    #[test]
    fn publishers_are_announced_and_an_empty_room_is_forgotten() {
        let mut w = World::new();
        w.join(1, "ann", Role::Student);
        let now = w.now();
        let publisher = Publisher {
            peer: PeerId::new("teacher").unwrap(),
            name: "T".into(),
            role: Role::Teacher,
            audio: true,
            video: true,
            transport: Transport::Whip,
        };
        w.rooms.handle_input(
            now,
            RoomInput::PublisherUp {
                room: room(),
                publisher: publisher.clone(),
            },
        );
        assert!(matches!(
            to(&w.drain(), 1)[0],
            ServerMessage::PublisherAdded { .. }
        ));
        let out = w.join(2, "bob", Role::Student);
        assert!(
            matches!(to(&out, 2)[0], ServerMessage::Welcome { publishers, .. } if publishers == &vec![publisher.clone()])
        );
        w.rooms.handle_input(
            now,
            RoomInput::PublisherDown {
                room: room(),
                peer: publisher.peer.clone(),
            },
        );
        assert!(matches!(
            to(&w.drain(), 1)[0],
            ServerMessage::PublisherRemoved { .. }
        ));
        for conn in [1, 2] {
            w.rooms
                .handle_input(now, RoomInput::Disconnect { conn: ConnId(conn) });
        }
        assert_eq!(w.rooms.room_count(), 0);
    }
}

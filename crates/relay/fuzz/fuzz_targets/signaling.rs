//! WebSocket signaling: arbitrary text frames from a class of nine (a teacher, seven
//! students, an observer) into the room state machine, under a fake clock, with the
//! invariants the hub and the clients rely on checked after every step.
//!
//! Input: steps separated by 0xff (which never occurs in UTF-8 text). A step is
//! `<who> <what> <text…>`:
//! - `who`: `(byte - b'0') % 9`: `0` the teacher, `1`–`7` students `s1`–`s7`, `8` the
//!   observer.
//! - `what`: the low two bits pick the action: 0 or 1 send `text` (lossy UTF-8, as a
//!   WebSocket text frame); 2 disconnect if connected, else connect on a fresh
//!   connection; 3 start or stop publishing (the media engine's report). The upper six
//!   bits `n` advance the clock by `n² × 10 ms` first (0 to 39.7 s).
//!
//! The teacher and `s1` are connected before the first step.

#![no_main]

use lectern_proto::{
    Envelope, ErrorCode, MAX_STAGE, PeerId, Publisher, Role, RoomId, ServerMessage, TokenClaims,
    Transport,
};
use lectern_relay::room::{ConnId, Now, RoomInput, RoomOutput, Rooms, STAGE_GRACE};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

const MEMBERS: usize = 9;
/// A bound on the outputs of one input, well above what nine members can cause (a
/// shutdown: a `bye` and a close for each, and a `left` to everyone still there).
const MAX_OUTPUTS_PER_STEP: usize = 200;

fn role(member: usize) -> Role {
    match member {
        0 => Role::Teacher,
        8 => Role::Observer,
        _ => Role::Student,
    }
}

/// Everyone's claims, built once: the checks look them up many times per step.
static CAST: LazyLock<Vec<TokenClaims>> = LazyLock::new(|| {
    (0..MEMBERS)
        .map(|member| {
            let id = match member {
                0 => "t".to_owned(),
                8 => "o".to_owned(),
                n => format!("s{n}"),
            };
            let role = role(member);
            TokenClaims {
                room: RoomId::new("math").expect("a valid room id"),
                sub: PeerId::new(id).expect("a valid peer id"),
                name: format!("Member {member}"),
                role,
                grants: role.default_grants(),
                exp: u64::MAX,
                invite: false,
            }
        })
        .collect()
});

fn claims(member: usize) -> &'static TokenClaims {
    &CAST[member]
}

fn peer(member: usize) -> &'static PeerId {
    &CAST[member].sub
}

fn room() -> &'static RoomId {
    &CAST[0].room
}

struct Class {
    rooms: Rooms,
    t0: Instant,
    elapsed: Duration,
    /// Each member's current connection, as the shell knows it.
    conn: [Option<ConnId>; MEMBERS],
    /// Connections the shell has open: connected, and neither closed by the room nor
    /// reported gone.
    open: HashSet<ConnId>,
    next_conn: u64,
    publishing: [bool; MEMBERS],
}

impl Class {
    fn new() -> Self {
        Self {
            rooms: Rooms::new(),
            t0: Instant::now(),
            elapsed: Duration::ZERO,
            conn: [None; MEMBERS],
            open: HashSet::new(),
            next_conn: 1,
            publishing: [false; MEMBERS],
        }
    }

    fn now(&self) -> Now {
        Now {
            mono: self.t0 + self.elapsed,
            unix_ms: 1_700_000_000_000 + self.elapsed.as_millis() as u64,
        }
    }

    fn input(&mut self, input: RoomInput<'_>) {
        let now = self.now();
        self.rooms.handle_input(now, input);
        self.drain();
    }

    fn connect(&mut self, member: usize) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conn[member] = Some(conn);
        self.open.insert(conn);
        self.input(RoomInput::Connect {
            conn,
            claims: claims(member).clone(),
        });
    }

    fn disconnect(&mut self, member: usize) {
        if let Some(conn) = self.conn[member].take() {
            self.open.remove(&conn);
            self.input(RoomInput::Disconnect { conn });
        }
    }

    fn advance(&mut self, by: Duration) {
        self.elapsed += by;
        // As the hub does: run timeouts once their deadline has come.
        let mono = self.now().mono;
        if self.rooms.poll_timeout().is_some_and(|t| t <= mono) {
            self.rooms.handle_timeout(mono);
            self.drain();
        }
        if let Some(next) = self.rooms.poll_timeout() {
            assert!(next > mono, "a timeout in the past would spin the hub");
        }
    }

    /// Drains the room's output as the hub would, checking each item.
    fn drain(&mut self) {
        let mut closed = Vec::new();
        let mut count = 0;
        while let Some(out) = self.rooms.poll_output() {
            count += 1;
            assert!(count <= MAX_OUTPUTS_PER_STEP, "output grows without bound");
            match out {
                RoomOutput::Send { conn, msg } => {
                    assert!(self.open.contains(&conn), "sent to {conn:?}, not open");
                    check_message(&msg);
                    // The hub serializes every message and expects it to work. Plain
                    // fields always do; the flattened error is the shape that could fail
                    // (and serializing everything would cost most of the time here).
                    if matches!(msg, ServerMessage::Error { .. }) {
                        serde_json::to_string(&Envelope::new(msg)).expect("messages serialize");
                    }
                }
                RoomOutput::SendText { conn, text } => {
                    // Board broadcasts, serialized once per room: still JSON for an open peer.
                    assert!(self.open.contains(&conn), "sent to {conn:?}, not open");
                    assert!(text.starts_with('{'), "not a JSON object: {text}");
                }
                RoomOutput::Close { conn } => {
                    assert!(self.open.remove(&conn), "closed {conn:?}, not open");
                    closed.push(conn);
                }
                RoomOutput::EndPublish { room: r, peer: p } => {
                    assert_eq!(&r, room());
                    assert_eq!(role(member_of(&p)), Role::Student);
                }
            }
        }
        // The socket task reports the close back later, as a Disconnect.
        for conn in closed {
            if let Some(slot) = self.conn.iter_mut().find(|c| **c == Some(conn)) {
                *slot = None;
            }
            let now = self.now();
            self.rooms.handle_input(now, RoomInput::Disconnect { conn });
            assert!(
                self.rooms.poll_output().is_none(),
                "a closed connection's disconnect caused output"
            );
        }
        self.check();
    }

    /// What must hold between any two inputs.
    fn check(&self) {
        assert_eq!(self.rooms.connection_count(), self.open.len());
        let stage = self.rooms.stage(room());
        check_stage(&stage);
        for member in 0..MEMBERS {
            let on_stage = stage.contains(peer(member));
            let expected = match role(member) {
                Role::Teacher => Ok(()),
                Role::Observer => Err(ErrorCode::Forbidden),
                Role::Student if on_stage => Ok(()),
                Role::Student => Err(ErrorCode::NotOnStage),
            };
            assert_eq!(self.rooms.may_publish(room(), claims(member)), expected);
        }
    }
}

fn member_of(p: &PeerId) -> usize {
    (0..MEMBERS)
        .find(|m| peer(*m) == p)
        .expect("only class members appear")
}

fn check_stage(stage: &[PeerId]) {
    assert!(stage.len() <= MAX_STAGE, "{} on stage", stage.len());
    let unique: HashSet<&PeerId> = stage.iter().collect();
    assert_eq!(unique.len(), stage.len(), "someone is on stage twice");
    for p in stage {
        assert_eq!(role(member_of(p)), Role::Student, "{p} on stage");
    }
}

fn check_message(msg: &ServerMessage) {
    match msg {
        ServerMessage::Welcome {
            room: r,
            you,
            roster,
            max_stage,
            ..
        } => {
            assert_eq!(r, room());
            assert_eq!(*max_stage, MAX_STAGE);
            assert!(roster.contains(you), "the roster lacks the newcomer");
            assert!(roster.len() <= MEMBERS);
        }
        ServerMessage::Stage { peers } => check_stage(peers),
        ServerMessage::Participant { participant } => {
            let member = member_of(&participant.id);
            assert_eq!(participant.role, role(member));
            assert!(!participant.on_stage || participant.role == Role::Student);
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut class = Class::new();
    class.connect(0);
    class.connect(1);
    for step in data.split(|&b| b == 0xff) {
        let [who, what, text @ ..] = step else {
            continue;
        };
        let member = usize::from(who.wrapping_sub(b'0')) % MEMBERS;
        let n = u64::from(what >> 2);
        class.advance(Duration::from_millis(n * n * 10));
        match what & 3 {
            0 | 1 => {
                if let Some(conn) = class.conn[member] {
                    let text = String::from_utf8_lossy(text);
                    class.input(RoomInput::Text { conn, text: &text });
                }
            }
            2 => {
                if class.conn[member].is_some() {
                    class.disconnect(member);
                } else {
                    class.connect(member);
                }
            }
            _ => {
                let up = !class.publishing[member];
                class.publishing[member] = up;
                let input = if up {
                    RoomInput::PublisherUp {
                        room: room().clone(),
                        publisher: Publisher {
                            peer: peer(member).clone(),
                            name: format!("Member {member}"),
                            role: role(member),
                            audio: true,
                            video: true,
                            transport: Transport::Whip,
                        },
                    }
                } else {
                    RoomInput::PublisherDown {
                        room: room().clone(),
                        peer: peer(member).clone(),
                    }
                };
                class.input(input);
            }
        }
    }
    // Shutdown says goodbye to everyone still connected.
    class.input(RoomInput::Shutdown);
    assert!(class.open.is_empty(), "shutdown left {:?} open", class.open);
    assert_eq!(class.rooms.connection_count(), 0);
    // Once nobody publishes and the grace period is over, the room is forgotten.
    for member in 0..MEMBERS {
        if class.publishing[member] {
            class.input(RoomInput::PublisherDown {
                room: room().clone(),
                peer: peer(member).clone(),
            });
        }
    }
    class.advance(STAGE_GRACE + Duration::from_secs(1));
    assert_eq!(class.rooms.room_count(), 0, "an empty room is kept forever");
});

//! The room state machine, driven with explicit time and no sockets.
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
        invite: false,
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
        assert!(
            to(&out, conn).iter().any(
                |m| matches!(m, ServerMessage::Participant { participant } if participant.hand)
            )
        );
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

mod board;

#[test]
fn board_assets_need_an_open_room_and_go_with_it() {
    let mut w = World::new();
    let pdf = Asset {
        kind: AssetType::Pdf,
        data: bytes::Bytes::from_static(b"%PDF-1.4\n%%EOF\n"),
    };
    let id = asset_id(&pdf.data);
    let err = w.rooms.put_asset(&room(), id.clone(), pdf.clone());
    assert_eq!(err.unwrap_err().code, ErrorCode::NotFound);

    w.join(1, "teacher", Role::Teacher);
    w.join(2, "ann", Role::Student);
    let stored = w.rooms.put_asset(&room(), id.clone(), pdf.clone()).unwrap();
    assert_eq!(stored.bytes, 15);
    assert_eq!(w.rooms.asset(&room(), &id), Some(pdf.clone()));
    assert_eq!(w.rooms.asset(&RoomId::new("art").unwrap(), &id), None);
    assert_eq!(w.rooms.asset_bytes(), 15);

    w.rooms
        .handle_input(w.now(), RoomInput::Disconnect { conn: ConnId(1) });
    assert!(w.rooms.asset(&room(), &id).is_some(), "ann is still here");
    w.rooms
        .handle_input(w.now(), RoomInput::Disconnect { conn: ConnId(2) });
    assert_eq!(w.rooms.asset(&room(), &id), None);
    assert_eq!(w.rooms.asset_bytes(), 0, "an emptied room frees its files");
}

//! The board hub, driven like the rest of the room: explicit time, no sockets.
use super::*;
use lectern_board::{ClientBoard, Snapshot};
use lectern_proto::{
    BoardAction, BoardEphemeral, BoardOp, Color, GrantScope, PageId, PenGrant, Point, Pos, ShapeId,
    Style,
};

/// A message as a client would read it: a typed one, or the snapshot the relay writes.
#[derive(Debug)]
enum Msg {
    Server(ServerMessage),
    Snapshot { epoch: u64, snapshot: Snapshot },
}

fn msgs(out: &[RoomOutput], conn: u64) -> Vec<Msg> {
    out.iter()
        .filter_map(|o| match o {
            RoomOutput::Send { conn: c, msg } if c.0 == conn => Some(Msg::Server(msg.clone())),
            RoomOutput::SendText { conn: c, text } if c.0 == conn => Some(decode(text)),
            _ => None,
        })
        .collect()
}

fn decode(text: &str) -> Msg {
    if let Ok(env) = serde_json::from_str::<Envelope<ServerMessage>>(text) {
        assert_eq!(env.v, PROTOCOL_VERSION);
        return Msg::Server(env.body);
    }
    let v: serde_json::Value = serde_json::from_str(text).expect("the relay writes JSON");
    assert_eq!(v["v"], 1);
    assert_eq!(v["type"], "board_snapshot", "{text:.200}");
    Msg::Snapshot {
        epoch: v["epoch"].as_u64().expect("an epoch"),
        snapshot: Snapshot::from_json(&v["snapshot"].to_string()).expect("a snapshot"),
    }
}

fn ops(out: &[RoomOutput], conn: u64) -> Vec<BoardOp> {
    msgs(out, conn)
        .into_iter()
        .filter_map(|m| match m {
            Msg::Server(ServerMessage::BoardOp { op }) => Some(op),
            _ => None,
        })
        .collect()
}

fn refused(out: &[RoomOutput], conn: u64) -> Vec<(u64, String)> {
    msgs(out, conn)
        .into_iter()
        .filter_map(|m| match m {
            Msg::Server(ServerMessage::BoardRefused {
                client_seq, code, ..
            }) => Some((client_seq, code)),
            _ => None,
        })
        .collect()
}

fn snapshot(out: &[RoomOutput], conn: u64) -> Option<(u64, Snapshot)> {
    msgs(out, conn).into_iter().find_map(|m| match m {
        Msg::Snapshot { epoch, snapshot } => Some((epoch, snapshot)),
        _ => None,
    })
}

fn grants(out: &[RoomOutput], conn: u64) -> Option<Vec<PenGrant>> {
    msgs(out, conn).into_iter().find_map(|m| match m {
        Msg::Server(ServerMessage::BoardGrants { grants }) => Some(grants),
        _ => None,
    })
}

fn peer(s: &str) -> PeerId {
    PeerId::new(s).unwrap()
}

fn first_page() -> PageId {
    PageId::new("relay:1").unwrap()
}

fn pt(x: f32, y: f32) -> Point {
    Point {
        x,
        y,
        pressure: 0.5,
    }
}

fn begin(points: Vec<Point>) -> BoardAction {
    BoardAction::BeginStroke {
        page: first_page(),
        style: Style {
            color: Color::rgb(0x1f2937),
            width: 4.0,
            opacity: 1.0,
            highlighter: false,
            fill: None,
        },
        smooth: true,
        points,
    }
}

fn op_json(author: &str, client_seq: u64, action: BoardAction) -> String {
    let op = BoardOp::new(peer(author), client_seq, action);
    serde_json::to_string(&Envelope::new(ClientMessage::BoardOp { op })).unwrap()
}

const SYNC: &str = r#"{"v":1,"type":"board_sync"}"#;

fn grant(peer: &str) -> String {
    format!(r#"{{"v":1,"type":"board_grant","peer":"{peer}","scope":{{"type":"board"}}}}"#)
}

fn revoke(peer: &str) -> String {
    format!(r#"{{"v":1,"type":"board_grant","peer":"{peer}"}}"#)
}

/// A teacher (1) and two students (2, 3), all subscribed to the board.
fn class() -> World {
    let mut w = World::new();
    w.join(1, "teacher", Role::Teacher);
    w.join(2, "ann", Role::Student);
    w.join(3, "bob", Role::Student);
    for conn in [1, 2, 3] {
        w.say(conn, SYNC);
    }
    w
}

fn board_of(w: &World) -> &lectern_board::Board {
    w.rooms.rooms[&room()]
        .board
        .as_ref()
        .expect("the room has a board")
        .sequencer()
        .board()
}

#[test]
fn a_new_board_has_one_page_and_a_sync_gets_grants_then_the_snapshot() {
    let mut w = World::new();
    w.join(1, "teacher", Role::Teacher);
    let out = w.say(1, SYNC);
    let got = msgs(&out, 1);
    assert!(matches!(
        &got[0],
        Msg::Server(ServerMessage::BoardGrants { grants }) if grants.is_empty()
    ));
    let Msg::Snapshot { epoch, snapshot } = &got[1] else {
        panic!("a snapshot after the grants, got {got:?}");
    };
    assert_eq!(*epoch, w.now().unix_ms);
    assert_eq!(snapshot.seq, 1);
    assert_eq!(snapshot.board.pages().len(), 1);
    assert_eq!(snapshot.board.current_page(), Some(&first_page()));
}

#[test]
fn the_teacher_draws_and_every_subscriber_gets_the_op_with_its_seq() {
    let mut w = class();
    w.join(4, "cat", Role::Student); // connected, never synced
    let out = w.say(1, &op_json("teacher", 1, begin(vec![pt(10.0, 10.0)])));
    for conn in [1, 2, 3] {
        let got = ops(&out, conn);
        assert_eq!(got.len(), 1, "conn {conn}");
        assert_eq!(got[0].server_seq, Some(2));
        assert_eq!(got[0].author.as_str(), "teacher");
    }
    assert!(to(&out, 4).is_empty() && msgs(&out, 4).is_empty());
    let out = w.say(
        1,
        &op_json(
            "teacher",
            2,
            BoardAction::AppendStroke {
                page: first_page(),
                stroke: ShapeId::new("teacher:1").unwrap(),
                points: vec![pt(20.0, 20.0)],
            },
        ),
    );
    assert_eq!(ops(&out, 2)[0].server_seq, Some(3));
}

#[test]
fn a_student_without_the_pen_is_refused_and_only_they_hear_of_it() {
    let mut w = class();
    let out = w.say(2, &op_json("ann", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 2), vec![(1, "forbidden".to_string())]);
    assert!(msgs(&out, 1).is_empty() && msgs(&out, 3).is_empty());
    // Someone else's name on the op is refused too.
    let out = w.say(2, &op_json("bob", 5, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 2), vec![(5, "wrong_author".to_string())]);
    // Only the teacher hands out the pen.
    let out = w.say(2, &grant("ann"));
    assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
    assert!(msgs(&out, 1).is_empty());
}

#[test]
fn a_granted_student_draws_for_everyone_until_the_pen_is_taken_back() {
    let mut w = class();
    let out = w.say(1, &grant("ann"));
    let expected = vec![PenGrant {
        peer: peer("ann"),
        scope: GrantScope::Board,
    }];
    for conn in [1, 2, 3] {
        assert_eq!(grants(&out, conn), Some(expected.clone()), "conn {conn}");
    }
    let out = w.say(2, &op_json("ann", 1, begin(vec![pt(1.0, 1.0)])));
    for conn in [1, 2, 3] {
        assert_eq!(ops(&out, conn)[0].author.as_str(), "ann");
    }
    // Taken back mid-stroke: the open stroke is ended in her name, and she is refused.
    let out = w.say(1, &revoke("ann"));
    assert_eq!(grants(&out, 3), Some(vec![]));
    let ended = ops(&out, 3);
    assert!(
        matches!(
            &ended[..],
            [BoardOp {
                action: BoardAction::EndStroke { .. },
                client_seq: 2,
                ..
            }]
        ),
        "{ended:?}"
    );
    let out = w.say(2, &op_json("ann", 3, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 2), vec![(3, "forbidden".to_string())]);
    // Observers and teachers are not handed the pen.
    w.join(5, "dad", Role::Observer);
    assert_eq!(
        error_code(&w.say(1, &grant("dad")), 1),
        Some(ErrorCode::InvalidInput)
    );
    assert_eq!(
        error_code(&w.say(1, &grant("nobody")), 1),
        Some(ErrorCode::NotFound)
    );
}

#[test]
fn a_page_grant_covers_only_its_pages() {
    let mut w = class();
    let out = w.say(
        1,
        &op_json(
            "teacher",
            1,
            BoardAction::AddPage {
                index: None,
                background: None,
            },
        ),
    );
    assert_eq!(ops(&out, 2).len(), 1);
    w.say(
        1,
        r#"{"v":1,"type":"board_grant","peer":"ann","scope":{"type":"pages","pages":["teacher:1"]}}"#,
    );
    let out = w.say(2, &op_json("ann", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 2), vec![(1, "forbidden".to_string())]);
    let mut on_second = begin(vec![pt(1.0, 1.0)]);
    if let BoardAction::BeginStroke { page, .. } = &mut on_second {
        *page = PageId::new("teacher:1").unwrap();
    }
    let out = w.say(2, &op_json("ann", 2, on_second));
    assert_eq!(ops(&out, 3).len(), 1);
}

#[test]
fn a_grant_survives_a_reconnect() {
    let mut w = class();
    w.say(1, &grant("ann"));
    let now = w.now();
    w.rooms
        .handle_input(now, RoomInput::Disconnect { conn: ConnId(2) });
    w.drain();
    w.advance(Duration::from_secs(5));
    w.join(12, "ann", Role::Student);
    let out = w.say(12, SYNC);
    assert_eq!(
        grants(&out, 12),
        Some(vec![PenGrant {
            peer: peer("ann"),
            scope: GrantScope::Board,
        }])
    );
    let out = w.say(12, &op_json("ann", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(ops(&out, 1).len(), 1);
    assert_eq!(ops(&out, 12).len(), 1, "her confirmation");
}

#[test]
fn a_late_joiner_gets_the_live_board_and_the_ops_after_it() {
    let mut w = World::new();
    w.join(1, "teacher", Role::Teacher);
    w.join(2, "ann", Role::Student);
    w.join(3, "bob", Role::Student);
    w.say(1, SYNC);
    w.say(3, SYNC);
    // Ann follows the class from her first snapshot, op by op.
    let (_, first) = snapshot(&w.say(2, SYNC), 2).unwrap();
    let mut ann = ClientBoard::new(peer("ann"), first);
    w.say(1, &grant("bob"));
    let actions = [
        (1, "teacher", begin(vec![pt(1.0, 2.0), pt(3.0, 4.0)])),
        (3, "bob", begin(vec![pt(100.0, 100.0)])),
        (
            1,
            "teacher",
            BoardAction::EndStroke {
                page: first_page(),
                stroke: ShapeId::new("teacher:1").unwrap(),
            },
        ),
        (
            3,
            "bob",
            BoardAction::EndStroke {
                page: first_page(),
                stroke: ShapeId::new("bob:2").unwrap(),
            },
        ),
        (3, "bob", BoardAction::Undo),
    ];
    for (i, (conn, author, action)) in actions.into_iter().enumerate() {
        let out = w.say(conn, &op_json(author, i as u64 + 1, action));
        for op in ops(&out, 2) {
            assert_eq!(ann.receive(&op), Ok(true));
        }
    }
    w.join(4, "cat", Role::Student);
    let (_, late) = snapshot(&w.say(4, SYNC), 4).expect("a snapshot");
    assert_eq!(late.board, *board_of(&w));
    assert_eq!(late.seq, 6);
    assert_eq!(ann.confirmed(), board_of(&w));
    // ... and then hears of the next op like everyone else.
    let out = w.say(1, &op_json("teacher", 9, BoardAction::Undo));
    assert_eq!(ops(&out, 4)[0].server_seq, Some(7));
}

#[test]
fn a_reconnect_with_since_gets_exactly_the_missing_ops() {
    let mut w = class();
    let now = w.now();
    let (epoch, at) = snapshot(&w.say(2, SYNC), 2).unwrap();
    w.rooms
        .handle_input(now, RoomInput::Disconnect { conn: ConnId(2) });
    w.drain();
    for seq in 1..=3 {
        w.say(1, &op_json("teacher", seq, begin(vec![pt(1.0, 1.0)])));
    }
    w.join(12, "ann", Role::Student);
    let sync = |since: u64, epoch: u64| {
        format!(r#"{{"v":1,"type":"board_sync","since":{since},"epoch":{epoch}}}"#)
    };
    let out = w.say(12, &sync(at.seq, epoch));
    let missed = msgs(&out, 12)
        .into_iter()
        .find_map(|m| match m {
            Msg::Server(ServerMessage::BoardOps { ops }) => Some(ops),
            _ => None,
        })
        .expect("board_ops");
    let seqs: Vec<_> = missed.iter().map(|o| o.server_seq).collect();
    assert_eq!(seqs, vec![Some(2), Some(3), Some(4)]);
    let mut ann = ClientBoard::new(peer("ann"), at);
    for op in &missed {
        assert_eq!(ann.receive(op), Ok(true));
    }
    assert_eq!(ann.confirmed(), board_of(&w));
    // Up to date: nothing missing.
    let out = w.say(12, &sync(4, epoch));
    assert!(matches!(
        &msgs(&out, 12)[1],
        Msg::Server(ServerMessage::BoardOps { ops }) if ops.is_empty()
    ));
    // Another copy of the board (a restarted relay), or a seq it never reached: a snapshot.
    assert!(snapshot(&w.say(12, &sync(2, epoch + 1)), 12).is_some());
    assert!(snapshot(&w.say(12, &sync(99, epoch)), 12).is_some());
}

#[test]
fn an_old_log_is_trimmed_and_a_client_behind_it_gets_a_snapshot() {
    let mut w = World::new();
    w.join(1, "teacher", Role::Teacher);
    w.say(1, SYNC);
    w.say(1, &op_json("teacher", 1, begin(vec![pt(1.0, 1.0)])));
    let stroke = ShapeId::new("teacher:1").unwrap();
    let total = LOG_KEEP_OPS as u64 + 600;
    for seq in 2..=total {
        // Within the sustained rate, so none is refused.
        w.elapsed += Duration::from_millis(17);
        let action = BoardAction::AppendStroke {
            page: first_page(),
            stroke: stroke.clone(),
            points: vec![pt(seq as f32 % 1000.0, 5.0)],
        };
        let out = w.say(1, &op_json("teacher", seq, action));
        assert_eq!(ops(&out, 1).len(), 1, "op {seq}");
    }
    assert_eq!(board_of(&w).last_client_seq(&peer("teacher")), total);
    let sequencer = w.rooms.rooms[&room()].board.as_ref().unwrap().sequencer();
    let (head, kept) = (sequencer.seq(), sequencer.log().len());
    assert_eq!(head, total + 1, "the first page, then the teacher's ops");
    assert!(
        (LOG_KEEP_OPS * 9 / 10..=LOG_KEEP_OPS).contains(&kept),
        "{kept}"
    );

    w.join(2, "ann", Role::Student);
    let far = r#"{"v":1,"type":"board_sync","since":1}"#;
    let (_, snap) = snapshot(&w.say(2, far), 2).expect("trimmed: a snapshot");
    assert_eq!(snap.board, *board_of(&w));
    // Within the log but more than one answer carries: a snapshot as well.
    let mid = format!(
        r#"{{"v":1,"type":"board_sync","since":{}}}"#,
        head - MAX_CATCH_UP_OPS as u64 - 1
    );
    assert!(snapshot(&w.say(2, &mid), 2).is_some());
    let near = format!(r#"{{"v":1,"type":"board_sync","since":{}}}"#, head - 10);
    let out = w.say(2, &near);
    assert!(matches!(
        &msgs(&out, 2)[1],
        Msg::Server(ServerMessage::BoardOps { ops }) if ops.len() == 10
    ));
}

#[test]
fn bad_ops_are_refused_to_their_sender_and_nobody_else_notices() {
    let mut w = class();
    // A page that does not exist.
    let mut elsewhere = begin(vec![pt(1.0, 1.0)]);
    if let BoardAction::BeginStroke { page, .. } = &mut elsewhere {
        *page = PageId::new("nowhere:1").unwrap();
    }
    let out = w.say(1, &op_json("teacher", 1, elsewhere));
    assert_eq!(refused(&out, 1), vec![(1, "page_not_found".to_string())]);
    assert!(msgs(&out, 2).is_empty());
    // A batch over the limit, still inside the message size.
    let huge = begin((0..1_025).map(|i| pt(i as f32 % 1600.0, 1.0)).collect());
    let text = op_json("teacher", 2, huge);
    assert!(text.len() <= MAX_MESSAGE_BYTES);
    let out = w.say(1, &text);
    assert_eq!(refused(&out, 1), vec![(2, "batch_too_large".to_string())]);
    // A full batch of 1,024 points fits a message and is accepted.
    let full = begin((0..1_024).map(|i| pt(i as f32 + 0.25, 899.75)).collect());
    let text = op_json("teacher", 3, full);
    assert!(text.len() <= MAX_MESSAGE_BYTES, "{}", text.len());
    assert_eq!(ops(&w.say(1, &text), 2).len(), 1);
    // Not a number.
    let out = w.say(
        1,
        r#"{"v":1,"type":"board_op","op":{"author":"teacher","client_seq":4,"action":{"type":"append_stroke","page":"relay:1","stroke":"teacher:3","points":[{"x":"left","y":1}]}}}"#,
    );
    assert_eq!(refused(&out, 1), vec![(4, "malformed".to_string())]);
    // A message over the socket's limit.
    let padded = format!(
        r#"{{"v":1,"type":"board_op","pad":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    );
    assert_eq!(error_code(&w.say(1, &padded), 1), Some(ErrorCode::TooLarge));
    // Other messages stay at 16 KiB.
    let chat = format!(r#"{{"v":1,"type":"chat","text":"{}"}}"#, " ".repeat(20_000));
    assert_eq!(error_code(&w.say(2, &chat), 2), Some(ErrorCode::TooLarge));
    assert_eq!(w.rooms.connection_count(), 3);
}

#[test]
fn a_flood_of_ops_is_limited_then_dropped_and_the_class_goes_on() {
    let mut w = class();
    w.say(1, &grant("ann"));
    let (mut accepted, mut limited, mut closed) = (0, 0, false);
    for seq in 1..=400 {
        let out = w.say(2, &op_json("ann", seq, begin(vec![pt(1.0, 1.0)])));
        // (Her open strokes are ended as she goes: not counted as accepted.)
        accepted += ops(&out, 3)
            .iter()
            .filter(|o| matches!(o.action, BoardAction::BeginStroke { .. }))
            .count();
        limited += refused(&out, 2)
            .iter()
            .filter(|(_, c)| c == "rate_limited")
            .count();
        if out.contains(&RoomOutput::Close { conn: ConnId(2) }) {
            assert!(to(&out, 2).contains(&&ServerMessage::Bye {
                reason: ByeReason::Misbehaving
            }));
            closed = true;
            break;
        }
    }
    assert_eq!(accepted, BOARD_OPS_BURST as usize);
    assert!(limited >= 90, "{limited}");
    assert!(closed, "a persistent flood is dropped");
    // Her open strokes were ended when she went; the teacher and Bob carry on.
    let out = w.say(1, &op_json("teacher", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(ops(&out, 3).len(), 1);
    assert_eq!(w.rooms.connection_count(), 2);

    // A short overshoot drains away without a disconnect.
    w.join(4, "cat", Role::Student);
    w.say(1, &grant("cat"));
    for seq in 1..=260 {
        w.say(4, &op_json("cat", seq, begin(vec![pt(1.0, 1.0)])));
    }
    w.advance(Duration::from_secs(10));
    let out = w.say(4, &op_json("cat", 999, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(ops(&out, 4).len(), 1);
}

#[test]
fn lasers_reach_everyone_else_and_only_from_a_pen_holder() {
    let mut w = class();
    let laser = |trail: &str| {
        format!(
            r#"{{"v":1,"type":"board_ephemeral","e":{{"type":"laser","page":"relay:1","trail":{trail}}}}}"#
        )
    };
    let out = w.say(1, &laser(r#"[{"x":1,"y":2},{"x":3,"y":4}]"#));
    assert!(msgs(&out, 1).is_empty(), "not back to the sender");
    for conn in [2, 3] {
        let got = msgs(&out, conn);
        assert!(
            matches!(&got[..], [Msg::Server(ServerMessage::BoardEphemeral { peer, e: BoardEphemeral::Laser { trail, .. } })]
                if peer.as_str() == "teacher" && trail[1] == Pos { x: 3.0, y: 4.0 }),
            "{got:?}"
        );
    }
    // Without the pen: dropped, and no strike for it.
    let out = w.say(2, &laser(r#"[{"x":1,"y":2}]"#));
    assert!(out.is_empty());
    // Out of reach: an error to the sender.
    let out = w.say(1, &laser(r#"[{"x":1e9,"y":2}]"#));
    assert_eq!(error_code(&out, 1), Some(ErrorCode::InvalidInput));
    assert!(msgs(&out, 2).is_empty());
    // Over the budget: dropped.
    let sent: usize = (0..60)
        .map(|_| msgs(&w.say(1, &laser(r#"[{"x":1,"y":2}]"#)), 2).len())
        .sum();
    assert!(sent <= EPHEMERAL_PER_SEC as usize, "{sent}");
}

#[test]
fn without_the_board_grant_there_is_no_board() {
    let mut w = World::new();
    w.join(1, "teacher", Role::Teacher);
    w.join(2, "dad", Role::Observer); // observers' tokens have no board grant
    assert_eq!(error_code(&w.say(2, SYNC), 2), Some(ErrorCode::Forbidden));
    let out = w.say(2, &op_json("dad", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 2), vec![(1, "forbidden".to_string())]);
    // An observer whose token can see the board still never draws.
    let now = w.now();
    let mut watcher = claims("math", "inspector", Role::Observer);
    watcher.grants.board = true;
    w.rooms.handle_input(
        now,
        RoomInput::Connect {
            conn: ConnId(3),
            claims: watcher,
        },
    );
    w.drain();
    assert!(snapshot(&w.say(3, SYNC), 3).is_some());
    let out = w.say(3, &op_json("inspector", 1, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 3), vec![(1, "forbidden".to_string())]);
    // Nor does a participant named like the relay itself.
    w.join(4, RELAY_AUTHOR, Role::Teacher);
    let out = w.say(4, &op_json(RELAY_AUTHOR, 7, begin(vec![pt(1.0, 1.0)])));
    assert_eq!(refused(&out, 4), vec![(7, "forbidden".to_string())]);
}

#[test]
fn a_stroke_left_open_by_someone_who_leaves_is_ended_for_them() {
    let mut w = class();
    w.say(1, &op_json("teacher", 1, begin(vec![pt(1.0, 1.0)])));
    let now = w.now();
    w.rooms
        .handle_input(now, RoomInput::Disconnect { conn: ConnId(1) });
    let out = w.drain();
    let got = ops(&out, 2);
    assert!(
        matches!(
            &got[..],
            [BoardOp {
                action: BoardAction::EndStroke { .. },
                server_seq: Some(3),
                ..
            }]
        ),
        "{got:?}"
    );
    assert!(
        board_of(&w).can_undo(&peer("teacher")),
        "the stroke is a step"
    );
}

/// Garbage in every field of every board message: answered or ignored, never a panic,
/// and the room still works afterwards.
#[test]
fn garbage_board_messages_never_panic() {
    let seeds = [
        op_json("teacher", 1, begin(vec![pt(1.0, 1.0)])),
        op_json(
            "teacher",
            2,
            BoardAction::PartialErase {
                page: first_page(),
                stroke: ShapeId::new("teacher:1").unwrap(),
                ranges: vec![lectern_proto::PointRange { start: 0, end: 1 }],
            },
        ),
        r#"{"v":1,"type":"board_ephemeral","e":{"type":"cursor","page":"relay:1","at":{"x":1,"y":2}}}"#.into(),
        r#"{"v":1,"type":"board_sync","since":18446744073709551615,"epoch":0}"#.into(),
        r#"{"v":1,"type":"board_grant","peer":"ann","scope":{"type":"pages","pages":["relay:1"]}}"#.into(),
    ];
    let junk = [
        "",
        "null",
        "-1",
        "1e400",
        "NaN",
        "\"\"",
        "[]",
        "{}",
        "true",
        "\"a b\"",
        "18446744073709551616",
        "{\"type\":\"board\"}",
        "[[[[[[[[[[]]]]]]]]]]",
    ];
    let mut w = class();
    w.say(1, &grant("ann"));
    // A small xorshift: the same garbage on every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..4_000 {
        let mut text = seeds[next(seeds.len())].as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(text.len().max(1)).min(text.len());
            match next(4) {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 => text.insert(at, b"{}[]\":,0-9ez\\"[next(13)]),
                2 => {
                    // Replace the value after a colon with junk.
                    if let Some(colon) = text[at..].iter().position(|&b| b == b':') {
                        let start = at + colon + 1;
                        let end = text[start..]
                            .iter()
                            .position(|&b| b == b',' || b == b'}')
                            .map_or(text.len(), |e| start + e);
                        text.splice(start..end, junk[next(junk.len())].bytes());
                    }
                }
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        let conn = [1, 2, 3][next(3)];
        w.elapsed += Duration::from_millis(40);
        w.say(conn, &text);
        if w.rooms.connection_count() < 3 {
            // Dropped for misbehaving: come back, as a real client would.
            let who = [
                (1, "teacher", Role::Teacher),
                (2, "ann", Role::Student),
                (3, "bob", Role::Student),
            ];
            for (c, name, role) in who {
                if !w.rooms.conns.contains_key(&ConnId(c)) {
                    w.join(c, name, role);
                    w.say(c, SYNC);
                }
            }
        }
    }
    w.advance(Duration::from_secs(10));
    let next_seq = board_of(&w)
        .last_client_seq(&peer("teacher"))
        .saturating_add(1);
    let out = w.say(
        1,
        &op_json(
            "teacher",
            next_seq,
            BoardAction::AddPage {
                index: None,
                background: None,
            },
        ),
    );
    assert_eq!(ops(&out, 2).len(), 1, "{out:?}");
}

//! The relay's sequencer and a client's board, one scenario each: ordering, refusals,
//! late join, reconnect, resync.

mod common;

use common::peer;
use lectern_board::{BoardError, ClientBoard, Sequencer, Snapshot};
use lectern_proto::{BoardAction, BoardOp, Color, GrantScope, PageId, Point, Role, ShapeId, Style};

fn add_page() -> BoardAction {
    BoardAction::AddPage {
        index: None,
        background: None,
    }
}

fn begin(page: &PageId) -> BoardAction {
    BoardAction::BeginStroke {
        page: page.clone(),
        style: Style {
            color: Color::rgb(0),
            width: 2.0,
            opacity: 1.0,
            highlighter: false,
            fill: None,
        },
        smooth: true,
        points: vec![Point {
            x: 10.0,
            y: 10.0,
            pressure: 1.0,
        }],
    }
}

fn erase(page: &PageId, shape: &ShapeId) -> BoardAction {
    BoardAction::EraseShapes {
        page: page.clone(),
        shapes: vec![shape.clone()],
    }
}

/// A relay with one page made by the teacher, and the teacher's client in step with it.
fn room() -> (Sequencer, ClientBoard, PageId) {
    let mut server = Sequencer::new();
    let mut teacher = ClientBoard::new(peer("t"), server.snapshot());
    let (op, _) = teacher.local(add_page()).unwrap();
    let page = op.id().page_id();
    let (ordered, _) = server.submit(&peer("t"), Role::Teacher, op).unwrap();
    teacher.receive(&ordered.clone()).unwrap();
    (server, teacher, page)
}

#[test]
fn the_relay_numbers_accepted_ops_and_refuses_the_rest_unnumbered() {
    let (mut server, _, page) = room();
    assert_eq!(server.seq(), 1);
    // Not the sender's op.
    let forged = BoardOp::new(peer("t"), 9, begin(&page));
    assert_eq!(
        server
            .submit(&peer("s"), Role::Student, forged)
            .unwrap_err(),
        BoardError::WrongAuthor
    );
    // No pen.
    let op = BoardOp::new(peer("s"), 1, begin(&page));
    assert_eq!(
        server
            .submit(&peer("s"), Role::Student, op.clone())
            .unwrap_err(),
        BoardError::Forbidden
    );
    // A grant for the page lets it through, and it survives the teacher changing page.
    server.permissions_mut().grant(
        peer("s"),
        GrantScope::Pages {
            pages: vec![page.clone()],
        },
    );
    let next = BoardOp::new(peer("t"), 10, add_page());
    server.submit(&peer("t"), Role::Teacher, next).unwrap();
    let (ordered, applied) = server
        .submit(&peer("s"), Role::Student, op.clone())
        .unwrap();
    assert_eq!(ordered.server_seq, Some(3));
    assert_eq!(applied.pages, vec![page.clone()]);
    // The same op again is a repeat, refused by its counter.
    assert!(matches!(
        server.submit(&peer("s"), Role::Student, op),
        Err(BoardError::StaleOp { .. })
    ));
    // A malformed op (a page that does not exist) is refused too.
    let nowhere = BoardOp::new(peer("t"), 11, begin(&PageId::new("x:1").unwrap()));
    assert_eq!(
        server
            .submit(&peer("t"), Role::Teacher, nowhere)
            .unwrap_err(),
        BoardError::PageNotFound
    );
    assert_eq!(server.seq(), 3);
    assert_eq!(server.log().len(), 3);
}

#[test]
fn a_late_joiner_starts_from_a_snapshot_and_the_ops_since() {
    let (mut server, mut teacher, page) = room();
    let snapshot = server.snapshot().to_json();
    for _ in 0..3 {
        let (op, _) = teacher.local(begin(&page)).unwrap();
        let (ordered, _) = server.submit(&peer("t"), Role::Teacher, op).unwrap();
        let ordered = ordered.clone();
        teacher.receive(&ordered).unwrap();
    }
    let snapshot = Snapshot::from_json(&snapshot).unwrap();
    assert_eq!(snapshot.seq, 1);
    let mut late = ClientBoard::new(peer("late"), snapshot);
    for op in server.ops_since(late.confirmed_seq()).unwrap() {
        assert!(late.receive(op).unwrap());
    }
    assert_eq!(late.board(), server.board());
    assert_eq!(teacher.board(), server.board());
    assert_eq!(server.ops_since(server.seq()).unwrap(), &[]);
}

#[test]
fn a_trimmed_log_sends_a_client_that_is_far_behind_to_a_snapshot() {
    let (mut server, mut teacher, page) = room();
    for _ in 0..4 {
        let (op, _) = teacher.local(begin(&page)).unwrap();
        server.submit(&peer("t"), Role::Teacher, op).unwrap();
    }
    server.trim_log(3);
    assert_eq!(server.ops_since(1), Err(BoardError::SeqTrimmed(4)));
    assert_eq!(server.ops_since(3).unwrap().len(), 2);
    assert_eq!(server.ops_since(3).unwrap()[0].server_seq, Some(4));
    // The teacher missed every confirmation: resync keeps nothing pending that the
    // snapshot already holds.
    teacher.resync(server.snapshot());
    assert_eq!(teacher.pending().count(), 0);
    assert_eq!(teacher.board(), server.board());
}

#[test]
fn a_client_draws_at_once_and_rebases_on_someone_elses_op() {
    let (mut server, mut teacher, page) = room();
    server.permissions_mut().grant(peer("s"), GrantScope::Board);
    let mut student = ClientBoard::new(peer("s"), server.snapshot());

    // The student draws while the teacher clears the page; the relay takes the clear
    // first, so the stroke survives, drawn after the clear.
    let (s_op, _) = student.local(begin(&page)).unwrap();
    let stroke = s_op.id().shape_id();
    assert_eq!(student.board().page(&page).unwrap().shapes.len(), 1);
    let (t_op, _) = teacher
        .local(BoardAction::ClearPage { page: page.clone() })
        .unwrap();

    let (t_ordered, _) = server.submit(&peer("t"), Role::Teacher, t_op).unwrap();
    let t_ordered = t_ordered.clone();
    let (s_ordered, _) = server.submit(&peer("s"), Role::Student, s_op).unwrap();
    let s_ordered = s_ordered.clone();

    // The student hears of the clear first: the pending stroke is replayed on top of it.
    student.receive(&t_ordered).unwrap();
    assert_eq!(student.pending().count(), 1);
    assert_eq!(student.board().page(&page).unwrap().shapes[0].id, stroke);
    student.receive(&s_ordered).unwrap();
    assert_eq!(student.pending().count(), 0);
    teacher.receive(&t_ordered).unwrap();
    teacher.receive(&s_ordered).unwrap();
    assert_eq!(student.board(), server.board());
    assert_eq!(teacher.board(), server.board());
}

#[test]
fn a_pending_op_that_no_longer_applies_is_dropped_on_rebase() {
    let (mut server, mut teacher, page) = room();
    let (op, _) = teacher.local(begin(&page)).unwrap();
    let stroke = op.id().shape_id();
    let (ordered, _) = server.submit(&peer("t"), Role::Teacher, op).unwrap();
    let ordered = ordered.clone();
    teacher.receive(&ordered).unwrap();
    server.permissions_mut().grant(peer("s"), GrantScope::Board);
    let mut student = ClientBoard::new(peer("s"), server.snapshot());

    // Both erase the same stroke; the teacher's lands first.
    let (s_erase, _) = student.local(erase(&page, &stroke)).unwrap();
    let (t_erase, _) = teacher.local(erase(&page, &stroke)).unwrap();
    let (t_ordered, _) = server.submit(&peer("t"), Role::Teacher, t_erase).unwrap();
    let t_ordered = t_ordered.clone();
    assert_eq!(
        server
            .submit(&peer("s"), Role::Student, s_erase.clone())
            .unwrap_err(),
        BoardError::ShapeNotFound
    );
    student.receive(&t_ordered).unwrap();
    // The student's erase has nothing left to erase: dropped before the refusal arrives.
    assert_eq!(student.pending().count(), 0);
    student.refused(s_erase.client_seq);
    assert_eq!(student.board(), server.board());
}

#[test]
fn a_refused_op_is_rolled_back_and_later_ops_still_go_through() {
    let (mut server, _, page) = room();
    let mut student = ClientBoard::new(peer("s"), server.snapshot());
    let (first, _) = student.local(begin(&page)).unwrap();
    assert!(server.submit(&peer("s"), Role::Student, first).is_err());
    server.permissions_mut().grant(peer("s"), GrantScope::Board);
    let (second, _) = student.local(begin(&page)).unwrap();
    let (ordered, _) = server.submit(&peer("s"), Role::Student, second).unwrap();
    let ordered = ordered.clone();
    // The confirmation of a later op tells the client the earlier one was refused, even
    // if the refusal itself was lost.
    student.receive(&ordered).unwrap();
    assert_eq!(student.pending().count(), 0);
    assert_eq!(student.board(), server.board());
    assert_eq!(student.board().page(&page).unwrap().shapes.len(), 1);
}

#[test]
fn after_a_reconnect_repeats_are_ignored_and_gaps_reported() {
    let (mut server, mut teacher, page) = room();
    let (op, _) = teacher.local(begin(&page)).unwrap();
    // Sent, ordered, but the connection dropped before the confirmation came back.
    let (ordered, _) = server
        .submit(&peer("t"), Role::Teacher, op.clone())
        .unwrap();
    let ordered = ordered.clone();
    let end = BoardAction::EndStroke {
        page: page.clone(),
        stroke: op.id().shape_id(),
    };
    let (op2, _) = teacher.local(end).unwrap();
    // Reconnected: the client resends all it has pending; the relay refuses the repeat.
    let resent: Vec<_> = teacher.pending().cloned().collect();
    assert_eq!(resent.len(), 2);
    assert!(matches!(
        server.submit(&peer("t"), Role::Teacher, resent[0].clone()),
        Err(BoardError::StaleOp { .. })
    ));
    let (ordered2, _) = server.submit(&peer("t"), Role::Teacher, op2).unwrap();
    let ordered2 = ordered2.clone();
    // A skipped number is reported, so the client asks for the ops since its seq.
    assert_eq!(
        teacher.receive(&ordered2),
        Err(BoardError::SeqGap {
            expected: 2,
            got: 3
        })
    );
    for op in server.ops_since(teacher.confirmed_seq()).unwrap().to_vec() {
        teacher.receive(&op).unwrap();
    }
    assert_eq!(teacher.receive(&ordered), Ok(false));
    assert_eq!(teacher.pending().count(), 0);
    assert_eq!(teacher.board(), server.board());
}

#[test]
fn a_relay_restarts_from_its_stored_snapshot() {
    let (server, _, _) = room();
    let stored = server.snapshot().to_json();
    let restarted = Sequencer::from_snapshot(Snapshot::from_json(&stored).unwrap());
    assert_eq!(restarted.seq(), server.seq());
    assert_eq!(restarted.board(), server.board());
    assert_eq!(restarted.ops_since(server.seq()).unwrap(), &[]);
    assert_eq!(restarted.ops_since(0), Err(BoardError::SeqTrimmed(2)));
}

#[test]
fn an_op_from_an_earlier_session_is_not_taken_for_ours() {
    let (mut server, _, page) = room();
    // The teacher's app restarted while its op 2 was still on the way to the relay: the new
    // session starts from a snapshot that does not have it and numbers its own op 2 too.
    let mut restarted = ClientBoard::new(peer("t"), server.snapshot());
    let old = BoardOp::new(peer("t"), 2, begin(&page));
    let (mine, _) = restarted
        .local(BoardAction::ClearPage { page: page.clone() })
        .unwrap();
    assert_eq!(mine.client_seq, 2);
    let (ordered, _) = server.submit(&peer("t"), Role::Teacher, old).unwrap();
    let ordered = ordered.clone();
    restarted.receive(&ordered).unwrap();
    assert!(matches!(
        server.submit(&peer("t"), Role::Teacher, mine),
        Err(BoardError::StaleOp { .. })
    ));
    assert_eq!(restarted.pending().count(), 0);
    assert_eq!(restarted.board(), server.board());
}

#[test]
fn a_number_the_relay_used_in_our_name_is_never_reused() {
    let (mut server, _, page) = room();
    server.permissions_mut().grant(peer("s"), GrantScope::Board);
    let mut student = ClientBoard::new(peer("s"), server.snapshot());
    let (begin_op, _) = student.local(begin(&page)).unwrap();
    let stroke = begin_op.id().shape_id();
    let (ordered, _) = server.submit(&peer("s"), Role::Student, begin_op).unwrap();
    let ordered = ordered.clone();
    student.receive(&ordered).unwrap();
    // The teacher takes the pen back mid-stroke: the relay lifts it in the student's name
    // with the student's next number.
    server.permissions_mut().revoke(&peer("s"));
    let lift = BoardOp::new(
        peer("s"),
        server.board().last_client_seq(&peer("s")) + 1,
        BoardAction::EndStroke {
            page: page.clone(),
            stroke,
        },
    );
    let (lifted, _) = server.submit(&peer("s"), Role::Teacher, lift).unwrap();
    let lifted = lifted.clone();
    student.receive(&lifted).unwrap();
    // Given the pen again, the student's next op goes through rather than as a repeat.
    server.permissions_mut().grant(peer("s"), GrantScope::Board);
    let (next, _) = student.local(begin(&page)).unwrap();
    assert_eq!(next.client_seq, lifted.client_seq + 1);
    assert!(server.submit(&peer("s"), Role::Student, next).is_ok());
}

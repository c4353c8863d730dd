//! A late joiner's snapshot plus the ops since it equals the relay's board, and both equal
//! replaying the whole log from an empty board.

mod common;

use common::{Intent, action, intent, peer};
use lectern_board::{Board, Sequencer, Snapshot};
use lectern_proto::{BoardAction, BoardOp, Role};
use proptest::prelude::*;

fn run(script: &[(usize, Intent)], cut: usize) -> (Sequencer, String) {
    let authors = [peer("t"), peer("u"), peer("v")];
    let mut seq = Sequencer::new();
    let add = BoardAction::AddPage {
        index: None,
        background: None,
    };
    seq.submit(
        &authors[0],
        Role::Teacher,
        BoardOp::new(authors[0].clone(), 1, add),
    )
    .unwrap();
    let mut snapshot = None;
    for (i, (a, intent)) in script.iter().enumerate() {
        if i == cut {
            snapshot = Some(seq.snapshot().to_json());
        }
        let who = &authors[*a];
        if let Some(act) = action(intent, seq.board(), who) {
            let n = seq.board().last_client_seq(who) + 1;
            // Several teachers, so that no op is refused for want of the pen.
            let _ = seq.submit(who, Role::Teacher, BoardOp::new(who.clone(), n, act));
        }
    }
    let snapshot = snapshot.unwrap_or_else(|| seq.snapshot().to_json());
    (seq, snapshot)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn snapshot_plus_ops_since_equals_full_replay(
        script in prop::collection::vec((0..3usize, intent()), 0..120),
        cut in 0..130usize,
    ) {
        let (seq, json) = run(&script, cut);
        let snapshot = Snapshot::from_json(&json).unwrap();
        let mut late = snapshot.board.clone();
        for op in seq.ops_since(snapshot.seq).unwrap() {
            late.apply(op).unwrap();
        }
        prop_assert_eq!(&late, seq.board());

        let mut replay = Board::new();
        for op in seq.ops_since(0).unwrap() {
            replay.apply(op).unwrap();
        }
        prop_assert_eq!(&replay, seq.board());

        let stored = Board::from_json(&seq.board().to_json()).unwrap();
        prop_assert_eq!(&stored, seq.board());
    }
}
